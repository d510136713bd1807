"""Start one agent: `python -m jupiter.agent CONFIG.json` with the run token in JUPITER_TOKEN.

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
    token = os.environ.get(TOKEN_ENV)
    if not token:
        print(f"agent: the run token must be given in {TOKEN_ENV}", file=sys.stderr)
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
