"""Start one agent: `python -m jupiter.agent CONFIG.json`, the run token on stdin's first line.

Used where each agent is its own process (a Kubernetes pod, a run of `jupiter agent`); locally
the launcher forks them. The agent is a child subreaper: what its tasks detach with setsid is
adopted by it and killed when it exits.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path

from jupiter.agent.auth import TOKEN_ENV
from jupiter.agent.config import AgentConfig
from jupiter.agent.reaper import become_subreaper, stop_adopted
from jupiter.agent.server import run_agent
from jupiter.logs import configure


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m jupiter.agent CONFIG.json", file=sys.stderr)
        return 2
    # The token comes on stdin, not in the environment that the agent's tasks would inherit.
    os.environ.pop(TOKEN_ENV, None)
    token = sys.stdin.readline().strip()
    sys.stdin.close()
    if not token:
        print("agent: the run token must be the first line on stdin", file=sys.stderr)
        return 2
    config = AgentConfig.read(Path(argv[0]))
    configure(config.log_level, run_id=config.run_id, node=config.node)
    logging.getLogger("jupiter.agent").info("agent started (pid %d)", os.getpid())
    become_subreaper()
    try:
        asyncio.run(run_agent(config, token))
    finally:
        stop_adopted()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
