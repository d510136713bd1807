"""merge: the per-site scores -> one report (JSON) for the operator.

A host flagged at two or more sites is called out separately: one site alone sees only
its share of a scan or campaign, the report is where the sites' views meet.
"""

from __future__ import annotations

import json
from pathlib import Path

TOP = 25


def merge(inputs: dict[str, Path], output: Path) -> None:
    scored = [json.loads(path.read_text()) for path in inputs.values()]
    scored.sort(key=lambda site: site["site"])
    anomalies = [a for site in scored for a in site["anomalies"]]
    anomalies.sort(key=lambda a: (-a["score"], a["site"], a["host"], a["window"]))
    seen_at: dict[str, set[str]] = {}
    for anomaly in anomalies:
        seen_at.setdefault(anomaly["host"], set()).add(anomaly["site"])
    report = {
        "verdict": "alert" if anomalies else "normal",
        "sites": {
            site["site"]: {
                "flows": site["flows"],
                "malformed": site["malformed"],
                "talkers": site["talkers"],
                "anomalies": len(site["anomalies"]),
            }
            for site in scored
        },
        "multi_site_hosts": [
            {
                "host": host,
                "sites": sorted(sites),
                "max_score": max(a["score"] for a in anomalies if a["host"] == host),
            }
            for host, sites in sorted(seen_at.items())
            if len(sites) > 1
        ],
        "flagged_hosts": sorted(seen_at),
        "top_anomalies": anomalies[:TOP],
    }
    output.write_text(json.dumps(report, indent=2) + "\n")
