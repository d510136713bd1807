"""Apps and clusters for the profiler's end-to-end tests."""

from __future__ import annotations

from pathlib import Path

import yaml

# The four regions and their links, shared by the uneven clusters below and elsewhere.
UNEVEN_LINKS = """
regions: [{key: ra}, {key: rb}, {key: rc}, {key: rd}]
links:
  - {from: ra, to: ra, rtt_ms: 4, bandwidth_mbps: 400}
  - {from: rb, to: rb, rtt_ms: 4, bandwidth_mbps: 400}
  - {from: rc, to: rc, rtt_ms: 4, bandwidth_mbps: 400}
  - {from: rd, to: rd, rtt_ms: 4, bandwidth_mbps: 400}
  - {from: ra, to: rb, rtt_ms: 30, bandwidth_mbps: 200}
  - {from: ra, to: rc, rtt_ms: 80, bandwidth_mbps: 80}
  - {from: ra, to: rd, rtt_ms: 140, bandwidth_mbps: 40}
  - {from: rd, to: ra, rtt_ms: 160, bandwidth_mbps: 24}
  - {from: rb, to: rc, rtt_ms: 50, bandwidth_mbps: 160}
  - {from: rb, to: rd, rtt_ms: 100, bandwidth_mbps: 64}
  - {from: rc, to: rd, rtt_ms: 60, bandwidth_mbps: 32}
"""

# Four regions of two nodes; every link between regions has its own latency and bandwidth,
# one pair is asymmetric, and node speeds span 4x.
UNEVEN_CLUSTER = (
    """
nodes:
  - {name: a1, region: ra, speed: 1.0}
  - {name: a2, region: ra, speed: 0.5}
  - {name: b1, region: rb, speed: 1.0}
  - {name: b2, region: rb, speed: 0.25}
  - {name: c1, region: rc, speed: 0.8}
  - {name: c2, region: rc, speed: 1.0}
  - {name: d1, region: rd, speed: 1.0}
  - {name: d2, region: rd, speed: 0.5}
"""
    + UNEVEN_LINKS
)


# The tasks compute (spin on their thread's CPU clock) rather than sleep: an emulated node's
# speed stretches CPU time, and a sleep is a wait that no node speed shortens.
TASK_CODE = """
import time
from pathlib import Path


def spin(seconds):
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def load(inputs, output):
    spin(0.02)
    output.write_bytes(b"x" * 50_000)


def work(inputs, output):
    spin(0.01)
    output.write_bytes(inputs["load"].read_bytes()[:1000])


def nap(inputs, output):
    time.sleep(0.2)
    output.write_bytes(b"z")


def explode(inputs, output):
    raise ValueError("sensor offline")
"""


def write_app(
    root: Path,
    tasks: dict[str, list[str]],
    functions: dict[str, str] | None = None,
    pins: dict[str, str] | None = None,
    sample_bytes: int = 2000,
) -> Path:
    """tasks: name -> parents; the first task is fed by the source `input`."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "tasks.py").write_text(TASK_CODE)
    (root / "samples").mkdir(exist_ok=True)
    for k in range(2):
        (root / "samples" / f"{k}.bin").write_bytes(bytes([65 + k]) * sample_bytes)
    functions = functions or {}
    pins = pins or {}
    first = next(iter(tasks))
    source: dict[str, object] = {"name": "input", "feeds": [first], "inputs": ["samples/*.bin"]}
    if "input" in pins:
        source["node"] = pins["input"]
    spec = {
        "name": root.name,
        "sources": [source],
        "tasks": {
            name: {
                "python": f"tasks.py:{functions.get(name, name)}",
                "parents": parents,
                "estimate": {"seconds": 0.001, "output_bytes": 100},
                **({"node": pins[name]} if name in pins else {}),
            }
            for name, parents in tasks.items()
        },
    }
    (root / "app.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return root


def write_cluster(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
