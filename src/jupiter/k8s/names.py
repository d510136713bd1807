"""Names and labels of a run's Kubernetes objects.

Jupiter node names allow upper case, '_' and '.', which Kubernetes object names do not: such
a name is reduced to a DNS label and suffixed with a hash of the original, so two nodes never
share an object name however they are spelled.
"""

from __future__ import annotations

import hashlib
import re

from jupiter.errors import SpecError

# On every object of a run: teardown deletes by this label and nothing else.
RUN_LABEL = "jupiter.io/run"
ROLE_LABEL = "app.kubernetes.io/component"
AGENT_LABEL = "jupiter.io/agent"
BASE_LABELS = {"app.kubernetes.io/name": "jupiter", "app.kubernetes.io/managed-by": "jupiter"}
NODE_ANNOTATION = "jupiter.io/node"
HOST_ANNOTATION = "jupiter.io/host"

AGENT = "agent"
HOME = "home"

# On Kubernetes Nodes: which take part when no cluster.yaml is given, and their details.
PARTICIPATE_LABEL = "jupiter.io/node"
NAME_LABEL = "jupiter.io/name"
SPEED_LABEL = "jupiter.io/speed"
REGION_LABEL = "topology.kubernetes.io/region"
# A node's hardware class (profiler/classes.py): ours if set, else from the well-known labels
# the kubelet and the cloud provider set.
CLASS_LABEL = "jupiter.io/class"
INSTANCE_TYPE_LABEL = "node.kubernetes.io/instance-type"
ARCH_LABEL = "kubernetes.io/arch"

_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_RUN_ID = re.compile(r"^[a-z0-9]{1,16}$")
_MAX_NAME = 63


def run_labels(run_id: str) -> dict[str, str]:
    return {**BASE_LABELS, RUN_LABEL: run_id, "app.kubernetes.io/instance": run_id}


def role_labels(run_id: str, role: str) -> dict[str, str]:
    return {**run_labels(run_id), ROLE_LABEL: role}


def check_run_id(run_id: str) -> str:
    if not _RUN_ID.match(run_id):
        raise SpecError(None, "run id", f"{run_id!r}: use 1-16 lower-case letters and digits")
    return run_id


def check_namespace(namespace: str) -> str:
    if len(namespace) > _MAX_NAME or not re.match(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", namespace):
        raise SpecError(
            None,
            "--namespace",
            f"{namespace!r} is not a valid namespace: lower-case letters, digits and '-', "
            "at most 63, starting and ending with a letter or digit",
        )
    if namespace.startswith("kube-") or namespace == "default":
        raise SpecError(
            None,
            "--namespace",
            f"{namespace!r} belongs to the cluster itself: name a namespace of your own",
        )
    return namespace


def default_namespace(run_id: str) -> str:
    return f"jupiter-{run_id}"


def prefix(run_id: str) -> str:
    return f"jupiter-{run_id}"


def secret_name(run_id: str) -> str:
    return f"{prefix(run_id)}-token"


def config_name(run_id: str) -> str:
    return f"{prefix(run_id)}-config"


def policy_name(run_id: str) -> str:
    return f"{prefix(run_id)}-run-only"


def home_name(run_id: str) -> str:
    return f"{prefix(run_id)}-home"


def agent_name(run_id: str, node: str) -> str:
    """Pod and Service name of a node's agent: a DNS label (RFC 1035), unique per node."""
    head = f"{prefix(run_id)}-agent-"
    room = _MAX_NAME - len(head)
    if _DNS_LABEL.match(f"x{node}") and node == node.lower() and len(node) <= room - 7:
        return head + node
    digest = hashlib.sha256(node.encode()).hexdigest()[:6]
    slug = re.sub(r"[^a-z0-9-]+", "-", node.lower()).strip("-")[: room - 7].strip("-")
    return f"{head}{slug}-{digest}" if slug else f"{head}{digest}"


def service_host(name: str, namespace: str) -> str:
    # `.svc` without the cluster domain: it resolves through the pod's DNS search path, and
    # clusters do not all use cluster.local. A pod's TLS certificate names this host.
    return f"{name}.{namespace}.svc"


def service_url(name: str, namespace: str, port: int, tls: bool = False) -> str:
    return f"{'https' if tls else 'http'}://{service_host(name, namespace)}:{port}"


def tls_secret_name(pod_name: str) -> str:
    """The Secret holding one pod's TLS key and certificate: mounted by that pod only."""
    return f"{pod_name}-tls"
