"""`jupiter k8s render | dockerfile | result` and the kubernetes options of `jupiter run`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from k8s_helpers import EXAMPLES, write_cluster_file

from jupiter.cli import main
from jupiter.k8s.logchannel import error_line, progress_line, result_lines
from jupiter.k8s.settings import APP_ROOT, RUN_AS_USER

DIAMOND = EXAMPLES / "diamond"


def jupiter(args: list[str]) -> int:
    try:
        main(args)
    except SystemExit as done:
        return int(done.code or 0)
    return 0


def test_render_writes_the_files_and_says_how_to_apply_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cluster = write_cluster_file(tmp_path / "cluster.yaml", 4)
    out = tmp_path / "manifests"
    code = jupiter(
        [
            "k8s",
            "render",
            str(DIAMOND),
            "--cluster",
            str(cluster),
            "--image",
            "registry.example.com/diamond:1",
            "-o",
            str(out),
            "--run-id",
            "demo1",
            "--inputs",
            "20",
            "--agent-memory",
            "2Gi",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    # 14, and with TLS a Secret per pod (4 agents and the home).
    assert f"wrote 19 objects of run demo1 to {out}/" in printed
    assert f"kubectl apply -f {out}" in printed
    assert "kubectl logs -n jupiter-demo1 -f job/jupiter-demo1-home > home.log" in printed
    docs = [d for p in sorted(out.iterdir()) for d in yaml.safe_load_all(p.read_text())]
    pods = [d for d in docs if d["kind"] == "Pod"]
    assert len(pods) == 4
    assert {p["spec"]["containers"][0]["resources"]["limits"]["memory"] for p in pods} == {"2Gi"}
    (config,) = [d for d in docs if d["kind"] == "ConfigMap"]
    run = json.loads(config["data"]["run.json"])
    assert run["inputs"] == 20
    # The emulator is off on a real cluster unless asked for.
    assert json.loads(config["data"]["cluster.json"])["emulate"] is False


def test_render_into_a_users_namespace_never_deletes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cluster = write_cluster_file(tmp_path / "cluster.yaml", 2)
    out = tmp_path / "manifests"
    args = ["k8s", "render", str(DIAMOND), "--cluster", str(cluster), "-o", str(out)]
    args += ["--image", "registry.example.com/diamond:1", "--run-id", "demo2"]
    assert jupiter([*args, "--namespace", "team-prod"]) == 0
    printed = capsys.readouterr().out
    docs = [d for p in sorted(out.iterdir()) for d in yaml.safe_load_all(p.read_text())]
    assert "Namespace" not in {d["kind"] for d in docs}
    # The printed clean-up deletes by the run's label, not the files: never the namespace.
    assert (
        "delete:   kubectl delete all,cm,secret,netpol -n team-prod -l jupiter.io/run=demo2"
        in printed
    )
    assert "kubectl delete -f" not in printed


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--image", "Not An Image"], "error: --image: 'Not An Image' is not an image reference"),
        (["--namespace", "Team_A"], "error: --namespace: 'Team_A' is not a valid namespace"),
        (["--inputs", "0"], "error: --inputs: input should be greater than or equal to 1"),
        (["--mapper", "nope"], "error: algorithm: unknown mapper 'nope'"),
    ],
)
def test_render_refuses_bad_options_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], expected: str
) -> None:
    cluster = write_cluster_file(tmp_path / "cluster.yaml", 2)
    base = ["k8s", "render", str(DIAMOND), "--cluster", str(cluster), "-o", str(tmp_path / "o")]
    if "--image" not in args:
        base += ["--image", "registry.example.com/diamond:1"]
    assert jupiter(base + args) == 2
    err = capsys.readouterr().err
    assert err.startswith(expected) and err.count("\n") == 1
    assert not (tmp_path / "o").exists()


def test_render_names_the_cluster_file_and_field_of_a_missing_host(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cluster = write_cluster_file(tmp_path / "cluster.yaml", 2, hosts=False)
    code = jupiter(
        [
            "k8s",
            "render",
            str(DIAMOND),
            "--cluster",
            str(cluster),
            "--image",
            "registry.example.com/diamond:1",
            "-o",
            str(tmp_path / "o"),
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {cluster}: nodes[0].host: required on Kubernetes")


def test_dockerfile_builds_the_app_on_the_agent_image(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = tmp_path / "diamond"
    app.mkdir()
    for item in DIAMOND.rglob("*"):
        if item.is_file():
            (app / item.relative_to(DIAMOND)).parent.mkdir(parents=True, exist_ok=True)
            (app / item.relative_to(DIAMOND)).write_bytes(item.read_bytes())
    (app / "requirements.txt").write_text("numpy\n")
    assert jupiter(["k8s", "dockerfile", str(app), "--base", "ghcr.io/me/jupiter-agent:0.1"]) == 0
    text = (app / "Dockerfile").read_text()
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    assert lines[:3] == [
        "ARG JUPITER_IMAGE=ghcr.io/me/jupiter-agent:0.1",
        "FROM ${JUPITER_IMAGE}",
        "USER 0:0",
    ]
    assert "RUN pip install --no-cache-dir -r /tmp/app-requirements.txt" in text
    assert f"COPY . {APP_ROOT}" in lines
    assert lines[-1] == f"USER {RUN_AS_USER}:{RUN_AS_USER}"  # the image ends non-root
    assert "Dockerfile" in (app / ".dockerignore").read_text().split()
    assert "docker build -t REGISTRY/jupiter-diamond:TAG" in capsys.readouterr().out
    # An existing Dockerfile is kept unless --force.
    assert jupiter(["k8s", "dockerfile", str(app)]) == 2
    assert "exists; pass --force" in capsys.readouterr().err
    assert jupiter(["k8s", "dockerfile", str(app), "--force"]) == 0
    assert "FROM ${JUPITER_IMAGE}" in (app / "Dockerfile").read_text()


def test_result_unpacks_a_saved_home_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "home-out"
    (out / "0").mkdir(parents=True)
    (out / "0" / "d").write_text("24\n")
    # The smallest report the contract allows (docs/report.schema.json).
    report = {
        "version": 1,
        "run_id": "r1",
        "app": "diamond",
        "mapper": "heft",
        "nodes": [],
        "emulated": False,
        "sources": [],
        "mapping": {},
        "predicted_makespan": 0.1,
        "predicted_schedule": [],
        "figure_sources": {},
        "execution": {},
        "profile": None,
        "inputs": [
            {
                "id": 0,
                "injected_at": 1.0,
                "completed_at": 1.2,
                "makespan": 0.2,
                "outputs": {"d": str(out / "0" / "d")},
            }
        ],
        "makespan": {"mean": 0.2, "median": 0.2, "min": 0.2, "max": 0.2},
        "throughput": {
            "inputs": 1,
            "seconds": 0.2,
            "per_second": 5.0,
            "median_completion_gap": None,
        },
        "phases": {},
        "duplicates": [],
        "stats": [],
    }
    log = tmp_path / "home.log"
    lines = [
        "home starting",
        progress_line(phase="stream", total=1),
        *result_lines(report, out, 1 << 20),
    ]
    log.write_text("\n".join(lines) + "\n")
    code = jupiter(
        [
            "k8s",
            "result",
            str(log),
            "--out",
            str(tmp_path / "got"),
            "--report",
            str(tmp_path / "rep"),
        ]
    )
    assert code == 0
    assert (tmp_path / "got" / "0" / "d").read_text() == "24\n"
    saved = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert saved["inputs"][0]["outputs"]["d"] == str((tmp_path / "got" / "0" / "d").resolve())
    capsys.readouterr()
    log.write_text(error_line("task 'd' failed on node n01 for input 0: boom") + "\n")
    assert jupiter(["k8s", "result", str(log)]) == 1
    assert "the run failed in the cluster: task 'd' failed" in capsys.readouterr().err
    log.write_text("\n".join(lines[:-1]) + "\n")  # cut before the end marker
    assert jupiter(["k8s", "result", str(log)]) == 2
    assert "no complete result in this log" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], "error: --image: required with --backend kubernetes"),
        (["--image", "r.example.com/a:1", "--nodes", "4"], "error: --nodes: not with --backend"),
        (["--image", "r.example.com/a:1", "--profile", "p.json"], "error: --profile: not with"),
    ],
)
def test_run_on_kubernetes_refuses_what_does_not_apply(
    capsys: pytest.CaptureFixture[str], args: list[str], expected: str
) -> None:
    assert jupiter(["run", str(DIAMOND), "--backend", "kubernetes", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith(expected) and err.count("\n") == 1


def test_kubernetes_options_need_the_kubernetes_backend(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert jupiter(["run", str(DIAMOND), "--nodes", "2", "--image", "r.example.com/a:1"]) == 2
    assert capsys.readouterr().err == "error: --image: only with --backend kubernetes\n"
