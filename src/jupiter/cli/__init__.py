"""The `jupiter` command line. Subcommands live beside the code they drive and load lazily,
so `jupiter --help` stays fast and one subsystem's import cost never taxes another's."""

from __future__ import annotations

import contextlib
import importlib
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType

import click

from jupiter import __version__
from jupiter.errors import JupiterError

# name -> "module:attribute" of a click.Command
COMMANDS: dict[str, str] = {
    "agent": "jupiter.cli.agent:agent_command",
    "schedule": "jupiter.cli.schedule:schedule_command",
    "check": "jupiter.cli.check:check_command",
    "run": "jupiter.cli.run:run_command",
    "demo": "jupiter.cli.run:demo_command",
    "emulate": "jupiter.cli.emulate:emulate_group",
    "k8s": "jupiter.cli.k8s:k8s_group",
    "profile": "jupiter.cli.profile:profile_command",
    "generate-app": "jupiter.cli.generate:generate_app_command",
    "import-wfcommons": "jupiter.cli.generate:import_wfcommons_command",
    "logs": "jupiter.cli.logs:logs_command",
    "experiment": "jupiter.cli.experiment:experiment_group",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        command = getattr(importlib.import_module(module_name), attribute)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup)
@click.version_option(__version__, prog_name="jupiter")
def cli() -> None:
    """Jupiter: profile, map and stream DAG applications across dispersed compute nodes."""


# What `kill`, `timeout`, systemd, CI runners and a closed terminal send: each gets the same
# orderly teardown as Ctrl-C, and the shell's exit code for it (128 + signal number).
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
_stopped_by: list[signal.Signals] = []


def _stop_like_ctrl_c(signum: int, frame: FrameType | None) -> None:
    _stopped_by.append(signal.Signals(signum))
    # Whatever Ctrl-C would do now: inside asyncio.run, its handler cancels the main task (so
    # every `finally` and `async with` unwinds, agents stopped, work dir removed) and raises
    # KeyboardInterrupt once that is done; elsewhere, the default raises it at once.
    on_ctrl_c = signal.getsignal(signal.SIGINT)
    if callable(on_ctrl_c):
        on_ctrl_c(signal.SIGINT, frame)
    else:
        raise KeyboardInterrupt


def _stopped_line(stopped_by: list[signal.Signals]) -> tuple[str, int]:
    if not stopped_by:
        return "interrupted: every agent was stopped", 130
    first = stopped_by[0]
    return f"stopped by {first.name}: every agent was stopped", 128 + first.value


def main(argv: list[str] | None = None) -> None:
    _stopped_by.clear()
    with _stopping_like_ctrl_c():
        _main(argv)


@contextlib.contextmanager
def _stopping_like_ctrl_c() -> Iterator[None]:
    # Only the main thread may set handlers (a test may call main() from another); the
    # previous ones come back after, for a caller that goes on living (a test process).
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, _stop_like_ctrl_c) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _main(argv: list[str] | None) -> None:
    try:
        cli.main(args=argv, prog_name="jupiter", standalone_mode=False)
    except JupiterError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(error.exit_code)
    except (KeyboardInterrupt, click.exceptions.Abort):
        # click turns Ctrl-C into Abort; by now every context manager has cleaned up.
        line, code = _stopped_line(_stopped_by)
        # After SIGHUP the terminal may be gone: the exit code still says what happened.
        with contextlib.suppress(OSError):
            click.echo(line, err=True)
        sys.exit(code)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)


if __name__ == "__main__":
    main()
