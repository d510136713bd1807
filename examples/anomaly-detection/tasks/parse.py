"""parse_<site>: flow log text -> validated flow records (JSON)."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

FIELDS = ("start", "src", "sport", "dst", "dport", "proto", "packets", "bytes", "action")
ACTIONS = {"ACCEPT", "REJECT"}
PROTOCOLS = {"tcp", "udp", "icmp"}


def parse_line(line: str) -> list[object] | None:
    """One flow as [start, src, sport, dst, dport, proto, packets, bytes, action], or None."""
    parts = line.split()
    if len(parts) != 7:
        return None
    start, source, destination, proto, packets, size, action = parts
    try:
        src, sport = _endpoint(source)
        dst, dport = _endpoint(destination)
        record = [int(start), src, sport, dst, dport, proto, int(packets), int(size), action]
    except ValueError:
        return None
    if proto not in PROTOCOLS or action not in ACTIONS or record[6] < 0 or record[7] < 0:
        return None
    return record


def _endpoint(text: str) -> tuple[str, int]:
    address, _, port = text.rpartition(":")
    number = int(port)
    if not 0 <= number <= 65535:
        raise ValueError(port)
    return str(ipaddress.ip_address(address)), number


def parse(inputs: dict[str, Path], output: Path) -> None:
    # The single upstream is the source, and its name is the site's name.
    ((site, path),) = inputs.items()
    records, malformed = [], 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        record = parse_line(line)
        if record is None:
            malformed += 1
        else:
            records.append(record)
    output.write_text(
        json.dumps({"site": site, "fields": FIELDS, "records": records, "malformed": malformed})
    )
