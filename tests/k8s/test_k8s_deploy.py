"""Deploy, follow, collect and teardown against a local server speaking the Kubernetes API
(k8s_fake_api.py): what was created, that everything was deleted however the run ended, and
what the user gets back."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from k8s_fake_api import FakeKube, Scenario
from k8s_helpers import EXAMPLES, write_cluster_file

from jupiter.cli import main
from jupiter.errors import RunError, SpecError
from jupiter.k8s.logchannel import error_line, progress_line, result_lines
from jupiter.k8s.pipeline import KubernetesRun, run_on_kubernetes
from jupiter.k8s.settings import RunSettings
from jupiter.progress import Progress

DIAMOND = EXAMPLES / "diamond"
IMAGE = "registry.example.com/diamond:1"
RUN_LABEL = "jupiter.io/run"


class Recorder(Progress):
    def __init__(self) -> None:
        self.phases: list[str] = []
        self.done: dict[str, int] = {}

    def phase(self, name: str, total: int) -> None:
        self.phases.append(name)

    def advance(self, done: int) -> None:
        self.done[self.phases[-1]] = done


def home_lines(directory: Path, inputs: int = 3) -> list[str]:
    """What a home that ran the diamond writes to its log: progress, then the result."""
    out = directory / "home-out"
    entries = []
    for k in range(inputs):
        (out / str(k)).mkdir(parents=True)
        (out / str(k) / "d").write_text(f"output of input {k}\n")
        entries.append(
            {
                "id": k,
                "injected_at": 10.0 + k,
                "completed_at": 10.1 + 2 * k,
                "makespan": 0.1 + k,
                "outputs": {"d": str(out / str(k) / "d")},
            }
        )
    # A complete report as the contract has it (docs/report.schema.json): the client
    # refuses anything less.
    report = {
        "version": 1,
        "run_id": "home-side",
        "app": "diamond",
        "mapper": "heft",
        "nodes": [{"name": f"n0{i}", "region": "sfo", "speed": 1.0} for i in range(3)],
        "emulated": False,
        "sources": [],
        "mapping": {},
        "predicted_schedule": [],
        "figure_sources": {},
        "execution": {},
        "profile": None,
        "throughput": {
            "inputs": inputs,
            "seconds": 2.1,
            "per_second": inputs / 2.1,
            "median_completion_gap": None,
        },
        "duplicates": [],
        "stats": [],
        "inputs": entries,
        "makespan": {"mean": 1.1, "median": 1.1, "min": 0.1, "max": 2.1},
        "predicted_makespan": 0.5,
        "phases": {
            "deploy": 3.0,
            "profile": 0.0,
            "map": 0.01,
            "dispatch": 0.02,
            "stream": 2.0,
            "teardown": 0.1,
        },
    }
    return [
        "home: starting",
        progress_line(phase="deploy", total=3),
        progress_line(done=3),
        progress_line(phase="stream", total=inputs),
        progress_line(done=inputs),
        *result_lines(report, out, 8 * 1024 * 1024),
    ]


def kube_run(tmp_path: Path, fake: FakeKube, **overrides: Any) -> KubernetesRun:
    fields: dict[str, Any] = {
        "app": DIAMOND,
        "image": IMAGE,
        "out_dir": tmp_path / "got",
        "cluster_file": write_cluster_file(tmp_path / "cluster.yaml", 3),
        "kubeconfig": fake.kubeconfig(tmp_path),
        "settings": RunSettings(inputs=3, register_timeout=20, timeout=20),
    }
    return KubernetesRun(**{**fields, **overrides})


def run(
    spec: KubernetesRun, warnings: list[str] | None = None, progress: Progress | None = None
) -> dict[str, Any]:
    """report.json's content, as the run would write it."""
    sink = warnings if warnings is not None else []
    return asyncio.run(run_on_kubernetes(spec, progress, sink.append)).document()


def counts(items: list[str]) -> dict[str, int]:
    result: dict[str, int] = {}
    for item in items:
        kind = item.split("/")[0]
        result[kind] = result.get(kind, 0) + 1
    return result


def test_a_run_creates_its_objects_collects_the_result_and_deletes_everything(
    tmp_path: Path, fake_kube: Callable[..., FakeKube]
) -> None:
    fake = fake_kube(Scenario(home_log=home_lines(tmp_path)))
    progress = Recorder()
    report = run(kube_run(tmp_path, fake), progress=progress)

    assert counts(fake.created) == {
        "Namespace": 1,
        # The token's, and each pod's TLS key and certificate (3 agents, the home).
        "Secret": 5,
        "ConfigMap": 1,
        "NetworkPolicy": 1,
        "Service": 4,
        "Pod": 3,
        "Job": 1,
    }
    assert fake.left_over() == []
    assert fake.objects("Pod") == []  # the Job's pod too
    assert set(fake.created) <= set(fake.deleted)
    run_id = report["kubernetes"]["namespace"].removeprefix("jupiter-")
    # Deleted by label: each kind was listed with the run's selector before its deletes.
    selector = f"{RUN_LABEL}={run_id}"
    listed = {
        path.rsplit("/", 1)[1]
        for method, path, query in fake.requests
        if method == "GET" and selector in query.get("labelSelector", "")
    }
    assert {"pods", "services", "jobs", "configmaps", "secrets", "networkpolicies"} <= listed
    job_deletes = [q for m, p, q in fake.requests if m == "DELETE" and "/jobs/" in p]
    assert job_deletes and all(q.get("propagationPolicy") == "Background" for q in job_deletes)
    # Readiness came from one watch on the run's label, not from polling.
    watches = [q for m, p, q in fake.requests if q.get("watch") == "true"]
    assert watches and all(selector in q["labelSelector"] for q in watches)

    for k in range(3):
        path = Path(report["inputs"][k]["outputs"]["d"])
        assert path == (tmp_path / "got" / str(k) / "d").resolve()
        assert path.read_text() == f"output of input {k}\n"
    roles = report["kubernetes"]["roles"]
    assert roles["agent"]["pods"] == 3 and roles["home"]["pods"] == 1
    for role in ("agent", "home"):
        assert 0 < roles[role]["deploy"] < 10
        assert 0 <= roles[role]["teardown"] < 10
    assert report["phases"]["deploy"] >= roles["agent"]["deploy"]
    assert report["kubernetes"]["home_phases"]["deploy"] == 3.0
    assert report["backend"] == "kubernetes"
    assert progress.phases == [
        "creating objects",
        "agent pods ready",
        "agents registered with the home",
        "streaming inputs",
        "deleting the run's objects",
    ]
    assert progress.done["creating objects"] == 16  # 12, and a TLS Secret per pod
    assert progress.done["agent pods ready"] == 3


def test_a_dropped_log_stream_is_followed_again(
    tmp_path: Path, fake_kube: Callable[..., FakeKube]
) -> None:
    fake = fake_kube(Scenario(home_log=home_lines(tmp_path), drop_follow_after=3))
    report = run(kube_run(tmp_path, fake))
    follows = [p for m, p, q in fake.requests if p.endswith("/log") and q.get("follow") == "true"]
    assert len(follows) == 2
    assert Path(report["inputs"][0]["outputs"]["d"]).read_text() == "output of input 0\n"
    assert fake.left_over() == []


def test_a_refused_create_deletes_what_was_created(
    tmp_path: Path, fake_kube: Callable[..., FakeKube]
) -> None:
    refuse = lambda kind, name: 500 if kind == "Pod" and name.endswith("agent-n01") else None  # noqa: E731
    fake = fake_kube(Scenario(refuse_create=refuse))
    with pytest.raises(RunError, match=r"creating Pod jupiter-\w+-agent-n01: 500"):
        run(kube_run(tmp_path, fake))
    assert "Secret" in counts(fake.created)
    assert fake.left_over() == []
    assert fake.objects("Namespace") == []


def test_a_namespace_the_user_may_not_create_is_refused_with_a_hint_and_nothing_to_delete(
    tmp_path: Path, fake_kube: Callable[..., FakeKube]
) -> None:
    fake = fake_kube(
        Scenario(refuse_create=lambda kind, name: 403 if kind == "Namespace" else None)
    )
    with pytest.raises(RunError, match=r"creating Namespace jupiter-\w+: 403 .*pass --namespace"):
        run(kube_run(tmp_path, fake))
    assert fake.created == []
    assert not [request for request in fake.requests if request[0] == "DELETE"]


def test_an_image_that_cannot_be_pulled_fails_at_once_and_cleans_up(
    tmp_path: Path, fake_kube: Callable[..., FakeKube]
) -> None:
    def steps(name: str) -> list[tuple[float, str]]:
        if name.endswith("n02"):
            return [(0.01, "creating"), (0.02, "err-image-pull")]
        return [(0.01, "ready")]

    fake = fake_kube(Scenario(agent_steps=steps, home_exit=None))
    began = time.monotonic()
    with pytest.raises(RunError, match=r"pod jupiter-\w+-agent-n02: ErrImagePull: pull access"):
        run(kube_run(tmp_path, fake))
    assert time.monotonic() - began < 10  # not the 20 s readiness timeout
    assert fake.left_over() == []


def test_an_agent_dying_mid_run_fails_the_run_with_its_log(
    tmp_path: Path, fake_kube: Callable[..., FakeKube]
) -> None:
    def steps(name: str) -> list[tuple[float, str]]:
        ready = [(0.01, "creating"), (0.02, "ready")]
        return [*ready, (0.5, "failed")] if name.endswith("n01") else ready

    scenario = Scenario(
        agent_steps=steps,
        home_log=[progress_line(phase="deploy", total=3)],
        home_exit=None,  # the home would wait for ever
        agent_log=["agent: serving", "MemoryError: the task ate the node"],
    )
    fake = fake_kube(scenario)
    with pytest.raises(RunError) as failure:
        run(kube_run(tmp_path, fake))
    message = str(failure.value)
    assert "agent-n01 failed: container agent exited with code 1 (Error)" in message
    assert "MemoryError: the task ate the node" in message
    assert fake.left_over() == []


def test_a_failure_the_home_reports_is_the_runs_error(
    tmp_path: Path, fake_kube: Callable[..., FakeKube]
) -> None:
    failure = "task 'd' failed on node n01 for input 2: ValueError: b has 3 numbers but c has 2"
    log = [progress_line(phase="deploy", total=3), error_line(failure)]
    fake = fake_kube(Scenario(home_log=log, home_exit=1))
    with pytest.raises(
        RunError, match="the run failed in the cluster: task 'd' failed on node n01"
    ):
        run(kube_run(tmp_path, fake))
    assert fake.left_over() == []


def test_a_home_that_ends_without_a_result_shows_its_log(
    tmp_path: Path, fake_kube: Callable[..., FakeKube]
) -> None:
    log = ["Traceback (most recent call last):", "OSError: [Errno 28] No space left on device"]
    fake = fake_kube(Scenario(home_log=log, home_exit=1))
    with pytest.raises(RunError, match=r"(?s)ended without a result.*No space left on device"):
        run(kube_run(tmp_path, fake))
    assert fake.left_over() == []


def test_an_existing_namespace_is_used_and_kept(
    tmp_path: Path, fake_kube: Callable[..., FakeKube]
) -> None:
    fake = fake_kube(Scenario(home_log=home_lines(tmp_path)))
    fake.add_namespace("team-a")
    report = run(kube_run(tmp_path, fake, namespace="team-a"))
    assert report["kubernetes"]["namespace"] == "team-a"
    assert "Namespace" not in counts(fake.created)
    assert fake.left_over() == []
    assert [n["metadata"]["name"] for n in fake.objects("Namespace")] == ["team-a"]


def test_an_object_that_will_not_delete_is_reported_with_the_cleanup_command(
    tmp_path: Path, fake_kube: Callable[..., FakeKube]
) -> None:
    refuse = lambda kind, name: 500 if kind == "ConfigMap" else None  # noqa: E731
    fake = fake_kube(Scenario(home_log=home_lines(tmp_path), refuse_delete=refuse))
    warnings: list[str] = []
    report = run(kube_run(tmp_path, fake), warnings)
    (warning,) = warnings
    assert "teardown incomplete: Kubernetes API: deleting ConfigMap" in warning
    assert f"-l {RUN_LABEL}=" in warning and "kubectl delete" in warning
    assert [name.split("/")[0] for name in fake.left_over()] == ["ConfigMap"]
    assert report["inputs"]


def test_nodes_come_from_the_cluster_when_no_cluster_file_is_given(
    tmp_path: Path, fake_kube: Callable[..., FakeKube]
) -> None:
    fake = fake_kube(Scenario(home_log=home_lines(tmp_path)), hosts=0)
    participate = {"jupiter.io/node": "true"}
    fake.add_node("edge-a", {**participate, "topology.kubernetes.io/region": "sfo"})
    fake.add_node(
        "edge-b",
        {**participate, "topology.kubernetes.io/region": "sgp", "jupiter.io/name": "camera"},
    )
    fake.add_node("edge-c", participate, cordoned=True)
    fake.add_node("cloud-d", {"topology.kubernetes.io/region": "sfo"})
    warnings: list[str] = []
    run(kube_run(tmp_path, fake, cluster_file=None), warnings)
    assert warnings == ["edge-c: cordoned, left out"]
    created_pods = [
        e[4]
        for e in fake.events
        if e[1] == "ADDED"
        and e[2] == "pods"
        and e[4]["metadata"]["labels"].get("app.kubernetes.io/component") == "agent"
    ]
    pinned = {
        pod["metadata"]["annotations"]["jupiter.io/node"]: pod["spec"]["affinity"]["nodeAffinity"][
            "requiredDuringSchedulingIgnoredDuringExecution"
        ]["nodeSelectorTerms"][0]["matchFields"][0]["values"]
        for pod in created_pods
    }
    assert pinned == {"edge-a": ["edge-a"], "camera": ["edge-b"]}
    config = json.loads(
        next(e[4] for e in fake.events if e[2] == "configmaps")["data"]["cluster.json"]
    )
    assert [(n["name"], n["region"], n["host"]) for n in config["nodes"]] == [
        ("edge-a", "sfo", "edge-a"),
        ("camera", "sgp", "edge-b"),
    ]
    assert config["emulate"] is False
    assert fake.left_over() == []


def test_k8s_nodes_shows_what_a_run_would_use(
    tmp_path: Path, fake_kube: Callable[..., FakeKube], capsys: pytest.CaptureFixture[str]
) -> None:
    fake = fake_kube(hosts=0)
    fake.add_node(
        "pi-1",
        {
            "jupiter.io/node": "true",
            "topology.kubernetes.io/region": "sgp",
            "jupiter.io/speed": "0.5",
        },
    )
    fake.add_node("pi-2", {"jupiter.io/node": "true"}, ready=False)
    main(["k8s", "nodes", "--kubeconfig", str(fake.kubeconfig(tmp_path))])
    assert capsys.readouterr().out == (
        "pi-1\thost=pi-1\tregion=sgp\tspeed=0.5\n# pi-2: not Ready, left out\n"
    )
    assert fake.created == []


def test_a_host_the_cluster_does_not_have_is_a_spec_error_before_anything_is_created(
    tmp_path: Path, fake_kube: Callable[..., FakeKube]
) -> None:
    fake = fake_kube(hosts=2)
    spec = kube_run(tmp_path, fake)
    with pytest.raises(SpecError) as error:
        run(spec)
    assert str(error.value) == (
        f"{spec.cluster_file}: nodes[2].host: the cluster has no node named 'worker-2' "
        "(kubectl get nodes)"
    )
    assert fake.created == []


def test_without_the_k8s_extra_the_cli_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "lightkube", None)  # makes `import lightkube` fail
    with pytest.raises(SystemExit) as exit_info:
        main(["run", str(DIAMOND), "--backend", "kubernetes", "--image", IMAGE])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err == (
        "error: the Kubernetes backend needs the lightkube client: "
        "pip install 'jupiter-dispersed[k8s]'\n"
    )


@pytest.mark.parametrize(
    ("content", "detail"),
    [
        (None, "Configuration file"),
        ("not: [valid", "while parsing a flow sequence"),
        ("apiVersion: v1\nkind: Config\n", "missing 'clusters'"),
    ],
)
def test_an_unusable_kubeconfig_is_one_line_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, detail: str
) -> None:
    kubeconfig = tmp_path / "kubeconfig.yaml"
    if content is not None:
        kubeconfig.write_text(content)
    cluster = write_cluster_file(tmp_path / "c.yaml", 2)
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "run",
                str(DIAMOND),
                "--backend",
                "kubernetes",
                "--image",
                IMAGE,
                "--kubeconfig",
                str(kubeconfig),
                "--cluster",
                str(cluster),
            ]
        )
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {kubeconfig}: unusable kubeconfig: ") and err.count("\n") == 1
    assert detail in err


@pytest.mark.e2e  # a real `jupiter run` process, interrupted
@pytest.mark.parametrize("moment", ["waiting for pods", "following the home"])
def test_ctrl_c_deletes_everything_and_exits_130(
    tmp_path: Path, fake_kube: Callable[..., FakeKube], moment: str
) -> None:
    if moment == "waiting for pods":
        scenario = Scenario(agent_steps=lambda name: [(0.01, "creating")], home_exit=None)
    else:
        scenario = Scenario(home_log=[progress_line(phase="deploy", total=3)], home_exit=None)
    fake = fake_kube(scenario)
    command = [
        sys.executable,
        "-m",
        "jupiter",
        "run",
        str(DIAMOND),
        "--backend",
        "kubernetes",
        "--image",
        IMAGE,
        "--kubeconfig",
        str(fake.kubeconfig(tmp_path)),
        "--cluster",
        str(write_cluster_file(tmp_path / "c.yaml", 3)),
        "--out",
        str(tmp_path / "out"),
        "--quiet",
    ]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if moment == "following the home" and fake.following.is_set():
                break
            if moment == "waiting for pods" and counts(fake.created).get("Job"):
                break
            if process.poll() is not None:
                pytest.fail(f"exited early: {process.stderr.read() if process.stderr else ''}")
            time.sleep(0.05)
        else:
            pytest.fail(f"never reached {moment}")
        time.sleep(0.2)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, err
    assert "interrupted" in err
    assert counts(fake.created)["Pod"] == 3
    assert fake.left_over() == []
    assert fake.objects("Pod") == []
