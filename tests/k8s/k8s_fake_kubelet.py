"""Runs rendered pods as local processes, so the manifests' own commands and environment are
what starts the agents and the home.

What a cluster would provide is swapped for a local equivalent: each Service becomes a free
port on 127.0.0.1 (and its DNS name in any URL becomes that address), each ConfigMap volume a
folder holding its keys, each Secret volume a folder holding its keys as files of the
volume's mode, each emptyDir a temp folder, the image's /app the app's folder. Nothing else is
changed. (A Service's DNS name cannot resolve here, so a run rendered with TLS, whose
certificates name those, is not run this way: render it with tls=False.)
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LocalPod:
    name: str
    role: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


class LocalKubelet:
    def __init__(self, objects: list[dict[str, Any]], root: Path, app_root: Path) -> None:
        self.root = root
        self.app_root = app_root
        self.pods: list[LocalPod] = []
        by_kind: dict[str, list[dict[str, Any]]] = {}
        for manifest in objects:
            by_kind.setdefault(manifest["kind"], []).append(manifest)
        self.secrets = {o["metadata"]["name"]: o["stringData"] for o in by_kind["Secret"]}
        self.config_maps = {o["metadata"]["name"]: o["data"] for o in by_kind["ConfigMap"]}
        self.services = {o["metadata"]["name"]: o for o in by_kind["Service"]}
        self.ports = {name: free_port() for name in self.services}
        self.pod_specs: list[tuple[str, dict[str, str], dict[str, Any]]] = [
            (o["metadata"]["name"], o["metadata"]["labels"], o["spec"]) for o in by_kind["Pod"]
        ]
        for job in by_kind["Job"]:
            template = job["spec"]["template"]
            self.pod_specs.append(
                (job["metadata"]["name"], template["metadata"]["labels"], template["spec"])
            )

    def start(self, role: str | None = None) -> list[LocalPod]:
        started = []
        for name, labels, spec in self.pod_specs:
            pod_role = labels["app.kubernetes.io/component"]
            if role is None or pod_role == role:
                started.append(self._start(name, pod_role, labels, spec))
        self.pods.extend(started)
        return started

    def stop(self) -> None:
        for pod in self.pods:
            if pod.process.poll() is None:
                pod.process.kill()
            pod.process.wait()

    def _service_for(self, labels: dict[str, str]) -> str:
        for name, service in self.services.items():
            selector = service["spec"]["selector"]
            if all(labels.get(k) == v for k, v in selector.items()):
                return name
        raise AssertionError(f"no Service selects pod labels {labels}")

    def _start(
        self, name: str, role: str, labels: dict[str, str], spec: dict[str, Any]
    ) -> LocalPod:
        (container,) = spec["containers"]
        pod_dir = self.root / name
        mounts: dict[str, Path] = {}
        volumes = {v["name"]: v for v in spec["volumes"]}
        for mount in container["volumeMounts"]:
            volume = volumes[mount["name"]]
            local = pod_dir / mount["name"]
            local.mkdir(parents=True, exist_ok=True)
            if "configMap" in volume:
                for key, value in self.config_maps[volume["configMap"]["name"]].items():
                    (local / key).write_text(value)
            if "secret" in volume:
                for key, value in self.secrets[volume["secret"]["secretName"]].items():
                    (local / key).write_text(value)
                    (local / key).chmod(volume["secret"]["defaultMode"])
            mounts[mount["mountPath"]] = local
        mounts["/app"] = self.app_root
        own_port = self.ports[self._service_for(labels)]
        env: dict[str, str] = {}
        for item in container["env"]:
            env[item["name"]] = self._localise(item["value"], mounts)
        env["JUPITER_BIND"] = "127.0.0.1"
        env["JUPITER_PORT"] = str(own_port)
        command = [sys.executable if part == "python" else part for part in container["command"]]
        log = pod_dir / "log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                command, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT
            )
        return LocalPod(name, role, process, log)

    def _localise(self, value: str, mounts: dict[str, Path]) -> str:
        if value in mounts:
            return str(mounts[value])
        for path, local in mounts.items():
            if value.startswith(f"{path}/"):
                return str(local / value[len(path) + 1 :])
        match = re.fullmatch(r"http://([a-z0-9-]+)\.[a-z0-9-]+\.svc:\d+", value)
        if match:
            return f"http://127.0.0.1:{self.ports[match.group(1)]}"
        return value
