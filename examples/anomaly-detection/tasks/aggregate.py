"""aggregate_<site>: flow records -> one feature row per (talker, minute).

The talker is the host that opened the flow. Only these rows leave the site, not the raw
flows: per-minute summaries are what the scorer needs and all a central node should see.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

WINDOW_SECONDS = 60


@dataclass
class Window:
    flows: int = 0
    bytes: int = 0
    rejected: int = 0
    ports: set[int] = field(default_factory=set)
    peers: set[str] = field(default_factory=set)


def aggregate(inputs: dict[str, Path], output: Path) -> None:
    ((_, path),) = inputs.items()
    parsed = json.loads(path.read_text())
    column = {name: i for i, name in enumerate(parsed["fields"])}
    windows: dict[tuple[str, int], Window] = {}
    for record in parsed["records"]:
        start = record[column["start"]] // WINDOW_SECONDS * WINDOW_SECONDS
        window = windows.setdefault((record[column["src"]], start), Window())
        window.flows += 1
        window.bytes += record[column["bytes"]]
        window.rejected += record[column["action"]] == "REJECT"
        window.ports.add(record[column["dport"]])
        window.peers.add(record[column["dst"]])
    rows = [
        {
            "host": host,
            "window": start,
            "flows": w.flows,
            "bytes": w.bytes,
            "ports": len(w.ports),
            "peers": len(w.peers),
            "rejected": w.rejected,
        }
        for (host, start), w in sorted(windows.items())
    ]
    summary = {
        "site": parsed["site"],
        "window_seconds": WINDOW_SECONDS,
        "flows": len(parsed["records"]),
        "malformed": parsed["malformed"],
        "rows": rows,
    }
    output.write_text(json.dumps(summary))
