"""Mutual TLS on a real run: agents and home serve HTTPS that only a certificate of the
run's own CA gets through; a run with --tls delivers every output intact."""

from __future__ import annotations

import asyncio
import hashlib
import socket
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from jupiter.api.tls import RunCA, TlsFiles, url_host
from jupiter.app.spec import load_app
from jupiter.backends.local import LocalBackend
from jupiter.cluster.spec import Cluster
from jupiter.controller.run import deployed_agents

from .apps import diamond

pytestmark = pytest.mark.e2e


def _context(ca: Path, own: TlsFiles | None) -> ssl.SSLContext:
    """A client trusting the run's CA (so a failure is the server refusing us), showing
    `own` certificate if given."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca))
    if own is not None:
        context.load_cert_chain(str(own.cert), str(own.key))
    return context


def _exchange(url: str, context: ssl.SSLContext, path: str, token: str = "") -> str:
    """One HTTP/1.1 request over a raw TLS socket; the status line of the answer."""
    host = url_host(url)
    port = _port(url)
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    with (
        socket.create_connection((host, port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        tls.sendall(
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{auth}Connection: close\r\n\r\n".encode()
        )
        answer = b""
        while chunk := tls.recv(65536):
            answer += chunk
    return answer.split(b"\r\n", 1)[0].decode()


def _refused(url: str, context: ssl.SSLContext) -> None:
    # With TLS 1.2 the server's refusal fails the handshake itself.
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    with pytest.raises(ssl.SSLError):
        _exchange(url, context, "/health")
    # TLS 1.3 finishes the client's side of the handshake before the server has checked the
    # client's certificate: the refusal is an alert or a closed connection, never an answer.
    context.maximum_version = ssl.TLSVersion.TLSv1_3
    try:
        line = _exchange(url, context, "/health")
    except (ssl.SSLError, ConnectionError):
        return
    assert line == "", line


def _check_every_party(urls: dict[str, str], home: TlsFiles, foreign: TlsFiles, token: str) -> None:
    for who, url in urls.items():
        # A certificate of the run gets in; then the token is still required.
        assert _exchange(url, _context(home.ca, home), "/health").endswith("200 OK"), who
        status_path = "/metrics"
        assert " 401 " in _exchange(url, _context(home.ca, home), status_path), who
        assert " 200 " in _exchange(url, _context(home.ca, home), status_path, token), who
        # No certificate, or one of another run's CA: the handshake fails, whatever the
        # token.
        _refused(url, _context(home.ca, None))
        _refused(url, _context(home.ca, foreign))
        # Plain HTTP on the TLS port gets no HTTP answer at all.
        with socket.create_connection((url_host(url), _port(url)), timeout=10) as raw:
            raw.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            assert not raw.recv(100).startswith(b"HTTP/"), who


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/", 1)[0])


def test_agent_and_home_refuse_clients_without_a_certificate_of_the_run(
    tmp_path: Path,
) -> None:
    app = load_app(diamond(tmp_path / "app"))
    foreign = RunCA.new("another-run").issue("intruder", ["127.0.0.1"]).write(tmp_path / "other")

    async def main() -> None:
        async with deployed_agents(
            app, Cluster.default(2), LocalBackend(), tls=True, profiling=False
        ) as context:
            home = TlsFiles.in_folder(context.work_dir / "tls")
            urls = {"home": context.home_url, **context.state.agents}
            assert all(url.startswith("https://") for url in urls.values()), urls
            # The home serves on this event loop: the blocking clients run in a thread.
            await asyncio.to_thread(_check_every_party, urls, home, foreign, context.token)

    asyncio.run(main())


BIG_TASKS = """
import hashlib
from pathlib import Path


def expand(inputs, output):
    # 3 MiB from the sample: large enough for the transfer's fast path.
    seed = next(iter(inputs.values())).read_bytes()
    block = hashlib.sha256(seed).digest() * 4096
    output.write_bytes(block * 24)


def fold(inputs, output):
    data = inputs["expand"].read_bytes()
    output.write_bytes(hashlib.sha256(data).digest() * 65536 + data[:1024])
"""


def _expected(sample: bytes) -> tuple[bytes, bytes]:
    block = hashlib.sha256(sample).digest() * 4096
    expanded = block * 24
    return expanded, hashlib.sha256(expanded).digest() * 65536 + expanded[:1024]


@pytest.mark.parametrize("emulation", ["--emulation", "--no-emulation"])
def test_run_with_tls_delivers_every_output_intact(tmp_path: Path, emulation: str) -> None:
    app = tmp_path / "app"
    (app / "samples").mkdir(parents=True)
    samples = [f"sample {k}\n".encode() * (k + 1) for k in range(3)]
    for k, sample in enumerate(samples):
        (app / "samples" / f"{k}.txt").write_bytes(sample)
    (app / "tasks.py").write_text(BIG_TASKS)
    spec = {
        "name": "big",
        "sources": [{"name": "input", "feeds": ["expand"], "inputs": ["samples/*.txt"]}],
        "tasks": {
            "expand": {"python": "tasks.py:expand"},
            "fold": {"python": "tasks.py:fold", "parents": ["expand"]},
        },
    }
    (app / "app.yaml").write_text(yaml.safe_dump(spec))
    out = tmp_path / "out"
    done = subprocess.run(
        [
            *(sys.executable, "-m", "jupiter", "run", str(app), "--nodes", "3", "--inputs", "3"),
            *(emulation, "--tls", "--no-profile", "--out", str(out), "--quiet"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    for k, sample in enumerate(samples):
        _, folded = _expected(sample)
        # Exit outputs travelled from their agent to the home over TLS, each checked
        # against its xxh3-128 trailer on arrival.
        assert (out / str(k) / "fold").read_bytes() == folded, k
