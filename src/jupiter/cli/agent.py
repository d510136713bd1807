"""`jupiter agent`: an agent started by hand, for `jupiter run --backend hosts`."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from jupiter.agent.standby import serve_standby
from jupiter.cli.tokens import create_token_file
from jupiter.errors import SpecError
from jupiter.logs import LEVELS, configure


def parse_listen(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise SpecError(None, "--listen", f"{text!r} is not HOST:PORT (a port from 1 to 65535)")
    return host.strip("[]"), int(port)


@click.command("agent")
@click.option("--listen", required=True, help="HOST:PORT to serve on, as cluster.yaml names it.")
@click.option(
    "--token-file",
    type=click.Path(path_type=Path),
    required=True,
    help="The run token; created (mode 600) if missing. Give the home the same file.",
)
@click.option(
    "--work-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Scratch folder for runs (default: a new temporary one, removed on exit).",
)
@click.option("--once", is_flag=True, help="Exit after serving one run.")
@click.option("--log-level", type=click.Choice(LEVELS), default="info", show_default=True)
def agent_command(
    listen: str, token_file: Path, work_dir: Path | None, once: bool, log_level: str
) -> None:
    """Serve runs of `jupiter run --backend hosts` on this machine, until stopped."""
    host, port = parse_listen(listen)
    token = create_token_file(token_file)
    configure(log_level, node=f"agent@{listen}")
    click.echo(f"jupiter agent: standby on {host}:{port} (token from {token_file})", err=True)
    asyncio.run(serve_standby(host, port, token, work_dir, once))
