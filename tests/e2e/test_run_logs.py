"""A failed run leaves the agents' logs under --report DIR/logs/, with run, node, task and
input as fields, and says where they are."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from .apps import write_dag_app


def broken_app(root: Path) -> Path:
    broken = "\n\ndef explode(inputs, output):\n    raise ValueError('sensor offline')\n"
    app = write_dag_app(root, {"a": [], "explode": ["a"]}, {"input": ["a"]}, extra_code=broken)
    code = (app / "tasks.py").read_text()
    code = code.replace("def explode(inputs, output):\n    mix('explode', inputs, output)\n", "")
    (app / "tasks.py").write_text(code)
    return app


def test_a_failed_run_keeps_every_agent_log(tmp_path: Path) -> None:
    report = tmp_path / "report"
    command = [sys.executable, "-m", "jupiter", "run", str(broken_app(tmp_path / "app"))]
    command += ["--nodes", "3", "--inputs", "2", "--no-profile", "--timeout", "60"]
    command += ["--report", str(report), "--out", str(tmp_path / "out"), "--log-level", "info"]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert f"agent logs: {report / 'logs'}" in done.stderr
    assert re.search(r"error: task 'explode' failed on node n\d+ for input \d", done.stderr)
    logs = sorted(p.name for p in (report / "logs").glob("*.log"))
    assert logs == ["n00.log", "n01.log", "n02.log"]
    # What the failing task printed is kept too, beside them (logs/tasks/, `jupiter logs`).
    printed = [p.read_text() for p in (report / "logs" / "tasks" / "explode").glob("*.err")]
    assert printed and all(text.endswith("ValueError: sensor offline\n") for text in printed)
    text = "\n".join((report / "logs" / name).read_text() for name in logs)
    # Every agent logged at info with its run id and node stamped on the line.
    for node in ("n00", "n01", "n02"):
        assert re.search(rf" INFO jupiter\.\S+ run=[0-9a-f]{{8}} node={node} ", text), node
