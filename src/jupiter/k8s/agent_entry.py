"""The agent in its pod: `python -m jupiter.k8s.agent_entry`, configured by the manifest's
environment and the run's ConfigMap (see render.py), never by a per-node file: one shared
ConfigMap stays small at a hundred nodes where per-node configs would not. Like every
standalone agent it is a child subreaper, killing what its tasks detached when it exits."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from jupiter.agent.config import AgentConfig
from jupiter.agent.reaper import become_subreaper, stop_adopted
from jupiter.agent.server import run_agent
from jupiter.errors import JupiterError
from jupiter.k8s import settings as s
from jupiter.logs import configure


def agent_config() -> AgentConfig:
    config_dir = Path(s.env(s.ENV_CONFIG_DIR))
    run = s.RunSettings.model_validate(s.read_json(config_dir, s.RUN_KEY))
    return AgentConfig(
        run_id=s.env(s.ENV_RUN_ID),
        node=s.env(s.ENV_NODE),
        host=s.env(s.ENV_BIND),
        port=s.env_int(s.ENV_PORT),
        home_url=s.env(s.ENV_HOME_URL),
        advertise_url=s.env(s.ENV_ADVERTISE_URL),
        register_timeout_s=run.register_timeout,
        work_dir=Path(s.env(s.ENV_WORK_DIR)),
        app=s.read_json(config_dir, s.APP_KEY),
        app_root=Path(s.env(s.ENV_APP_ROOT)),
        cluster=s.read_json(config_dir, s.CLUSTER_KEY),
        tls=s.tls_files(),
    )


def main() -> int:
    try:
        config = agent_config()
        # From the Secret's file: never in the environment the agent's tasks inherit.
        token = s.read_token()
    except JupiterError as error:
        print(f"agent: {error}", file=sys.stderr)
        return 2
    configure(config.log_level, run_id=config.run_id, node=config.node)
    config.work_dir.mkdir(parents=True, exist_ok=True)
    # The root filesystem is read-only: a task writing to a relative path must land here.
    os.chdir(config.work_dir)
    become_subreaper()
    try:
        asyncio.run(run_agent(config, token))
    finally:
        stop_adopted()
    return 0


if __name__ == "__main__":
    sys.exit(main())
