"""The `jupiter` command line. Subcommands live beside the code they drive and load lazily,
so `jupiter --help` stays fast and one subsystem's import cost never taxes another's."""

from __future__ import annotations

import importlib
import sys

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
    "k8s": "jupiter.cli.k8s:k8s_group",
    "profile": "jupiter.cli.profile:profile_command",
    "generate-app": "jupiter.cli.generate:generate_app_command",
    "import-wfcommons": "jupiter.cli.generate:import_wfcommons_command",
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


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="jupiter", standalone_mode=False)
    except JupiterError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(error.exit_code)
    except (KeyboardInterrupt, click.exceptions.Abort):
        # click turns Ctrl-C into Abort; by now every context manager has cleaned up.
        click.echo("interrupted: every agent was stopped", err=True)
        sys.exit(130)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)


if __name__ == "__main__":
    main()
