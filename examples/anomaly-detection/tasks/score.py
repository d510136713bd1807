"""score_<site>: feature rows -> anomalous rows, by robust z-score against the site's own traffic.

For each feature, z = (x - median) / (1.4826 * MAD), the median-based analogue of a
z-score that a few extreme rows cannot drag (Iglewicz and Hoaglin). Counts and byte totals
are heavy-tailed, so bytes and flows are scored on a log scale. A floor on the scale
keeps a feature that is almost always equal (e.g. zero rejections) from turning one small
deviation into an alarm. Only unusually high values count.
"""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

THRESHOLD = 5.0
# feature -> (transform, smallest scale allowed)
FEATURES = {
    "flows": (math.log1p, 0.5),
    "bytes": (math.log1p, 1.0),
    "ports": (float, 2.0),
    "peers": (float, 2.0),
    "rejected": (float, 2.0),
}


def robust_z(values: list[float], floor: float) -> list[float]:
    median = statistics.median(values)
    mad = statistics.median(abs(v - median) for v in values)
    scale = max(1.4826 * mad, floor)
    return [(v - median) / scale for v in values]


def score(inputs: dict[str, Path], output: Path) -> None:
    ((_, path),) = inputs.items()
    aggregated = json.loads(path.read_text())
    rows = aggregated["rows"]
    best: list[tuple[float, str]] = [(0.0, "")] * len(rows)
    medians: dict[str, float] = {}
    for feature, (transform, floor) in FEATURES.items():
        raw = [row[feature] for row in rows]
        if not raw:
            continue
        medians[feature] = statistics.median(raw)
        for i, z in enumerate(robust_z([transform(v) for v in raw], floor)):
            if z > best[i][0]:
                best[i] = (z, feature)
    anomalies = [
        {
            "site": aggregated["site"],
            "host": row["host"],
            "window": row["window"],
            "score": round(z, 2),
            "feature": feature,
            "value": row[feature],
            "typical": medians[feature],
        }
        for row, (z, feature) in zip(rows, best, strict=True)
        if z >= THRESHOLD
    ]
    anomalies.sort(key=lambda a: (-a["score"], a["host"], a["window"]))
    output.write_text(
        json.dumps(
            {
                "site": aggregated["site"],
                "flows": aggregated["flows"],
                "malformed": aggregated["malformed"],
                "talkers": len({row["host"] for row in rows}),
                "rows": len(rows),
                "threshold": THRESHOLD,
                "anomalies": anomalies,
            }
        )
    )
