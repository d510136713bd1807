"""The rendered manifests: valid for Kubernetes 1.30..1.37 in strict mode (every object, for
every example app and for a 106-node cluster), and saying what the design says they say."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from k8s_helpers import EXAMPLE_APPS, EXAMPLES, hosted_cluster
from kubernetes_validate import utils

from jupiter.api.tls import url_host
from jupiter.app.spec import App, load_app
from jupiter.cluster.spec import Cluster, NodeSpec
from jupiter.errors import SpecError
from jupiter.k8s import render as render_module
from jupiter.k8s.manifest_files import write_manifests
from jupiter.k8s.names import agent_name
from jupiter.k8s.render import RenderOptions, render
from jupiter.k8s.settings import RunSettings

RUN = "r4nd0m1d"
TOKEN = "the-run-token"
# Every Kubernetes minor release from 1.30 to 1.37 the installed kubernetes-validate has
# schemas for (1.37.0 ships all eight).
VERSIONS = [
    f"1.{minor}"
    for minor in sorted({int(v.split(".")[1]) for v in utils.all_versions() if v.startswith("1.")})
    if 30 <= minor <= 37
]


def options(**overrides: Any) -> RenderOptions:
    fields: dict[str, Any] = {
        "image": "registry.example.com/team/app:1.0",
        "run_id": RUN,
        "token": TOKEN,
        "namespace": f"jupiter-{RUN}",
        "settings": RunSettings(inputs=7, mapper="cpop"),
    }
    return RenderOptions(**{**fields, **overrides})


def rendered(app_dir: Path, nodes: int) -> list[dict[str, Any]]:
    return render(load_app(app_dir), hosted_cluster(nodes), options())


CASES = [(app.name, app, 3) for app in EXAMPLE_APPS] + [
    ("anomaly-detection on 106 nodes", EXAMPLES / "anomaly-detection", 106)
]


def pod_specs(objects: list[dict[str, Any]]) -> list[tuple[dict[str, str], dict[str, Any]]]:
    """(labels, spec) of every pod the objects make: the Pods and the Job's template."""
    specs = [(o["metadata"]["labels"], o["spec"]) for o in objects if o["kind"] == "Pod"]
    for job in (o for o in objects if o["kind"] == "Job"):
        template = job["spec"]["template"]
        specs.append((template["metadata"]["labels"], template["spec"]))
    return specs


def test_the_versions_under_test_are_1_30_to_1_37() -> None:
    assert [f"1.{minor}" for minor in range(30, 38)] == VERSIONS


@pytest.mark.parametrize(("case", "app_dir", "nodes"), CASES, ids=[c[0] for c in CASES])
def test_every_object_passes_strict_validation_for_every_version(
    case: str, app_dir: Path, nodes: int, fast_schemas: None
) -> None:
    objects = rendered(app_dir, nodes)
    # Shared 4, a Service and a Pod per agent, the home's two, a TLS Secret per pod.
    assert len(objects) == 4 + 2 * nodes + 2 + (nodes + 1)
    # Through YAML, as kubectl would read the files.
    for document in yaml.safe_load_all(yaml.safe_dump_all(objects)):
        for version in VERSIONS:
            kubernetes_validate.validate(document, version, strict=True)


def test_strict_validation_rejects_what_the_schemas_do_not_allow(fast_schemas: None) -> None:
    # The check above can fail: the same schemas refuse an unknown field and a wrong type.
    pod = next(o for o in rendered(EXAMPLES / "diamond", 1) if o["kind"] == "Pod")
    unknown = json.loads(json.dumps(pod))
    unknown["spec"]["containers"][0]["securityContext"]["readOnlyRootFilesytem"] = True
    wrong_type = json.loads(json.dumps(pod))
    wrong_type["spec"]["securityContext"]["runAsNonRoot"] = "yes"
    for broken in (unknown, wrong_type):
        with pytest.raises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(broken, VERSIONS[0], strict=True)


def test_every_object_carries_the_run_label_and_lives_in_the_namespace() -> None:
    for obj in rendered(EXAMPLES / "diamond", 3):
        assert obj["metadata"]["labels"]["jupiter.io/run"] == RUN, obj["kind"]
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == f"jupiter-{RUN}"
    job = next(o for o in rendered(EXAMPLES / "diamond", 3) if o["kind"] == "Job")
    assert job["spec"]["template"]["metadata"]["labels"]["jupiter.io/run"] == RUN


def test_one_agent_per_node_pinned_to_its_host_each_with_its_own_service() -> None:
    cluster = hosted_cluster(8)
    objects = render(load_app(EXAMPLES / "diamond"), cluster, options())
    pods = [o for o in objects if o["kind"] == "Pod"]
    services = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Service"}
    assert len(pods) == 8
    for node, pod in zip(cluster.nodes, pods, strict=True):
        assert pod["metadata"]["annotations"]["jupiter.io/node"] == node.name
        terms = pod["spec"]["affinity"]["nodeAffinity"][
            "requiredDuringSchedulingIgnoredDuringExecution"
        ]["nodeSelectorTerms"]
        assert terms == [
            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node.host]}]}
        ]
        assert pod["spec"]["restartPolicy"] == "Never"
        env = {e["name"]: e.get("value") for e in pod["spec"]["containers"][0]["env"]}
        assert env["JUPITER_NODE"] == node.name
        name = pod["metadata"]["name"]
        assert env["JUPITER_ADVERTISE_URL"] == f"https://{name}.jupiter-{RUN}.svc:7100"
        assert env["JUPITER_HOME_URL"] == f"https://jupiter-{RUN}-home.jupiter-{RUN}.svc:7000"
        # Its Service selects this pod and no other pod of the run.
        selector = services[name]["spec"]["selector"]
        selected = [
            p for p, _ in pod_specs(objects) if all(p.get(k) == v for k, v in selector.items())
        ]
        assert selected == [pod["metadata"]["labels"]]
        assert services[name]["spec"]["clusterIP"] == "None"
        assert services[name]["spec"]["publishNotReadyAddresses"] is True


def test_every_pod_is_locked_down_probed_and_bounded() -> None:
    objects = rendered(EXAMPLES / "wordcount-shell", 3)
    specs = pod_specs(objects)
    assert len(specs) == 4
    for labels, spec in specs:
        if labels["app.kubernetes.io/component"] == "agent":
            assert spec["activeDeadlineSeconds"] >= 6 * 3600
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] > 0
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert spec["automountServiceAccountToken"] is False
        assert spec["enableServiceLinks"] is False
        (container,) = spec["containers"]
        context = container["securityContext"]
        assert context["readOnlyRootFilesystem"] is True
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"] == {"drop": ["ALL"]}
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}
        volumes = {v["name"]: v for v in spec["volumes"]}
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        assert "emptyDir" in volumes[mounts["/work"]] and "emptyDir" in volumes[mounts["/tmp"]]
        assert volumes[mounts["/etc/jupiter"]]["configMap"]["name"] == f"jupiter-{RUN}-config"
        for kind in ("requests", "limits"):
            assert set(container["resources"][kind]) == {"cpu", "memory"}
        ports = {p["name"] for p in container["ports"]}
        for probe in ("readinessProbe", "livenessProbe"):
            # TLS asks every client for a certificate of the run, which the kubelet has not.
            assert container[probe]["tcpSocket"]["port"] in ports
    job = next(o for o in objects if o["kind"] == "Job")
    assert job["spec"]["backoffLimit"] == 0
    assert job["spec"]["activeDeadlineSeconds"] >= 6 * 3600


def test_the_network_policy_admits_only_the_runs_pods_on_jupiters_ports() -> None:
    objects = rendered(EXAMPLES / "diamond", 3)
    (policy,) = [o for o in objects if o["kind"] == "NetworkPolicy"]
    spec = policy["spec"]
    own = {"matchLabels": {"jupiter.io/run": RUN}}
    assert spec["podSelector"] == own
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    ports = [{"protocol": "TCP", "port": 7100}, {"protocol": "TCP", "port": 7000}]
    assert spec["ingress"] == [{"from": [{"podSelector": own}], "ports": ports}]
    # Out: only to the run's own pods, and to the cluster's DNS to find them.
    dns = {"namespaceSelector": {}, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}
    assert spec["egress"] == [
        {"to": [{"podSelector": own}], "ports": ports},
        {"to": [dns], "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]},
    ]
    for labels, _ in pod_specs(objects):
        assert labels["jupiter.io/run"] == RUN  # so the policy covers every pod


def test_egress_can_be_allowed_for_tasks_that_download() -> None:
    app = load_app(EXAMPLES / "diamond")
    objects = render(app, hosted_cluster(3), options(allow_egress=True))
    (policy,) = [o for o in objects if o["kind"] == "NetworkPolicy"]
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    assert "egress" not in policy["spec"]


def test_a_namespace_jupiter_creates_enforces_the_restricted_pod_security_profile() -> None:
    (namespace, *_) = rendered(EXAMPLES / "diamond", 3)
    assert namespace["kind"] == "Namespace"
    labels = namespace["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert labels["jupiter.io/run"] == RUN


def test_a_namespace_of_the_users_gets_no_namespace_object() -> None:
    app = load_app(EXAMPLES / "diamond")
    objects = render(app, hosted_cluster(3), options(namespace="team-prod", own_namespace=False))
    assert "Namespace" not in {o["kind"] for o in objects}
    assert {o["metadata"]["namespace"] for o in objects} == {"team-prod"}


@pytest.mark.parametrize("namespace", ["kube-system", "kube-public", "default"])
def test_the_clusters_own_namespaces_are_refused(namespace: str) -> None:
    with pytest.raises(SpecError, match=f"--namespace: '{namespace}' belongs to the cluster"):
        render(load_app(EXAMPLES / "diamond"), hosted_cluster(3), options(namespace=namespace))


def test_an_image_by_digest_is_accepted() -> None:
    image = "registry.example.com/team/app@sha256:" + "ab" * 32
    objects = render(load_app(EXAMPLES / "diamond"), hosted_cluster(3), options(image=image))
    images = {c["image"] for _, spec in pod_specs(objects) for c in spec["containers"]}
    assert images == {image}


def test_secret_and_config_map_carry_the_token_the_app_and_the_node_map() -> None:
    app = load_app(EXAMPLES / "anomaly-detection")
    cluster = hosted_cluster(5)
    objects = render(app, cluster, options())
    (secret,) = [o for o in objects if o["metadata"]["name"] == f"jupiter-{RUN}-token"]
    assert secret["stringData"] == {"token": TOKEN}
    assert secret["immutable"] is True
    (config,) = [o for o in objects if o["kind"] == "ConfigMap"]
    data = config["data"]
    assert App.from_dict(json.loads(data["app.json"]), "/app").to_dict() == app.to_dict()
    assert Cluster.from_dict(json.loads(data["cluster.json"])) == cluster
    assert RunSettings.model_validate_json(data["run.json"]) == RunSettings(inputs=7, mapper="cpop")


def test_awkward_node_names_become_distinct_dns_labels() -> None:
    nodes = ["Edge_7", "edge-7", "edge.7", "EDGE-7", "a" * 63, "b" * 33, "n01"]
    names = [agent_name(RUN, node) for node in nodes]
    assert len(set(names)) == len(nodes)
    for name in names:
        assert len(name) <= 63
        assert name == name.lower() and name[0].isalpha() and name[-1].isalnum()
        assert set(name) <= set("abcdefghijklmnopqrstuvwxyz0123456789-")
    assert names[1] == f"jupiter-{RUN}-agent-edge-7"
    assert names[-1] == f"jupiter-{RUN}-agent-n01"
    cluster = Cluster(
        nodes=[NodeSpec(name=n, region="sfo", host=f"h{i}") for i, n in enumerate(nodes)],
        emulate=False,
    )
    objects = render(load_app(EXAMPLES / "diamond"), cluster, options())
    assert [o["metadata"]["name"] for o in objects if o["kind"] == "Pod"] == names


def test_a_node_without_a_host_names_file_and_field() -> None:
    cluster = Cluster(
        nodes=[NodeSpec(name="a", region="sfo", host="h"), NodeSpec(name="b", region="sfo")]
    )
    with pytest.raises(SpecError) as error:
        render(load_app(EXAMPLES / "diamond"), cluster, options(), "cluster.yaml")
    assert str(error.value).startswith("cluster.yaml: nodes[1].host: required on Kubernetes")


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"image": "Registry Example/app"}, "--image"),
        ({"image": ""}, "--image"),
        ({"namespace": "Team_A"}, "--namespace"),
        ({"run_id": "Bad-Id"}, "run id"),
        ({"deadline_s": 0}, "deadline"),
        ({"agent": render_module.Resources(memory_limit="lots")}, "agent memory_limit"),
    ],
)
def test_bad_options_are_one_line_naming_the_option(override: dict[str, Any], field: str) -> None:
    with pytest.raises(SpecError) as error:
        render(load_app(EXAMPLES / "diamond"), hosted_cluster(2), options(**override))
    assert error.value.field == field
    assert "\n" not in str(error.value)


def test_a_config_map_over_the_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render_module, "CONFIGMAP_DATA_LIMIT", 2000)
    with pytest.raises(SpecError, match="more than the 2000 a ConfigMap can hold"):
        render(load_app(EXAMPLES / "diamond"), hosted_cluster(2), options())


def test_files_apply_in_order_keep_the_token_private_and_read_back_the_same(
    tmp_path: Path,
) -> None:
    objects = rendered(EXAMPLES / "diamond", 3)
    paths = write_manifests(objects, tmp_path / "out")
    assert [p.name for p in paths] == sorted(p.name for p in paths)
    assert paths[0].name == "00-namespace.yaml"
    back = [doc for p in paths for doc in yaml.safe_load_all(p.read_text())]
    assert sorted(map(json.dumps, back)) == sorted(map(json.dumps, objects))
    for path in paths:
        assert "&id" not in path.read_text()  # no YAML anchors
        mode = path.stat().st_mode & 0o777
        assert mode == (0o600 if path.name == "01-secret.yaml" else 0o644), path.name
    kinds = [doc["kind"] for doc in back]
    assert kinds.index("NetworkPolicy") < kinds.index("Pod") < kinds.index("Job")


def _secret_files(objects: list[dict[str, Any]], spec: dict[str, Any], path: str) -> dict[str, str]:
    """The files a pod sees under mount `path`: its Secret volume's keys."""
    (container,) = spec["containers"]
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == path]
    assert mount["readOnly"] is True
    (volume,) = [v for v in spec["volumes"] if v["name"] == mount["name"]]
    assert volume["secret"]["defaultMode"] == 0o440  # the pod's group (fsGroup), no others
    secrets = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Secret"}
    return dict(secrets[volume["secret"]["secretName"]]["stringData"])


def test_the_token_and_each_pods_tls_key_are_secret_files_never_environment() -> None:
    objects = rendered(EXAMPLES / "diamond", 3)
    token = next(o for o in objects if o["metadata"]["name"] == f"jupiter-{RUN}-token")
    cas = set()
    for _, spec in pod_specs(objects):
        (container,) = spec["containers"]
        env = {e["name"]: e for e in container["env"]}
        # No variable carries a secret: every one is a plain value, none the token's.
        assert all(set(e) == {"name", "value"} for e in env.values()), env
        assert "JUPITER_TOKEN" not in env
        assert not any(token["stringData"]["token"] in e["value"] for e in env.values())
        token_file = env["JUPITER_TOKEN_FILE"]["value"]
        folder, _, key = token_file.rpartition("/")
        assert _secret_files(objects, spec, folder)[key] == token["stringData"]["token"]
        tls = _secret_files(objects, spec, env["JUPITER_TLS_DIR"]["value"])
        assert set(tls) == {"ca.pem", "cert.pem", "key.pem"}
        cas.add(tls["ca.pem"])
        # The pod's certificate names its Service's DNS name, and is signed by the run's CA.
        cert = x509.load_pem_x509_certificate(tls["cert.pem"].encode())
        ca = x509.load_pem_x509_certificate(tls["ca.pem"].encode())
        cert.verify_directly_issued_by(ca)
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        url = env["JUPITER_ADVERTISE_URL"]["value"]
        assert url.startswith("https://")
        assert names.get_values_for_type(x509.DNSName) == [url_host(url)]
        # The key in the Secret is the certificate's.
        key_pem = serialization.load_pem_private_key(tls["key.pem"].encode(), None)
        assert key_pem.public_key().public_numbers() == cert.public_key().public_numbers()
    # One CA for the run, and each pod's Secret mounted by that pod only.
    assert len(cas) == 1
    tls_secrets = [
        v["secret"]["secretName"]
        for _, spec in pod_specs(objects)
        for v in spec["volumes"]
        if v["name"] == "tls"
    ]
    assert len(tls_secrets) == len(set(tls_secrets)) == 4


def test_without_tls_pods_speak_http_and_get_no_keys() -> None:
    objects = render(load_app(EXAMPLES / "diamond"), hosted_cluster(2), options(tls=False))
    assert [o["metadata"]["name"] for o in objects if o["kind"] == "Secret"] == [
        f"jupiter-{RUN}-token"
    ]
    for _, spec in pod_specs(objects):
        (container,) = spec["containers"]
        env = {e["name"]: e["value"] for e in container["env"]}
        assert "JUPITER_TLS_DIR" not in env
        assert env["JUPITER_ADVERTISE_URL"].startswith("http://")
        assert container["readinessProbe"]["httpGet"]["path"] == "/health"
