"""The default WAN: the Jupiter paper's eight cloud regions and the links between them.

The paper ran on DigitalOcean droplets in San Francisco, New York, Toronto, Amsterdam, London,
Frankfurt, Singapore and Bangalore (regions sfo, nyc, tor, ams, lon, fra, sgp, blr). Measured
round-trip times between exactly those data centres are not published as a table, so the
RTTs below come from the nearest cloud that does publish one, region by region:

    Microsoft, "Azure network round-trip latency statistics" (learn.microsoft.com,
    azure/networking/azure-network-latency), the dataset "taken on July 30, 2026, covering
    the 30-day period ending on July 30, 2026": monthly P95 of 1-minute round-trip probes
    between Azure regions, integer milliseconds, one value per (source, destination).

    key  city           Azure region used         how close to the DigitalOcean city
    sfo  San Francisco  West US                   San Francisco Bay Area
    nyc  New York       East US                   Virginia, ~500 km from New York
    tor  Toronto        Canada Central            Toronto
    ams  Amsterdam      West Europe               Netherlands
    lon  London         UK South                  London
    fra  Frankfurt      Germany West Central      Frankfurt
    sgp  Singapore      Southeast Asia            Singapore
    blr  Bangalore      South India               Chennai, ~300 km from Bangalore

How approximate this is:
- The values are P95s, not medians: that snapshot publishes only P95. The same article's
  July 2023 edition published P50s for 21 of these 56 ordered pairs (the West US, Canada
  Central and South India columns); against those the P95s here differ by -9..+13 ms: 16 of
  the 21 within 10%, the worst New York -> Toronto (22 vs 18 ms), because backbone RTTs
  hardly vary. Treat them as medians good to about 10%, 20% for the shortest paths.
- They are Azure backbone RTTs; public-internet RTTs between droplets in the same cities are
  usually a little higher, and New York and Bangalore sit a few milliseconds from the Azure
  sites standing in for them.
- The table keeps both directions as published (row = source), so it is nearly, not exactly,
  symmetric (at most 11 ms apart: London <-> Bangalore).

Bandwidth: no public table gives per-flow throughput between these regions in the same form,
so it is modelled, not measured. A single TCP flow without loss moves at most one receive
window per round trip, and no faster than the machine's NIC:

    bandwidth = min(NIC_BYTES_PER_SECOND, TCP_WINDOW_BYTES / RTT)

with a 3 MiB window (Linux's default receive-buffer ceiling, net.ipv4.tcp_rmem max = 6 MiB,
of which tcp_adv_win_scale = 1 advertises half) and a 1 Gbit/s NIC (an assumed, common cloud
VM figure). This gives ~43 MB/s San Francisco <-> New York, ~13 MB/s New York <-> Bangalore
and the NIC rate inside Europe. Loss would lower these further (Mathis et al.); it is ignored.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Region:
    key: str
    name: str


DEFAULT_REGIONS: tuple[Region, ...] = (
    Region("sfo", "San Francisco"),
    Region("nyc", "New York"),
    Region("tor", "Toronto"),
    Region("ams", "Amsterdam"),
    Region("lon", "London"),
    Region("fra", "Frankfurt"),
    Region("sgp", "Singapore"),
    Region("blr", "Bangalore"),
)

# Round-trip ms from the row's region (source) to the column's region, transcribed from the
# CSV of the Azure article cited above (rows and columns as mapped in the module docstring).
# The diagonal is not from the article: see INTRA_REGION_RTT_MS.
_RTT_TABLE = """
        sfo   nyc   tor   ams   lon   fra   sgp   blr
  sfo     -    72    71   151   144   158   172   203
  nyc    74     -    22    89    80    97   229   244
  tor    70    21     -    92    83   101   226   248
  ams   153    91    93     -    13    14   182   174
  lon   144    80    84    12     -    20   183   174
  fra   157    97   100    14    19     -   179   169
  sgp   171   229   226   181   183   179     -    39
  blr   203   246   244   169   163   168    39     -
"""

# Two machines in one data centre: a typical same-zone VM-to-VM round trip (Azure's own
# table lists 0.1-0.3 ms within a zone; 0.5 ms allows for a virtual switch or two).
INTRA_REGION_RTT_MS = 0.5

TCP_WINDOW_BYTES = 3 * 1024 * 1024
NIC_BYTES_PER_SECOND = 1e9 / 8


def _parse_rtt_table(text: str) -> dict[tuple[str, str], float]:
    lines = [line.split() for line in text.strip().splitlines()]
    columns = lines[0]
    table: dict[tuple[str, str], float] = {}
    for row in lines[1:]:
        source, values = row[0], row[1:]
        for destination, value in zip(columns, values, strict=True):
            if value != "-":
                table[(source, destination)] = float(value)
    return table


DEFAULT_RTT_MS: dict[tuple[str, str], float] = _parse_rtt_table(_RTT_TABLE)


def default_rtt_ms(source: str, destination: str) -> float | None:
    """RTT between two default regions, the intra-region RTT for any one region, else None."""
    if source == destination:
        return INTRA_REGION_RTT_MS
    return DEFAULT_RTT_MS.get((source, destination))


def tcp_bandwidth(rtt_ms: float) -> float:
    """Bytes per second one loss-free TCP flow can sustain over a path with this RTT."""
    if rtt_ms <= 0:
        return NIC_BYTES_PER_SECOND
    return min(NIC_BYTES_PER_SECOND, TCP_WINDOW_BYTES / (rtt_ms / 1000.0))
