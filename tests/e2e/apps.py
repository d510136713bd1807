"""Apps written on the fly for end-to-end tests, with their expected outputs.

Every task mixes its name with its inputs through sha256, so an output is correct only if the
task ran on exactly the right inputs for that input id; the expected values come from running
the same functions in-process.
"""

from __future__ import annotations

import hashlib
import importlib.util
import random
from pathlib import Path

import yaml

TASK_CODE = """
import hashlib
from pathlib import Path


def mix(name: str, inputs: dict[str, Path], output: Path) -> None:
    digest = hashlib.sha256(name.encode())
    for upstream in sorted(inputs):
        digest.update(upstream.encode())
        digest.update(inputs[upstream].read_bytes())
    output.write_text(digest.hexdigest())
"""


def write_dag_app(
    root: Path,
    parents: dict[str, list[str]],
    feeds: dict[str, list[str]],
    samples: int = 3,
    estimate_seconds: float = 0.01,
    extra_code: str = "",
) -> Path:
    """An app whose tasks are `parents` (name -> parent names), fed by sources `feeds`."""
    root.mkdir(parents=True, exist_ok=True)
    code = TASK_CODE + extra_code
    for task in parents:
        code += f"\n\ndef {task}(inputs, output):\n    mix({task!r}, inputs, output)\n"
    (root / "tasks.py").write_text(code)
    sources = []
    for source, fed in feeds.items():
        folder = root / "samples" / source
        folder.mkdir(parents=True, exist_ok=True)
        for k in range(samples):
            (folder / f"{k}.txt").write_text(f"{source} sample {k}\n" * (k + 1))
        sources.append({"name": source, "feeds": fed, "inputs": [f"samples/{source}/*.txt"]})
    tasks = {
        task: {
            "python": f"tasks.py:{task}",
            "parents": list(task_parents),
            "estimate": {"seconds": estimate_seconds, "output_bytes": 64},
        }
        for task, task_parents in parents.items()
    }
    spec = {"name": root.name, "sources": sources, "tasks": tasks}
    (root / "app.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return root


def diamond(root: Path) -> Path:
    return write_dag_app(
        root,
        {"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"]},
        {"input": ["a"]},
    )


def layered(root: Path, tasks: int, seed: int = 1) -> Path:
    """`tasks` tasks in layers of 2-5, each with 1-3 parents in the layer above; two sources."""
    rng = random.Random(seed)
    parents: dict[str, list[str]] = {}
    layers: list[list[str]] = []
    while len(parents) < tasks:
        width = min(rng.randint(2, 5), tasks - len(parents))
        layer = [f"t{len(parents) + i:02d}" for i in range(width)]
        for task in layer:
            above = layers[-1] if layers else []
            parents[task] = sorted(rng.sample(above, min(len(above), rng.randint(1, 3))))
        layers.append(layer)
    # Every task in the first layer is fed; a second source joins in the second layer.
    first = layers[0]
    feeds = {"east": first, "west": [layers[1][0]]}
    return write_dag_app(root, parents, feeds)


def expected_outputs(app_root: Path, input_id: int) -> dict[str, str]:
    """Run the app's task functions in-process for one input id; the exit tasks' outputs."""
    spec = yaml.safe_load((app_root / "app.yaml").read_text())
    module_spec = importlib.util.spec_from_file_location("expected_tasks", app_root / "tasks.py")
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    produced: dict[str, bytes] = {}
    for source in spec["sources"]:
        files = sorted((app_root / "samples" / source["name"]).glob("*.txt"))
        produced[source["name"]] = files[input_id % len(files)].read_bytes()
    pending = dict(spec["tasks"])
    children: set[str] = set()
    while pending:
        for task, body in list(pending.items()):
            upstream = list(body["parents"]) + [
                s["name"] for s in spec["sources"] if task in s["feeds"]
            ]
            if all(name in produced for name in upstream):
                digest = hashlib.sha256(task.encode())
                for name in sorted(upstream):
                    digest.update(name.encode())
                    digest.update(produced[name])
                produced[task] = digest.hexdigest().encode()
                children.update(body["parents"])
                del pending[task]
    return {t: produced[t].decode() for t in spec["tasks"] if t not in children}
