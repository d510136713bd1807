"""Every route path served by an agent or the home, in one place.

Templates hold `{name}` placeholders in aiohttp's syntax, so the same constant both declares
a route and, through `fill`, builds the URL a client calls.
"""

from __future__ import annotations

from urllib.parse import quote

# -- every server ---------------------------------------------------------------------------
HEALTH = "/health"
# Paths that answer without the run token: liveness probes must work before anyone knows it.
PUBLIC = frozenset({HEALTH})
# Prometheus text (agents and the home); behind the token like every path but HEALTH.
METRICS = "/metrics"

# -- agent ----------------------------------------------------------------------------------
SHUTDOWN = "/shutdown"
# This node's emulated slowdowns (agent/emulation_control.py): GET reads, POST sets.
EMULATION = "/emulation"

# -- circe (agent; the home serves CIRCE_DATA too, for exit outputs) -------------------------
CIRCE_DEPLOY = "/circe/deploy"
CIRCE_DATA = "/circe/data/{input_id}/{producer}"
CIRCE_INJECT = "/circe/inject/{input_id}/{producer}"
CIRCE_STATS = "/circe/stats"
CIRCE_STATUS = "/circe/status"
CIRCE_LOGS = "/circe/logs"
# The executor role on this agent: GET reads whether it runs, POST starts or stops it
# (execution model `mapped`: only the nodes the mapping uses run one).
CIRCE_ROLE = "/circe/role"

# -- profiler (agent) -----------------------------------------------------------------------
PROFILER_NETWORK = "/profiler/network"
PROFILER_NETWORK_START = "/profiler/network/start"
PROFILER_NETWORK_MEASURE = "/profiler/network/measure"
PROFILER_NETWORK_PROBE = "/profiler/network/probe/{sender}"
PROFILER_RESOURCES = "/profiler/resources"
PROFILER_EXECUTION = "/profiler/execution"
PROFILER_EXECUTION_CHAIN = "/profiler/execution/chain"
PROFILER_EXECUTION_SHARE = "/profiler/execution/share"
PROFILER_EXECUTION_SAMPLE = "/profiler/execution/samples/{task}"
PROFILER_EXECUTION_RUN = "/profiler/execution/run"

# -- the WAVE mapper role (agent; agent/wave_role.py) ---------------------------------------
# The home starts a distributed WAVE (each agent snapshots its own link fits), then appoints
# the entry tasks' nodes; an appointed agent decides the children its task controls.
WAVE_START = "/wave/start"
WAVE_APPOINT = "/wave/appoint"

# -- home -----------------------------------------------------------------------------------
HOME_REGISTER = "/home/register"
HOME_EVENT = "/home/event"
HOME_HEARTBEAT = "/home/heartbeat"
HOME_PROFILE = "/home/profile"
# A change of emulated conditions, passed on to the agent concerned (controller/conditions.py).
HOME_EMULATION = "/home/emulation"
# The distributed WAVE's ledger (controller/wave_home.py): a decider waits for a child's turn
# and reads the announced load, then announces its appointment.
HOME_WAVE_TURN = "/home/wave/turn"
HOME_WAVE_ANNOUNCE = "/home/wave/announce"


def fill(template: str, **parts: object) -> str:
    """`template` with its placeholders replaced, each part percent-encoded as one segment."""
    return template.format(**{name: quote(str(value), safe="") for name, value in parts.items()})
