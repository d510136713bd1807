"""Rendered objects as YAML files that `kubectl apply -f DIR` applies in the right order."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from jupiter.errors import SpecError

# kubectl applies a folder's files in name order: the namespace must exist first, and the
# NetworkPolicy must be in place before any pod can be reached.
_FILES: tuple[tuple[str, frozenset[str]], ...] = (
    ("00-namespace.yaml", frozenset({"Namespace"})),
    ("01-secret.yaml", frozenset({"Secret"})),
    ("02-config.yaml", frozenset({"ConfigMap", "NetworkPolicy"})),
    ("03-agents.yaml", frozenset({"Service/agent", "Pod"})),
    ("04-home.yaml", frozenset({"Service/home", "Job"})),
)
SECRET_FILES = frozenset({"01-secret.yaml"})

_Base: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml when present: 10x faster


class _Dumper(_Base):  # type: ignore[misc]
    # A dict used twice in one object (labels, probes) is written out twice, not as an
    # anchor and alias, which some YAML tooling mishandles.
    def ignore_aliases(self, data: Any) -> bool:
        return True


def _text(dumper: Any, data: str) -> Any:
    # Multi-line values (the ConfigMap's JSON documents) as literal blocks, readable in review.
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _text)


def dump_all(objects: Iterable[dict[str, Any]]) -> str:
    return yaml.dump_all(objects, Dumper=_Dumper, sort_keys=False, default_flow_style=False)


def _file_for(manifest: dict[str, Any]) -> str:
    kind = manifest["kind"]
    if kind == "Service":
        role = manifest["metadata"]["labels"].get("app.kubernetes.io/component", "")
        kind = f"Service/{role}"
    for name, kinds in _FILES:
        if kind in kinds:
            return name
    raise ValueError(f"no file for {kind}")


def write_manifests(objects: list[dict[str, Any]], out_dir: Path) -> list[Path]:
    """Writes the objects grouped by file; the Secret's file is readable by its owner only."""
    groups: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in _FILES}
    for manifest in objects:
        groups[_file_for(manifest)].append(manifest)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise SpecError(out_dir, None, f"cannot create: {error.strerror or error}") from None
    written: list[Path] = []
    for name, group in groups.items():
        if not group:
            continue
        path = out_dir / name
        mode = 0o600 if name in SECRET_FILES else 0o644
        # O_CREAT with the mode: the token is never readable by others, not even briefly.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(dump_all(group))
        os.chmod(path, mode)
        written.append(path)
    return written
