"""Generate the synthetic flow logs in samples/ (run once; the output is committed).

    python make_samples.py

Three sites, three 10-minute samples each. Lines look like a trimmed cloud flow log:

    # start src:port dst:port proto packets bytes action
    1714557612 10.1.0.14:52344 142.250.72.14:443 tcp 12 8841 ACCEPT

Normal traffic: internal hosts calling web, DNS and NTP services, and outside clients
calling each site's web server. Planted in it (attackers use documentation addresses):

- in every sample, 198.51.100.23 port-scans two or three of the sites (a cross-site event);
- sample 0: 10.2.0.37 in frankfurt uploads ~2 GB to 203.0.113.77 (exfiltration);
- sample 1: 192.0.2.200 hammers ssh on a singapore host (brute force, mostly rejected);
- sample 2: 10.1.0.52 in oregon sends a burst of DNS queries to 203.0.113.53 (tunnelling).

A couple of lines per file are damaged on purpose, as real collectors produce.
The generator is seeded, so rerunning it reproduces the committed files exactly.
"""

from __future__ import annotations

import random
from pathlib import Path

SITES = {"oregon": "10.1.0", "frankfurt": "10.2.0", "singapore": "10.3.0"}
BASE_TIME = 1714557600  # 2024-05-01 10:00 UTC
SAMPLE_SECONDS = 600
SERVICES = [  # (address, port, proto, typical bytes)
    ("142.250.72.14", 443, "tcp", 9000),
    ("151.101.1.69", 443, "tcp", 25000),
    ("140.82.112.3", 443, "tcp", 14000),
    ("52.94.236.248", 443, "tcp", 6000),
    ("93.184.216.34", 80, "tcp", 3000),
    ("1.1.1.1", 53, "udp", 180),
    ("8.8.8.8", 53, "udp", 160),
    ("129.6.15.28", 123, "udp", 90),
]
SCANNER = "198.51.100.23"
SCANNED_SITES = [("oregon", "singapore"), ("frankfurt", "oregon"), tuple(SITES)]


def _flow(
    rng: random.Random,
    start: int,
    src: str,
    dst: str,
    dport: int,
    proto: str,
    size: float,
    action: str = "ACCEPT",
) -> tuple[int, str]:
    sport = rng.randint(32768, 60999)
    size = max(40, int(rng.lognormvariate(0, 0.6) * size))
    packets = max(1, size // rng.randint(600, 1400))
    return start, f"{start} {src}:{sport} {dst}:{dport} {proto} {packets} {size} {action}"


def _normal(rng: random.Random, prefix: str, t0: int) -> list[tuple[int, str]]:
    flows = []
    hosts = [f"{prefix}.{n}" for n in rng.sample(range(11, 60), 14)]
    for host in hosts:
        for _ in range(rng.randint(8, 16)):
            address, port, proto, size = rng.choice(SERVICES)
            start = t0 + rng.randrange(SAMPLE_SECONDS)
            flows.append(_flow(rng, start, host, address, port, proto, size))
    web = f"{prefix}.10"
    for _ in range(rng.randint(25, 40)):
        first = rng.choice([24, 73, 81, 99, 176, 188])
        client = ".".join(str(n) for n in (first, *(rng.randint(1, 254) for _ in range(3))))
        start = t0 + rng.randrange(SAMPLE_SECONDS)
        flows.append(_flow(rng, start, client, web, 443, "tcp", 4000))
    return flows


def _scan(rng: random.Random, prefix: str, t0: int) -> list[tuple[int, str]]:
    start = t0 + rng.randrange(60, SAMPLE_SECONDS - 120)
    target = f"{prefix}.{rng.randint(11, 60)}"
    ports = rng.sample(range(1, 1024), 45)
    return [
        _flow(rng, start + i // 3, SCANNER, target, port, "tcp", 60, "REJECT")
        for i, port in enumerate(ports)
    ]


def _exfiltration(rng: random.Random, prefix: str, t0: int) -> list[tuple[int, str]]:
    start = t0 + 300
    return [
        _flow(rng, start + 7 * i, f"{prefix}.37", "203.0.113.77", 443, "tcp", 2.5e8)
        for i in range(8)
    ]


def _brute_force(rng: random.Random, prefix: str, t0: int) -> list[tuple[int, str]]:
    start = t0 + 120
    target = f"{prefix}.22"
    return [
        _flow(
            rng, start + i, "192.0.2.200", target, 22, "tcp", 900, "REJECT" if i % 6 else "ACCEPT"
        )
        for i in range(36)
    ]


def _dns_tunnel(rng: random.Random, prefix: str, t0: int) -> list[tuple[int, str]]:
    start = t0 + 420
    return [
        _flow(rng, start + i // 2, f"{prefix}.52", "203.0.113.53", 53, "udp", 700)
        for i in range(70)
    ]


PLANTED = {
    (0, "frankfurt"): _exfiltration,
    (1, "singapore"): _brute_force,
    (2, "oregon"): _dns_tunnel,
}


def make_sample(site: str, k: int) -> str:
    rng = random.Random(f"{site}-{k}")
    prefix = SITES[site]
    t0 = BASE_TIME + 3600 * k
    flows = _normal(rng, prefix, t0)
    if site in SCANNED_SITES[k]:
        flows += _scan(rng, prefix, t0)
    planted = PLANTED.get((k, site))
    if planted:
        flows += planted(rng, prefix, t0)
    lines = [line for _, line in sorted(flows)]
    for _ in range(2):  # damaged records: a truncated line and a garbled one
        at = rng.randrange(len(lines))
        lines[at] = lines[at][: rng.randint(10, 30)]
    lines.insert(rng.randrange(len(lines)), "-- collector restarted --")
    header = (
        f"# site {site}, flow log sample {k}\n"
        "# start src:port dst:port proto packets bytes action\n"
    )
    return header + "\n".join(lines) + "\n"


def main() -> None:
    here = Path(__file__).resolve().parent
    for site in SITES:
        folder = here / "samples" / site
        folder.mkdir(parents=True, exist_ok=True)
        for k in range(3):
            (folder / f"flows-{k}.log").write_text(make_sample(site, k))


if __name__ == "__main__":
    main()
