"""The one-way layer contract in pyproject.toml ([tool.importlinter]), run by import-linter:
it holds for this source tree, and it does fail when a lower layer imports a higher one."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONTRACT = "Layers go one way"


def lint_imports(config_dir: Path, source: Path) -> subprocess.CompletedProcess[str]:
    """Run this interpreter's `lint-imports` on config_dir's pyproject.toml, with `source`
    (a folder holding the `jupiter` package) first on the path."""
    script = Path(sys.executable).parent / "lint-imports"
    if not script.exists():
        pytest.fail(f"{script} missing: install the test extra (pip install -e '.[test]')")
    env = dict(os.environ, PYTHONPATH=str(source))
    return subprocess.run(
        [str(script), "--no-cache", "--no-logo", str(config_dir / "pyproject.toml")],
        cwd=config_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_source_keeps_its_layers() -> None:
    done = lint_imports(ROOT, ROOT / "src")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{CONTRACT} KEPT" in done.stdout


def test_an_upward_import_breaks_the_contract(tmp_path: Path) -> None:
    """The mapper (low) importing the CLI (the top layer), in a copy of the source."""
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(
        ROOT / "src" / "jupiter",
        tmp_path / "src" / "jupiter",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    heft = tmp_path / "src" / "jupiter" / "mapper" / "heft.py"
    heft.write_text(heft.read_text() + "\n\nimport jupiter.cli  # noqa: E402, F401\n")

    done = lint_imports(tmp_path, tmp_path / "src")
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"{CONTRACT} BROKEN" in done.stdout
    assert "jupiter.mapper.heft -> jupiter.cli" in done.stdout, done.stdout
