"""The home in its Job: `python -m jupiter.k8s.home_entry`.

It runs the same pipeline as `jupiter run` on a laptop (controller/run.py), except that the
agents are pods that register by themselves, and that everything the user should get back
(progress, the failure, report.json and the outputs) is written to its log: see
logchannel.py for why and how.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import traceback
from pathlib import Path
from types import FrameType
from typing import Any

from jupiter.app.spec import load_app
from jupiter.backends.kubernetes import KubernetesBackend
from jupiter.cluster.spec import Cluster
from jupiter.controller.run import RunOptions, run
from jupiter.errors import JupiterError, SpecError
from jupiter.k8s import settings as s
from jupiter.k8s.logchannel import error_line, progress_line, result_lines
from jupiter.progress import Progress
from jupiter.report.report import build_report


class LogProgress(Progress):
    """Progress as log lines; repeats of the same count are dropped."""

    def __init__(self) -> None:
        self.done: int | None = None

    def phase(self, name: str, total: int) -> None:
        self.done = None
        _say(progress_line(phase=name, total=total))

    def advance(self, done: int) -> None:
        if done != self.done:
            self.done = done
            _say(progress_line(done=done))


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def home_options() -> tuple[RunOptions, s.RunSettings]:
    config_dir = Path(s.env(s.ENV_CONFIG_DIR))
    app_root = Path(s.env(s.ENV_APP_ROOT))
    settings = s.RunSettings.model_validate(s.read_json(config_dir, s.RUN_KEY))
    app = load_app(app_root)
    # The agents build the app from app.json; the image must hold that same app.
    difference = _first_difference(
        json.loads(json.dumps(app.to_dict())), s.read_json(config_dir, s.APP_KEY)
    )
    if difference is not None:
        raise SpecError(
            app_root / "app.yaml",
            difference,
            "the app in the image differs from the app the run was started with; "
            "rebuild and push the app image",
        )
    cluster = Cluster.from_dict(s.read_json(config_dir, s.CLUSTER_KEY), s.CLUSTER_KEY)
    options = RunOptions(
        app=app_root,
        cluster=cluster,
        backend=KubernetesBackend(),
        mapper=settings.mapper,
        profiling=settings.profiling,
        inputs=settings.inputs,
        out_dir=Path(s.env(s.ENV_WORK_DIR)) / "out",
        interval=settings.interval,
        max_in_flight=settings.max_in_flight,
        timeout=settings.timeout,
        home_bind=s.env(s.ENV_BIND),
        home_port=s.env_int(s.ENV_PORT),
        home_url=s.env(s.ENV_ADVERTISE_URL),
        run_id=s.env(s.ENV_RUN_ID),
        token=s.read_token(),
        tls=s.tls_files() or False,
        register_timeout=settings.register_timeout,
    )
    return options, settings


def _first_difference(ours: Any, theirs: Any, path: str = "") -> str | None:
    if isinstance(ours, dict) and isinstance(theirs, dict):
        for key in sorted(set(ours) | set(theirs), key=str):
            found = _first_difference(
                ours.get(key), theirs.get(key), f"{path}.{key}" if path else str(key)
            )
            if found is not None:
                return found
        return None
    return None if ours == theirs else (path or "app")


def _terminate(signum: int, frame: FrameType | None) -> None:
    # The home is PID 1 in its container, where SIGTERM does nothing unless handled: turn it
    # into the same unwinding as Ctrl-C, which stops the agents on the way out.
    raise KeyboardInterrupt


def main() -> int:
    signal.signal(signal.SIGTERM, _terminate)
    try:
        options, settings = home_options()
        result = asyncio.run(run(options, LogProgress()))
        report = build_report(result, options.mapper)
        assert options.out_dir is not None
        for line in result_lines(report.document(), options.out_dir, settings.result_limit_bytes):
            _say(line)
    except JupiterError as error:
        _say(error_line(str(error)))
        return error.exit_code
    except KeyboardInterrupt:
        _say(error_line("the home was stopped before the run finished"))
        return 143
    except Exception as error:
        traceback.print_exc()
        _say(error_line(f"internal error in the home: {type(error).__name__}: {error}"))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
