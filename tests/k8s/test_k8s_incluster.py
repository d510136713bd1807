"""The in-pod entry points, started from the rendered manifests themselves (command, env,
volumes) as local processes: agents register under their Service URLs, the home runs the
pipeline with external agents and returns report and outputs through its log."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from k8s_fake_api import FakeKube, Scenario
from k8s_fake_kubelet import LocalKubelet
from k8s_helpers import EXAMPLES, hosted_cluster, write_cluster_file

from jupiter.agent.auth import new_token
from jupiter.app.spec import load_app
from jupiter.cli import main
from jupiter.k8s.logchannel import LogReader, save_outputs
from jupiter.k8s.render import RenderOptions, render
from jupiter.k8s.settings import RunSettings

pytestmark = pytest.mark.e2e

DIAMOND = EXAMPLES / "diamond"


def expected_d(sample: Path) -> str:
    return "".join(f"{(x + 1) * (x + 3)}\n" for x in map(int, sample.read_text().split()))


def wait(process: subprocess.Popen[bytes], seconds: float) -> int:
    try:
        return process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{process.args} still running after {seconds} s")


def run_rendered_diamond(directory: Path, inputs: int) -> str:
    """Starts the rendered agent and home pods of a 3-node diamond run; the home's log."""
    settings = RunSettings(inputs=inputs, register_timeout=30, timeout=60)
    options = RenderOptions(
        image="registry.example.com/diamond:1",
        run_id="t1",
        token=new_token(),
        namespace="jupiter-t1",
        settings=settings,
        # Service names cannot resolve here (see k8s_fake_kubelet): TLS is checked offline.
        tls=False,
    )
    objects = render(load_app(DIAMOND), hosted_cluster(3), options)
    kubelet = LocalKubelet(objects, directory / "pods", DIAMOND)
    try:
        agents = kubelet.start("agent")
        (home,) = kubelet.start("home")
        code = wait(home.process, 60)
        log = home.output()
        assert code == 0, log
        # The home stops its agents on the way out: each pod would end Succeeded.
        for agent in agents:
            assert wait(agent.process, 10) == 0, agent.output()
    finally:
        kubelet.stop()
    return log


def test_rendered_pods_run_the_diamond_and_return_the_result_in_the_log(tmp_path: Path) -> None:
    log = run_rendered_diamond(tmp_path, inputs=5)
    phases: list[str] = []
    reader = LogReader(on_progress=lambda e: phases.append(e["phase"]) if "phase" in e else None)
    for line in log.splitlines():
        reader.feed(line)
    assert reader.error is None
    # The home's phases in order; profiling (network, execution) runs between the two.
    assert phases[0] == "deploy" and phases[-1] == "stream"
    assert any(phase.startswith("profile") for phase in phases)
    assert reader.result is not None and reader.result.omitted is None
    report = save_outputs(reader.result, tmp_path / "out")
    assert report["run_id"] == "t1"
    assert [entry["id"] for entry in report["inputs"]] == list(range(5))
    samples = sorted((DIAMOND / "samples").glob("*.txt"))
    for entry in report["inputs"]:
        d = Path(entry["outputs"]["d"])
        assert d == (tmp_path / "out" / str(entry["id"]) / "d").resolve()
        assert d.read_text() == expected_d(samples[entry["id"] % len(samples)])
    assert set(report["mapping"].values()) <= {"n00", "n01", "n02"}


def test_home_refuses_an_image_whose_app_differs_from_the_run(tmp_path: Path) -> None:
    changed = tmp_path / "app"
    subprocess.run(["cp", "-r", str(DIAMOND), str(changed)], check=True)
    spec = changed / "app.yaml"
    spec.write_text(
        spec.read_text().replace(
            "seconds: 0.001, output_bytes: 64", "seconds: 0.5, output_bytes: 64", 1
        )
    )
    options = RenderOptions(
        image="registry.example.com/diamond:1",
        run_id="t2",
        token=new_token(),
        namespace="ns",
        tls=False,
    )
    kubelet = LocalKubelet(
        render(load_app(DIAMOND), hosted_cluster(1), options), tmp_path / "pods", changed
    )
    try:
        (home,) = kubelet.start("home")
        code = wait(home.process, 30)
    finally:
        kubelet.stop()
    reader = LogReader()
    for line in home.output().splitlines():
        reader.feed(line)
    assert code == 2
    assert reader.error is not None
    assert "app.yaml: tasks.a.estimate.seconds: the app in the image differs" in reader.error


def test_in_pod_entry_points_need_no_kubernetes_client() -> None:
    # The agent image installs Jupiter without the k8s extra.
    code = (
        "import sys, jupiter.k8s.agent_entry, jupiter.k8s.home_entry; "
        "sys.exit('lightkube' in sys.modules)"
    )
    started = time.monotonic()
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
    assert time.monotonic() - started < 30


def test_jupiter_run_on_kubernetes_end_to_end_through_the_api(
    tmp_path: Path,
    fake_kube: Callable[..., FakeKube],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The CLI against the fake API server, whose home pod replays the log of a real home:
    what the user gets back is that home's genuine result."""
    log = run_rendered_diamond(tmp_path, inputs=4)
    fake = fake_kube(Scenario(home_log=log.splitlines()))
    out, report_dir = tmp_path / "out", tmp_path / "report"
    main(
        [
            "run",
            str(DIAMOND),
            "--backend",
            "kubernetes",
            "--image",
            "r.example.com/diamond:1",
            "--kubeconfig",
            str(fake.kubeconfig(tmp_path)),
            "--inputs",
            "4",
            "--cluster",
            str(write_cluster_file(tmp_path / "cluster.yaml", 3)),
            "--out",
            str(out),
            "--report",
            str(report_dir),
        ]
    )
    # Rich wraps at the console width, even inside a path: compare without whitespace.
    printed = "".join(capsys.readouterr().out.split())
    assert "kubernetes:agentdeploy" in printed and f"outputs:{out}" in printed
    report = json.loads((report_dir / "report.json").read_text())
    assert (report_dir / "report.html").is_file()
    samples = sorted((DIAMOND / "samples").glob("*.txt"))
    assert [entry["id"] for entry in report["inputs"]] == list(range(4))
    for entry in report["inputs"]:
        got = Path(entry["outputs"]["d"]).read_text()
        assert got == expected_d(samples[entry["id"] % len(samples)])
    assert set(report["phases"]) >= {"deploy", "profile", "map", "dispatch", "stream", "teardown"}
    assert report["stats"] and report["predicted_makespan"] > 0
    assert set(report["kubernetes"]["roles"]) == {"agent", "home", "shared"}
    assert fake.left_over() == []
