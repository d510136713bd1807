"""The one door to lightkube: imported lazily, so Jupiter works without the `k8s` extra, and
every API failure becomes one JupiterError line."""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

from jupiter.errors import JupiterError, RunError, SpecError

INSTALL_HINT = (
    "the Kubernetes backend needs the lightkube client: pip install 'jupiter-dispersed[k8s]'"
)
FIELD_MANAGER = "jupiter"
# Each API call; watches and followed logs have no read timeout.
CALL_TIMEOUT_S = 30.0


class ApiFailure(RunError):
    """A Kubernetes API call failed; `code` is the HTTP status when the server answered."""

    def __init__(self, message: str, code: int | None) -> None:
        self.code = code
        super().__init__(message)


class MissingExtra(JupiterError):
    """An optional dependency is not installed: nothing was started."""

    exit_code = 2


def lightkube() -> ModuleType:
    try:
        return importlib.import_module("lightkube")
    except ImportError:
        raise MissingExtra(INSTALL_HINT) from None


def _http_module() -> ModuleType:
    # lightkube 1.x talks through httpx2, earlier releases through httpx.
    for name in ("httpx2", "httpx"):
        with contextlib.suppress(ImportError):
            return importlib.import_module(name)
    raise MissingExtra(INSTALL_HINT)


def resource(kind: str) -> Any:
    """The lightkube class of one of the kinds a run uses."""
    lightkube()
    from lightkube.resources.batch_v1 import Job
    from lightkube.resources.core_v1 import ConfigMap, Namespace, Node, Pod, Secret, Service
    from lightkube.resources.networking_v1 import NetworkPolicy

    kinds: dict[str, Any] = {
        "Namespace": Namespace,
        "Secret": Secret,
        "ConfigMap": ConfigMap,
        "NetworkPolicy": NetworkPolicy,
        "Service": Service,
        "Pod": Pod,
        "Job": Job,
        "Node": Node,
    }
    return kinds[kind]


def connect(kubeconfig: Path | None) -> Any:
    """An AsyncClient for the kubeconfig given, else the usual places (in-cluster, $KUBECONFIG,
    ~/.kube/config)."""
    module = lightkube()
    http = _http_module()
    source = str(kubeconfig) if kubeconfig is not None else "kubeconfig"
    try:
        if kubeconfig is not None:
            config = module.KubeConfig.from_file(kubeconfig)
        else:
            config = module.KubeConfig.from_env()
        return module.AsyncClient(
            config, field_manager=FIELD_MANAGER, timeout=http.Timeout(CALL_TIMEOUT_S)
        )
    except module.ConfigError as error:
        raise SpecError(source, None, f"unusable kubeconfig: {error}") from None
    except (OSError, ValueError, TypeError, KeyError, AttributeError, yaml.YAMLError) as error:
        # lightkube reads the file with few checks of its own: a missing key is a KeyError.
        detail = f"missing {error}" if isinstance(error, KeyError) else str(error).splitlines()[0]
        raise SpecError(source, None, f"unusable kubeconfig: {detail}") from None


def to_resource(manifest: dict[str, Any]) -> Any:
    """A rendered dict as the lightkube object of its kind."""
    lightkube()
    return importlib.import_module("lightkube.codecs").from_dict(manifest)


def background_cascade() -> Any:
    lightkube()
    return importlib.import_module("lightkube.types").CascadeType.BACKGROUND


@contextlib.contextmanager
def api_errors(what: str) -> Iterator[None]:
    """Turns an API or transport failure during `what` into one ApiFailure line."""
    module = lightkube()
    http = _http_module()
    try:
        yield
    except module.ApiError as error:
        status = error.status
        raise ApiFailure(
            f"Kubernetes API: {what}: {status.code} {status.reason or ''}: {status.message}",
            status.code,
        ) from None
    except http.HTTPError as error:
        response = getattr(error, "response", None)
        if response is not None:
            # An error without a Status body (a proxy or load balancer in the way).
            detail = f"HTTP {response.status_code} {response.reason_phrase}"
            raise ApiFailure(f"Kubernetes API: {what}: {detail}", response.status_code) from None
        first_line = (str(error) or type(error).__name__).splitlines()[0]
        raise ApiFailure(f"Kubernetes API: {what}: {first_line}", None) from None
