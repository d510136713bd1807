"""What the manifests tell the pods: environment variable names, mount paths, and the run's
settings (the `run.json` key of the run's ConfigMap). Shared by the renderer, which writes
them, and the in-pod entry points, which read them."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from jupiter.api.tls import TlsFiles
from jupiter.errors import SpecError

# Inside the images (see Dockerfile and `jupiter k8s dockerfile`).
APP_ROOT = "/app"
CONFIG_DIR = "/etc/jupiter"
WORK_DIR = "/work"
TMP_DIR = "/tmp"
RUN_AS_USER = 10001

AGENT_PORT = 7100
HOME_PORT = 7000

APP_KEY = "app.json"
CLUSTER_KEY = "cluster.json"
RUN_KEY = "run.json"
TOKEN_KEY = "token"
# Secrets reach the pods as files (a Secret volume), never as environment variables: the
# run token in TOKEN_DIR/token, the pod's own TLS certificate, key and the run CA's
# certificate in TLS_DIR (api/tls.py's file names).
TOKEN_DIR = "/var/run/jupiter/token"
TLS_DIR = "/var/run/jupiter/tls"
# Readable by the pod's group (fsGroup), which its non-root user is in; not by others.
SECRET_FILE_MODE = 0o440

# Environment of the in-pod entry points. Every one is set by the manifests, so a missing
# one is a broken manifest and is reported as such.
ENV_RUN_ID = "JUPITER_RUN_ID"
ENV_NODE = "JUPITER_NODE"
ENV_BIND = "JUPITER_BIND"
ENV_PORT = "JUPITER_PORT"
ENV_ADVERTISE_URL = "JUPITER_ADVERTISE_URL"
ENV_HOME_URL = "JUPITER_HOME_URL"
ENV_CONFIG_DIR = "JUPITER_CONFIG_DIR"
ENV_APP_ROOT = "JUPITER_APP_ROOT"
ENV_WORK_DIR = "JUPITER_WORK_DIR"
ENV_TOKEN_FILE = "JUPITER_TOKEN_FILE"
# Set only with TLS: the folder of the pod's certificate files.
ENV_TLS_DIR = "JUPITER_TLS_DIR"

AGENT_MODULE = "jupiter.k8s.agent_entry"
HOME_MODULE = "jupiter.k8s.home_entry"

# The home's result travels in its log; kubelet rotates container logs at 10 MiB by default
# (containerLogMaxSize), and only the current file can be read back, so the encoded result
# stays well below that.
DEFAULT_RESULT_LIMIT_BYTES = 8 * 1024 * 1024


class RunSettings(BaseModel):
    """The `jupiter run` options the home needs, as given on the user's machine."""

    model_config = ConfigDict(extra="forbid")

    mapper: str = "heft"
    # False: map from the app's declared estimates instead of profiling the pods.
    profiling: bool = True
    inputs: int = Field(default=10, ge=1)
    interval: float = Field(default=0.0, ge=0)
    max_in_flight: int | None = Field(default=None, ge=1)
    timeout: float = Field(default=600.0, gt=0)
    # Pods may wait for a node to pull the image; agents and home start in any order.
    register_timeout: float = Field(default=600.0, gt=0)
    result_limit_bytes: int = Field(default=DEFAULT_RESULT_LIMIT_BYTES, gt=0)

    def to_json(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_options(cls, **options: Any) -> RunSettings:
        """From command-line values; a bad one is a SpecError naming its option."""
        try:
            return cls(**options)
        except ValidationError as error:
            first = error.errors(include_url=False)[0]
            option = "--" + str(first["loc"][0]).replace("_", "-")
            raise SpecError(
                None, option, f"{first['msg'].lower()}, got {first['input']!r}"
            ) from None


def env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise SpecError("pod environment", name, "not set; the manifest is incomplete")
    return value


def env_int(name: str) -> int:
    value = env(name)
    try:
        return int(value)
    except ValueError:
        raise SpecError("pod environment", name, f"expected an integer, got {value!r}") from None


def read_json(directory: Path, key: str) -> Any:
    path = directory / key
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise SpecError(path, None, f"cannot read: {error.strerror or error}") from None
    except ValueError as error:
        raise SpecError(path, None, f"invalid JSON: {error}") from None


def read_token() -> str:
    """The run token, from the file the manifest's Secret volume puts at ENV_TOKEN_FILE."""
    path = Path(env(ENV_TOKEN_FILE))
    try:
        token = path.read_text().strip()
    except OSError as error:
        raise SpecError(str(path), None, f"cannot read the run token: {error}") from None
    if not token:
        raise SpecError(str(path), None, "the run token file is empty")
    return token


def tls_files() -> TlsFiles | None:
    """The pod's TLS files, if the run has TLS (ENV_TLS_DIR set)."""
    folder = os.environ.get(ENV_TLS_DIR)
    return TlsFiles.in_folder(Path(folder)) if folder else None
