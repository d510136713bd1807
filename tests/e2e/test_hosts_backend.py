"""The hosts backend as a user meets it: agents started by hand with `jupiter agent` on
127.0.0.x addresses (separate processes, as on separate machines), listed in cluster.yaml,
then `jupiter run --backend hosts` twice against the same agents."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from jupiter.api.hosts import CertificateGrant, JoinAnswer, JoinRequest
from jupiter.api.tls import RunCA
from jupiter.app.spec import load_app
from jupiter.cluster.spec import Cluster

from .apps import expected_outputs, layered

HOSTS = ("127.0.0.21", "127.0.0.22", "127.0.0.23")


@dataclass
class HandStartedAgent:
    address: str
    work_dir: Path
    process: subprocess.Popen[bytes]

    def health(self) -> dict[str, object]:
        with urllib.request.urlopen(f"http://{self.address}/health", timeout=5) as response:
            return dict(json.loads(response.read()))


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _jupiter(*args: str | Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jupiter", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _wait_for_standby(agent: HandStartedAgent, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if agent.health().get("status") == "standby":
                return
        except OSError:
            pass
        assert agent.process.poll() is None, "the agent exited"
        assert time.monotonic() < deadline, f"no standby agent at {agent.address}"
        time.sleep(0.1)


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    return tmp_path / "token"


@pytest.fixture
def agents(tmp_path: Path, token_file: Path) -> Iterator[list[HandStartedAgent]]:
    started: list[HandStartedAgent] = []
    try:
        for i, host in enumerate(HOSTS):
            address = f"{host}:{_free_port(host)}"
            work_dir = tmp_path / f"agent{i}"
            command = [sys.executable, "-m", "jupiter", "agent", "--listen", address]
            command += ["--token-file", str(token_file), "--work-dir", str(work_dir)]
            process = subprocess.Popen(
                command,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            started.append(HandStartedAgent(address, work_dir, process))
            if i == 0:
                # The first agent creates the token file; the others share it.
                _wait_for_standby(started[0])
        for agent in started:
            _wait_for_standby(agent)
        yield started
    finally:
        for agent in started:
            if agent.process.poll() is None:
                agent.process.send_signal(signal.SIGTERM)
        for agent in started:
            try:
                agent.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                agent.process.kill()
                agent.process.wait()
            if agent.process.stderr is not None:
                agent.process.stderr.close()


def _cluster_file(tmp_path: Path, agents: list[HandStartedAgent]) -> Path:
    nodes = [
        {"name": f"pi{i}", "region": region, "address": agent.address}
        for i, (agent, region) in enumerate(zip(agents, ("sfo", "nyc", "ams"), strict=True))
    ]
    path = tmp_path / "cluster.yaml"
    path.write_text(yaml.safe_dump({"nodes": nodes}))
    return path


def test_two_runs_on_hand_started_agents(
    tmp_path: Path, agents: list[HandStartedAgent], token_file: Path
) -> None:
    app = layered(tmp_path / "app", 8)
    cluster = _cluster_file(tmp_path, agents)
    assert oct(token_file.stat().st_mode & 0o777) == "0o600"

    # TLS is on by default for the hosts backend: each run's agent gets a certificate for
    # its address over the enrolment (its key never leaves it), and profiling, transfers and
    # exit outputs all go over mutual TLS. The same standby agents then serve a plain run.
    for attempt, extra in enumerate((["--no-profile"], [], ["--no-tls", "--no-profile"])):
        out = tmp_path / f"out{attempt}"
        done = _jupiter(
            "run", app, "--backend", "hosts", "--cluster", cluster, "--token-file", token_file,
            "--inputs", "4", "--mapper", "round-robin", "--out", out, "--quiet", *extra,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        for input_id in range(4):
            expected = expected_outputs(app, input_id)
            got = {task: (out / str(input_id) / task).read_text() for task in expected}
            assert got == expected, f"run {attempt}, input {input_id}"
        # Every agent is back in standby, its run's folder gone, ready for the next run.
        for agent in agents:
            _wait_for_standby(agent)
            assert sorted(p.name for p in agent.work_dir.iterdir()) == ["last-run.log"]

    for agent in agents:
        agent.process.send_signal(signal.SIGTERM)
        assert agent.process.wait(timeout=20) == 0
        assert not agent.work_dir.exists() or not any(
            p.name.startswith("run-") for p in agent.work_dir.iterdir()
        )


def test_a_wrong_token_is_refused_by_name(tmp_path: Path, agents: list[HandStartedAgent]) -> None:
    other = tmp_path / "other-token"
    other.write_text("not-the-agents-token\n")
    os.chmod(other, 0o600)
    done = _jupiter(
        "run", layered(tmp_path / "app", 4), "--backend", "hosts",
        "--cluster", _cluster_file(tmp_path, agents), "--token-file", other, "--no-profile",
    )  # fmt: skip
    assert done.returncode == 1
    assert "refused the run token: give both the same --token-file" in done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    for agent in agents:
        _wait_for_standby(agent)


def test_a_node_without_an_address_is_a_spec_error(tmp_path: Path) -> None:
    cluster = tmp_path / "cluster.yaml"
    cluster.write_text(yaml.safe_dump({"nodes": [{"name": "pi0", "region": "sfo"}]}))
    token = tmp_path / "token"
    token.write_text("t0ken\n")
    done = _jupiter(
        "run", layered(tmp_path / "app", 4), "--backend", "hosts", "--cluster", cluster,
        "--token-file", token, "--no-profile",
    )  # fmt: skip
    assert done.returncode == 2
    assert "nodes[0].address" in done.stderr


def _post(url: str, token: str, body: bytes, method: str = "POST") -> tuple[int, str]:
    request = urllib.request.Request(url, data=body, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_tls_enrolment_keeps_the_key_on_the_agent_and_takes_only_the_runs_ca(
    tmp_path: Path, agents: list[HandStartedAgent], token_file: Path
) -> None:
    agent = agents[0]
    token = token_file.read_text().strip()
    app_dir = layered(tmp_path / "app", 4)
    bundle = io.BytesIO()
    with tarfile.open(fileobj=bundle, mode="w:gz") as archive:
        archive.add(app_dir, arcname=".")
    base = f"http://{agent.address}"
    status, _ = _post(f"{base}/agent/bundle/tls1", token, bundle.getvalue(), "PUT")
    assert status == 201
    join = JoinRequest(
        run_id="tls1",
        node="n00",
        home_url="https://127.0.0.1:9",  # nobody: the run agent gives up and standby resumes
        advertise_url=f"https://{agent.address}",
        app=load_app(app_dir).to_dict(),
        cluster=Cluster.default(1).to_dict(),
        register_timeout_s=5,
        tls=True,
    )
    status, text = _post(f"{base}/agent/join", token, join.model_dump_json().encode())
    assert status == 200, text
    answer = JoinAnswer.model_validate_json(text)
    # What crosses the wire is a signing request: the key stays on the agent's machine.
    assert answer.csr is not None and "PRIVATE KEY" not in text
    ca, other = RunCA.new("tls1"), RunCA.new("someone-else")
    host = agent.address.rpartition(":")[0]

    def grant(issuer: RunCA) -> bytes:
        assert answer.csr is not None
        cert = issuer.sign_request(answer.csr.encode(), "n00", [host])
        return (
            CertificateGrant(run_id="tls1", ca=issuer.ca_pem.decode(), certificate=cert.decode())
            .model_dump_json()
            .encode()
        )

    # A certificate signed by another CA than the one it comes with is refused.
    forged = json.loads(grant(other))
    forged["ca"] = ca.ca_pem.decode()
    status, text = _post(f"{base}/agent/certificate", token, json.dumps(forged).encode())
    assert status == 400 and "not the run CA's" in text, text
    status, text = _post(f"{base}/agent/certificate", token, grant(ca))
    assert status == 200, text

    # The run's agent now serves HTTPS on the same address, for clients of the run's CA.
    client = ca.issue("home", ["127.0.0.1"]).write(tmp_path / "home-tls").client_context()
    deadline = time.monotonic() + 20
    while True:
        try:
            with urllib.request.urlopen(
                f"https://{agent.address}/health", timeout=5, context=client
            ) as response:
                assert json.loads(response.read())["node"] == "n00"
                break
        except OSError:
            assert time.monotonic() < deadline, "the run agent never served over TLS"
            time.sleep(0.1)
    stranger = ssl.create_default_context(cafile=str(tmp_path / "home-tls" / "ca.pem"))
    with pytest.raises(OSError):
        urllib.request.urlopen(f"https://{agent.address}/health", timeout=5, context=stranger)
    # With no home to register with, the run ends and the agent is back in standby.
    _wait_for_standby(agent)
