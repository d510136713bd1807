"""What a pod's status means for a run, read from the pod as a plain dict."""

from __future__ import annotations

from typing import Any

from jupiter.k8s import names

# Waiting reasons that will not clear up by themselves: a wrong image name, a registry that
# refuses, a broken manifest. Waiting for the readiness timeout would only hide them.
FATAL_WAITING = frozenset(
    {
        "ErrImagePull",
        "ImagePullBackOff",
        "InvalidImageName",
        "ErrImageNeverPull",
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
    }
)

Pod = dict[str, Any]


def name(pod: Pod) -> str:
    return str(pod["metadata"]["name"])


def role(pod: Pod) -> str | None:
    return (pod["metadata"].get("labels") or {}).get(names.ROLE_LABEL)


def phase(pod: Pod) -> str:
    return str((pod.get("status") or {}).get("phase") or "Pending")


def is_ready(pod: Pod) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def has_started(pod: Pod) -> bool:
    return phase(pod) in ("Running", "Succeeded", "Failed")


def has_ended(pod: Pod) -> bool:
    return phase(pod) in ("Succeeded", "Failed")


def _containers(pod: Pod) -> list[dict[str, Any]]:
    return list((pod.get("status") or {}).get("containerStatuses") or [])


def problem(pod: Pod) -> str | None:
    """Why this pod will never serve the run, or None while it still may."""
    status = pod.get("status") or {}
    for container in _containers(pod):
        waiting = (container.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") in FATAL_WAITING:
            return f"pod {name(pod)}: {waiting['reason']}: {waiting.get('message', '')}".rstrip(
                ": "
            )
    if phase(pod) == "Failed":
        detail = status.get("reason") or ""
        for container in _containers(pod):
            ended = (container.get("state") or {}).get("terminated") or {}
            if ended:
                detail = (
                    f"container {container.get('name')} exited with code {ended.get('exitCode')}"
                    + (f" ({ended['reason']})" if ended.get("reason") else "")
                )
        message = status.get("message")
        return f"pod {name(pod)} failed: {detail or 'no reason given'}" + (
            f": {message}" if message else ""
        )
    return None


def pending_reason(pod: Pod) -> str | None:
    """Why a pod is not running yet (unschedulable, pulling ...), for timeout messages."""
    status = pod.get("status") or {}
    for condition in status.get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
            return f"{condition.get('reason', 'not scheduled')}: {condition.get('message', '')}"
    for container in _containers(pod):
        waiting = (container.get("state") or {}).get("waiting") or {}
        if waiting.get("reason"):
            return str(waiting["reason"])
    return phase(pod)
