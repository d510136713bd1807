"""What the home's own requests cost on this host, measured before the stream starts.

The stream simulation (mapper/stream_sim.py) predicts tasks and links from the profile, but
an input also has to reach its sources' nodes and its outputs the home: one HTTP request
each, outside the emulated WAN. On one machine that is about a millisecond, as long as a
small task, so a prediction without it is short by that much on every input.

The home times a few requests carrying the first input to the agent that will take it
(the profiler's probe endpoint, which lands the home's bytes in a file and removes it, as
an injection lands them in the store). The median is the injection's cost, and the
delivery home is taken to cost the same: the same request, the other way.
"""

from __future__ import annotations

import logging
from pathlib import Path

import aiohttp

from jupiter.api import paths
from jupiter.circe.state import HOME
from jupiter.circe.transfer import TransferError
from jupiter.mapper.stream_sim import HostCosts
from jupiter.planning.host_requests import median_request

log = logging.getLogger(__name__)

# Timed requests after one untimed (its connection is set up then, as the stream's is).
HOST_PROBES = 5
# Above this size one timed request, and no untimed one, is enough: it is long next to the
# host's jitter and to setting up a connection, and every extra one costs the run its bytes.
LARGE_SAMPLE_BYTES = 1 << 20


async def measure_host_costs(
    session: aiohttp.ClientSession,
    agent_url: str,
    sample: Path,
    auth: dict[str, str],
    probes: int = HOST_PROBES,
) -> HostCosts:
    """The median of `probes` timed requests carrying `sample` to the agent at `agent_url`;
    no costs (and a warning) if the agent would not take them."""
    url = agent_url + paths.fill(paths.PROFILER_NETWORK_PROBE, sender=HOME)
    untimed = 1
    if sample.stat().st_size > LARGE_SAMPLE_BYTES:
        probes, untimed = 1, 0
    try:
        cost = await median_request(session, url, sample, auth, probes, untimed)
    except TransferError as error:
        log.warning("could not time the home's requests (%s): predicting without them", error)
        return HostCosts()
    log.info("the home's requests take %.2f ms on this host", cost * 1e3)
    return HostCosts(inject=cost, deliver=cost)
