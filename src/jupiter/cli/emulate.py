"""`jupiter emulate`: change a running run's emulated conditions (docs/emulation.md, Changing
conditions during a run). It finds the run through the run file `jupiter run` writes
(`--control`, default .jupiter/run.json) and asks its home, which passes the change on to
the agent concerned."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import click

from jupiter.agent.auth import auth_headers
from jupiter.api import paths
from jupiter.api.client import CallFailed, call
from jupiter.api.models import ConditionApplied, ConditionRequest
from jupiter.api.tls import TlsFiles
from jupiter.cluster.conditions import MAX_FACTOR
from jupiter.controller.run_file import DEFAULT_RUN_FILE, read_run_file
from jupiter.errors import RunError

# The home answers once the agent took the change: a number set, nothing to wait for.
REQUEST_TIMEOUT_S = 30.0

RUN_OPTION = click.option(
    "--run",
    "run_file",
    type=click.Path(path_type=Path),
    default=DEFAULT_RUN_FILE,
    show_default=True,
    help="The run file of the run to change (`jupiter run --control`).",
)
FACTOR_OPTION = click.option(
    "--factor",
    type=click.FloatRange(1.0, MAX_FACTOR),
    required=True,
    help="How many times slower (1 restores).",
)


@click.group("emulate")
def emulate_group() -> None:
    """Slow a node or a link of a running run, and restore it (needs emulation)."""


@emulate_group.command("slow")
@click.argument("node")
@FACTOR_OPTION
@RUN_OPTION
def slow_command(node: str, factor: float, run_file: Path) -> None:
    """NODE's compute FACTOR times slower."""
    _send(run_file, ConditionRequest(slow=node, factor=factor))


@emulate_group.command("slow-link")
@click.argument("source")
@click.argument("destination")
@FACTOR_OPTION
@RUN_OPTION
def slow_link_command(source: str, destination: str, factor: float, run_file: Path) -> None:
    """The link SOURCE -> DESTINATION FACTOR times slower (latency times it, bandwidth over)."""
    _send(run_file, ConditionRequest(slow_link=(source, destination), factor=factor))


@emulate_group.command("restore")
@click.argument("node")
@RUN_OPTION
def restore_command(node: str, run_file: Path) -> None:
    """NODE's compute back to its speed."""
    _send(run_file, ConditionRequest(restore=node))


@emulate_group.command("restore-link")
@click.argument("source")
@click.argument("destination")
@RUN_OPTION
def restore_link_command(source: str, destination: str, run_file: Path) -> None:
    """The link SOURCE -> DESTINATION back to the cluster's figures."""
    _send(run_file, ConditionRequest(restore_link=(source, destination)))


def _send(run_file: Path, change: ConditionRequest) -> None:
    run = read_run_file(run_file)
    applied = asyncio.run(_post(run.home_url, run.token, change, run.tls))
    click.echo(f"run {run.run_id}: {applied.change}")


async def _post(
    home_url: str, token: str, change: ConditionRequest, tls: TlsFiles | None
) -> ConditionApplied:
    # A home with TLS takes only clients with a certificate of its run: the home's own.
    connector = aiohttp.TCPConnector(ssl=tls.client_context() if tls is not None else True)
    async with aiohttp.ClientSession(connector=connector) as session:
        try:
            return await call(
                session,
                "POST",
                home_url + paths.HOME_EMULATION,
                ConditionApplied,
                auth_headers(token),
                change,
                REQUEST_TIMEOUT_S,
                "home",
            )
        except CallFailed as error:
            if error.status is None:
                raise RunError(f"the run's home did not answer: {error}") from None
            raise RunError(error.detail.strip() or str(error)) from None
