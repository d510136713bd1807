"""Fixtures for the app package: writing small apps, running whole apps, process hygiene."""

from __future__ import annotations

import asyncio
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from jupiter.app.runner import TaskRunner
from jupiter.app.spec import App, load_app

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def examples() -> Path:
    return EXAMPLES


@pytest.fixture
def write_app(tmp_path: Path) -> Callable[..., App]:
    """write_app(yaml_text, {relative path: text}) -> the loaded App, in a fresh folder."""
    counter = iter(range(1000))

    def write(spec: str, files: dict[str, str] | None = None) -> App:
        root = tmp_path / f"app{next(counter)}"
        root.mkdir()
        (root / "app.yaml").write_text(textwrap.dedent(spec))
        for relative, text in (files or {}).items():
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text))
        return load_app(root)

    return write


async def run_app(app: App, k: int, workdir: Path) -> dict[str, Path]:
    """Run every task of `app` for input id k in topological order; returns name -> output."""
    outputs: dict[str, Path] = {}
    async with TaskRunner(app) as runner:
        for name in app.topological_order():
            inputs = {
                up: outputs[up] if up in app.tasks else app.input_for(up, k)
                for up in app.upstream(name)
            }
            outputs[name] = workdir / f"{k}" / f"{name}.out"
            await runner.run(name, inputs, outputs[name])
    return outputs


@pytest.fixture
def run_whole_app(tmp_path: Path) -> Callable[[App, int], dict[str, Path]]:
    return lambda app, k: asyncio.run(run_app(app, k, tmp_path / "run"))


@pytest.fixture(autouse=True)
def no_new_processes() -> Iterator[None]:
    """Every process a test starts must be gone (and reaped) when it ends."""
    me = psutil.Process()
    before = {p.pid for p in me.children(recursive=True)}
    yield
    deadline = time.monotonic() + 3
    while True:
        new = [p for p in me.children(recursive=True) if p.pid not in before]
        if not new or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not new, f"processes left behind: {[(p.pid, p.name()) for p in new]}"
