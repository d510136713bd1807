"""Fetching what every task run printed from the live agents, once, at the end of a run
(GET /circe/logs); `jupiter run --report DIR` writes them under DIR/logs/tasks/.

Logs are for people, not for the run: an agent that does not answer costs its logs (said in
the home's log), never the run. A lost agent's logs are lost with it."""

from __future__ import annotations

import asyncio
import logging

import aiohttp

from jupiter.api import paths
from jupiter.api.client import CallFailed, call
from jupiter.api.tasklogs import TaskLog, TaskLogs

log = logging.getLogger(__name__)

# Seconds one agent may take to answer: its logs are bounded (circe/tasklogs.py), so more
# means it is hung.
FETCH_TIMEOUT_S = 30.0


async def gather_task_logs(
    session: aiohttp.ClientSession,
    agents: dict[str, str],
    auth: dict[str, str],
    timeout: float = FETCH_TIMEOUT_S,
) -> list[TaskLog]:
    """Every log the agents at `agents` (node -> base URL) hold, by task, input and node."""

    async def fetch(node: str, url: str) -> list[TaskLog]:
        try:
            answer = await call(
                session, "GET", url + paths.CIRCE_LOGS, TaskLogs, auth, timeout=timeout, who=node
            )
        except CallFailed as error:
            log.warning("no task logs from agent %s: %s", node, error)
            return []
        return answer.logs

    per_node = await asyncio.gather(*(fetch(node, url) for node, url in agents.items()))
    logs = [entry for entries in per_node for entry in entries]
    return sorted(logs, key=lambda entry: (entry.task, entry.input_id, entry.node))
