"""The objects of one run on Kubernetes, as plain dicts in creation order.

    Namespace                      the run's own (Pod Security "restricted"); none when the
                                   user names an existing one, which is never deleted
    Secret        <run>-token      the run token, which agents and home all share (a file)
    Secret        <pod>-tls        with TLS (the default): one pod's key and certificate and
                                   the run CA's certificate, mounted by that pod only
    ConfigMap     <run>-config     app.json, cluster.json (the node map), run.json
    NetworkPolicy <run>-run-only   only this run's pods reach this run's pods' ports, and they
                                   reach only each other and DNS (unless egress is allowed)
    Service+Pod   <run>-agent-<n>  one agent per Jupiter node, pinned to its Kubernetes node
    Service+Job   <run>-home       the home: maps, dispatches, streams, prints the result

Why a Pod and a headless Service per agent rather than a DaemonSet: see docs/kubernetes.md.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from jupiter.api.tls import CA_FILE, CERT_FILE, KEY_FILE, RunCA
from jupiter.app.spec import App
from jupiter.cluster.spec import Cluster
from jupiter.errors import SpecError
from jupiter.k8s import names
from jupiter.k8s import settings as s

Manifest = dict[str, Any]

# A ConfigMap holds at most 1 MiB in all; keep room for metadata.
CONFIGMAP_DATA_LIMIT = 1_000_000
DEFAULT_DEADLINE_S = 6 * 3600
# docker reference grammar, simplified: [registry[:port]/]path[:tag][@digest]
_IMAGE = re.compile(
    r"^(?:[A-Za-z0-9.-]+(?::[0-9]+)?/)?"
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?"
    r"(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$"
)
_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$")


@dataclass(frozen=True)
class Resources:
    """Requests are what the scheduler reserves; limits are where the kubelet steps in."""

    cpu_request: str = "100m"
    cpu_limit: str = "1"
    memory_request: str = "128Mi"
    memory_limit: str = "1Gi"
    # emptyDir sizes: /work holds the data store (inputs and outputs in flight), /tmp the
    # task runner's scratch files.
    work_size: str = "2Gi"
    tmp_size: str = "512Mi"

    def check(self, role: str) -> None:
        for name, value in vars(self).items():
            if not _QUANTITY.match(value):
                raise SpecError(None, f"{role} {name}", f"{value!r} is not a Kubernetes quantity")


@dataclass(frozen=True)
class RenderOptions:
    image: str
    run_id: str
    token: str
    namespace: str
    settings: s.RunSettings = field(default_factory=s.RunSettings)
    agent: Resources = field(default_factory=Resources)
    home: Resources = field(default_factory=Resources)
    image_pull_policy: str = "IfNotPresent"
    # Pods stop by themselves after this long even if nobody tears the run down (None: six
    # hours, or longer if the settings' timeouts need it).
    deadline_s: int | None = None
    # False: the user named an existing namespace. It gets no Namespace object, so nothing
    # Jupiter renders or deletes can touch the namespace itself.
    own_namespace: bool = True
    # True: the run's pods may open connections anywhere (task code that downloads).
    allow_egress: bool = False
    # Mutual TLS between the run's pods: a CA made at render, a certificate per pod for its
    # Service's name, each pod's in a Secret of its own mounted as files.
    tls: bool = True

    @property
    def deadline(self) -> int:
        if self.deadline_s is not None:
            return self.deadline_s
        run = self.settings
        needed = run.register_timeout + run.timeout + run.inputs * run.interval + 600
        return max(DEFAULT_DEADLINE_S, int(needed))


def check_image(image: str) -> str:
    if not _IMAGE.match(image):
        raise SpecError(
            None,
            "--image",
            f"{image!r} is not an image reference like registry.example.com/team/app:1.0",
        )
    return image


def render(
    app: App, cluster: Cluster, options: RenderOptions, source: str = "cluster"
) -> list[Manifest]:
    """Every object of the run, in the order they must be created."""
    check_image(options.image)
    names.check_run_id(options.run_id)
    names.check_namespace(options.namespace)
    if options.image_pull_policy not in ("Always", "IfNotPresent", "Never"):
        raise SpecError(None, "image pull policy", "use Always, IfNotPresent or Never")
    if options.deadline < 1:
        raise SpecError(None, "deadline", "must be at least 1 second")
    options.agent.check("agent")
    options.home.check("home")
    hosts = _hosts(cluster, source)
    agents = _agent_names(options.run_id, cluster)
    home = names.home_name(options.run_id)
    return [
        *([namespace_object(options)] if options.own_namespace else []),
        _secret(options),
        *(_tls_secrets(options, [home, *agents.values()]) if options.tls else []),
        _config_map(app, cluster, options),
        _network_policy(options),
        *(
            manifest
            for node in cluster.node_names
            for manifest in _agent(options, node, hosts[node], agents[node])
        ),
        _home_service(options),
        _home_job(options),
    ]


# Pod Security Admission: every pod of the run already meets the "restricted" profile; the
# namespace Jupiter creates says so, so that nothing less can run in it.
POD_SECURITY_LABELS = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
}


def namespace_object(options: RenderOptions) -> Manifest:
    labels = {**names.run_labels(options.run_id), **POD_SECURITY_LABELS}
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": options.namespace, "labels": labels},
    }


def _hosts(cluster: Cluster, source: str) -> dict[str, str]:
    hosts: dict[str, str] = {}
    for i, node in enumerate(cluster.nodes):
        if node.host is None:
            raise SpecError(
                source,
                f"nodes[{i}].host",
                f"required on Kubernetes: the name of the Kubernetes node that runs {node.name!r}"
                " (kubectl get nodes)",
            )
        if len(node.host) > 253 or not re.match(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", node.host):
            raise SpecError(
                source, f"nodes[{i}].host", f"{node.host!r} is not a Kubernetes node name"
            )
        hosts[node.name] = node.host
    return hosts


def _agent_names(run_id: str, cluster: Cluster) -> dict[str, str]:
    result: dict[str, str] = {}
    seen: dict[str, str] = {}
    for node in cluster.node_names:
        name = names.agent_name(run_id, node)
        if name in seen:
            raise SpecError(
                None, "nodes", f"nodes {seen[name]!r} and {node!r} map to the same object name"
            )
        seen[name] = node
        result[node] = name
    return result


def _meta(options: RenderOptions, name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {"name": name, "namespace": options.namespace, "labels": labels}


def _secret(options: RenderOptions) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _meta(
            options, names.secret_name(options.run_id), names.run_labels(options.run_id)
        ),
        "type": "Opaque",
        # Immutable: the kubelet stops watching it, which matters with a hundred pods.
        "immutable": True,
        "stringData": {s.TOKEN_KEY: options.token},
    }


def _tls_secrets(options: RenderOptions, pods: list[str]) -> list[Manifest]:
    """One Secret per pod: the run CA's certificate, the pod's certificate for its Service's
    DNS name, its key. The CA's own key is dropped here: nothing can sign after render."""
    ca = RunCA.new(options.run_id)
    secrets = []
    for pod in pods:
        credentials = ca.issue(pod, [names.service_host(pod, options.namespace)])
        secrets.append(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": _meta(
                    options, names.tls_secret_name(pod), names.run_labels(options.run_id)
                ),
                "type": "Opaque",
                "immutable": True,
                "stringData": {
                    CA_FILE: credentials.ca_pem.decode(),
                    CERT_FILE: credentials.cert_pem.decode(),
                    KEY_FILE: credentials.key_pem.decode(),
                },
            }
        )
    return secrets


def _config_map(app: App, cluster: Cluster, options: RenderOptions) -> Manifest:
    data = {
        s.APP_KEY: json.dumps(app.to_dict(), indent=1, sort_keys=True) + "\n",
        s.CLUSTER_KEY: json.dumps(cluster.to_dict(), indent=1, sort_keys=True) + "\n",
        s.RUN_KEY: options.settings.to_json(),
    }
    size = sum(len(key) + len(value.encode()) for key, value in data.items())
    if size > CONFIGMAP_DATA_LIMIT:
        raise SpecError(
            None,
            "cluster",
            f"the app and cluster descriptions take {size} bytes, more than the "
            f"{CONFIGMAP_DATA_LIMIT} a ConfigMap can hold",
        )
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _meta(
            options, names.config_name(options.run_id), names.run_labels(options.run_id)
        ),
        "immutable": True,
        "data": data,
    }


def _network_policy(options: RenderOptions) -> Manifest:
    run_pods = {"matchLabels": {names.RUN_LABEL: options.run_id}}
    ports = [
        {"protocol": "TCP", "port": s.AGENT_PORT},
        {"protocol": "TCP", "port": s.HOME_PORT},
    ]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta(
            options, names.policy_name(options.run_id), names.run_labels(options.run_id)
        ),
        "spec": {
            # Selects every pod of the run, so each is reachable only from the run's own pods
            # (podSelector alone: same namespace) and only on the two Jupiter ports. The
            # kubelet's probes come from the node, which policies always allow.
            "podSelector": run_pods,
            "policyTypes": ["Ingress"] if options.allow_egress else ["Ingress", "Egress"],
            "ingress": [{"from": [{"podSelector": run_pods}], "ports": ports}],
            **({} if options.allow_egress else {"egress": _egress(run_pods, ports)}),
        },
    }


def _egress(run_pods: dict[str, Any], ports: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Out of a run's pods: to the run's own pods, and to the cluster DNS to find them."""
    dns = {"namespaceSelector": {}, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}
    return [
        {"to": [{"podSelector": run_pods}], "ports": ports},
        {
            "to": [dns],
            "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
        },
    ]


def _headless_service(
    options: RenderOptions,
    name: str,
    labels: dict[str, str],
    selector: dict[str, str],
    port: int,
    port_name: str,
) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(options, name, labels),
        "spec": {
            # Headless: DNS answers with the pod IP, so there is no virtual IP and no
            # kube-proxy rule per agent on every node.
            "clusterIP": "None",
            # The name resolves as soon as the pod has an IP. Peers are contacted only after
            # an agent has registered, which it does once it serves.
            "publishNotReadyAddresses": True,
            "selector": selector,
            "ports": [
                {"name": port_name, "port": port, "targetPort": port_name, "protocol": "TCP"}
            ],
        },
    }


def _agent(options: RenderOptions, node: str, host: str, name: str) -> list[Manifest]:
    run_id = options.run_id
    labels = {**names.role_labels(run_id, names.AGENT), names.AGENT_LABEL: name}
    selector = {names.RUN_LABEL: run_id, names.AGENT_LABEL: name}
    url = names.service_url(name, options.namespace, s.AGENT_PORT, options.tls)
    env = [
        _value(s.ENV_NODE, node),
        _value(s.ENV_PORT, str(s.AGENT_PORT)),
        _value(s.ENV_ADVERTISE_URL, url),
        _value(
            s.ENV_HOME_URL,
            names.service_url(names.home_name(run_id), options.namespace, s.HOME_PORT, options.tls),
        ),
    ]
    pod_spec = _pod_spec(options, name, "agent", s.AGENT_MODULE, s.AGENT_PORT, env, options.agent)
    pod_spec["affinity"] = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                # metadata.name, not the kubernetes.io/hostname label: the two differ on
                # some clouds, and `host` is the node's name.
                "nodeSelectorTerms": [
                    {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [host]}]}
                ]
            }
        }
    }
    # A lost agent loses its data store: the run must fail, not carry on with a new pod.
    pod_spec["restartPolicy"] = "Never"
    pod_spec["activeDeadlineSeconds"] = options.deadline
    metadata = _meta(options, name, labels)
    metadata["annotations"] = {names.NODE_ANNOTATION: node, names.HOST_ANNOTATION: host}
    return [
        _headless_service(options, name, labels, selector, s.AGENT_PORT, "agent"),
        {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": pod_spec},
    ]


def _home_service(options: RenderOptions) -> Manifest:
    run_id = options.run_id
    labels = names.role_labels(run_id, names.HOME)
    selector = {names.RUN_LABEL: run_id, names.ROLE_LABEL: names.HOME}
    return _headless_service(
        options, names.home_name(run_id), labels, selector, s.HOME_PORT, "home"
    )


def _home_job(options: RenderOptions) -> Manifest:
    run_id = options.run_id
    labels = names.role_labels(run_id, names.HOME)
    env = [
        _value(s.ENV_PORT, str(s.HOME_PORT)),
        _value(
            s.ENV_ADVERTISE_URL,
            names.service_url(names.home_name(run_id), options.namespace, s.HOME_PORT, options.tls),
        ),
    ]
    pod_spec = _pod_spec(
        options, names.home_name(run_id), "home", s.HOME_MODULE, s.HOME_PORT, env, options.home
    )
    pod_spec["restartPolicy"] = "Never"
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": _meta(options, names.home_name(run_id), labels),
        "spec": {
            # A run is not idempotent: its agents are single-use, so a failed home is final.
            "backoffLimit": 0,
            "activeDeadlineSeconds": options.deadline,
            "template": {"metadata": {"labels": labels}, "spec": pod_spec},
        },
    }


def _value(name: str, value: str) -> dict[str, Any]:
    return {"name": name, "value": value}


def _pod_spec(
    options: RenderOptions,
    pod: str,
    container: str,
    module: str,
    port: int,
    role_env: list[dict[str, Any]],
    resources: Resources,
) -> dict[str, Any]:
    env = [
        # The token as a file of the Secret's volume, not an environment variable: /proc of
        # every process of the pod would show the variable.
        _value(s.ENV_TOKEN_FILE, f"{s.TOKEN_DIR}/{s.TOKEN_KEY}"),
        *([_value(s.ENV_TLS_DIR, s.TLS_DIR)] if options.tls else []),
        _value(s.ENV_RUN_ID, options.run_id),
        _value(s.ENV_BIND, "0.0.0.0"),
        _value(s.ENV_CONFIG_DIR, s.CONFIG_DIR),
        _value(s.ENV_APP_ROOT, s.APP_ROOT),
        _value(s.ENV_WORK_DIR, s.WORK_DIR),
        _value("TMPDIR", s.TMP_DIR),
        *role_env,
    ]
    return {
        # Neither pod talks to the API server: no token to steal.
        "automountServiceAccountToken": False,
        # Otherwise every pod gets seven variables per Service in the namespace.
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": 10,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": s.RUN_AS_USER,
            "runAsGroup": s.RUN_AS_USER,
            "fsGroup": s.RUN_AS_USER,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [
            {
                "name": container,
                "image": options.image,
                "imagePullPolicy": options.image_pull_policy,
                "command": ["python", "-m", module],
                "env": env,
                "ports": [{"name": container, "containerPort": port, "protocol": "TCP"}],
                "readinessProbe": {
                    **_probe(options, container),
                    "periodSeconds": 2,
                    "failureThreshold": 3,
                },
                "livenessProbe": {
                    **_probe(options, container),
                    "initialDelaySeconds": 10,
                    "periodSeconds": 10,
                    "timeoutSeconds": 5,
                    "failureThreshold": 6,
                },
                "resources": {
                    "requests": {
                        "cpu": resources.cpu_request,
                        "memory": resources.memory_request,
                    },
                    "limits": {"cpu": resources.cpu_limit, "memory": resources.memory_limit},
                },
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "privileged": False,
                    "readOnlyRootFilesystem": True,
                    "runAsNonRoot": True,
                    "capabilities": {"drop": ["ALL"]},
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                "volumeMounts": [
                    {"name": "config", "mountPath": s.CONFIG_DIR, "readOnly": True},
                    {"name": "work", "mountPath": s.WORK_DIR},
                    {"name": "tmp", "mountPath": s.TMP_DIR},
                    {"name": "token", "mountPath": s.TOKEN_DIR, "readOnly": True},
                    *(
                        [{"name": "tls", "mountPath": s.TLS_DIR, "readOnly": True}]
                        if options.tls
                        else []
                    ),
                ],
            }
        ],
        "volumes": [
            {"name": "config", "configMap": {"name": names.config_name(options.run_id)}},
            {"name": "work", "emptyDir": {"sizeLimit": resources.work_size}},
            {"name": "tmp", "emptyDir": {"sizeLimit": resources.tmp_size}},
            _secret_volume("token", names.secret_name(options.run_id)),
            *([_secret_volume("tls", names.tls_secret_name(pod))] if options.tls else []),
        ],
    }


def _secret_volume(volume: str, secret: str) -> dict[str, Any]:
    return {
        "name": volume,
        "secret": {"secretName": secret, "defaultMode": s.SECRET_FILE_MODE},
    }


def _probe(options: RenderOptions, port: str) -> dict[str, Any]:
    """The kubelet's health check: GET /health, or with TLS a TCP connect (the kubelet has
    no certificate of the run, and the pod refuses any handshake without one)."""
    if options.tls:
        return {"tcpSocket": {"port": port}}
    return {"httpGet": {"path": "/health", "port": port}}
