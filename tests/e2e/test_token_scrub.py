"""The run token is out of reach of task code: not in a Python or command task's
environment, not in /proc of the task processes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import yaml

from jupiter.agent.auth import new_token
from jupiter.backends.local import LocalBackend
from jupiter.cluster.spec import Cluster
from jupiter.controller.run import RunOptions, run

CODE = """
import os
from pathlib import Path


def snoop(inputs, output):
    own = Path("/proc/self/environ").read_bytes().decode(errors="replace")
    parent = Path(f"/proc/{os.getppid()}/environ").read_bytes().decode(errors="replace")
    output.write_text("\\n".join([repr(dict(os.environ)), own, parent]))
"""


def test_no_task_can_read_the_run_token(tmp_path: Path) -> None:
    app = tmp_path / "app"
    (app / "samples").mkdir(parents=True)
    (app / "samples" / "0.txt").write_text("x\n")
    (app / "tasks.py").write_text(CODE)
    spec = {
        "name": "snoop",
        "sources": [{"name": "input", "feeds": ["py", "sh"], "inputs": ["samples/*.txt"]}],
        "tasks": {
            "py": {"python": "tasks.py:snoop"},
            # The command task's whole environment and its own /proc entry.
            "sh": {"command": "sh -c 'env; cat /proc/$$/environ' > {out}"},
        },
    }
    (app / "app.yaml").write_text(yaml.safe_dump(spec))
    token = new_token()
    options = RunOptions(
        app=app,
        cluster=Cluster.default(2),
        backend=LocalBackend(),
        inputs=1,
        profiling=False,
        token=token,
        out_dir=tmp_path / "out",
    )
    result = asyncio.run(run(options))
    for task in ("py", "sh"):
        seen = Path(result.outputs[0][task]).read_text()
        assert "PATH" in seen  # the environment really was captured
        assert token not in seen, task
        assert "JUPITER_TOKEN" not in seen, task
