"""Profiles kept between runs, per cluster and per app, so that the next run maps at once.

An entry is a plain `Profile` document (`jupiter run --profile FILE` reads one too) at

    $XDG_CACHE_HOME/jupiter/profiles/<app name>-<app key>/<cluster key>.json

(`~/.cache` when XDG_CACHE_HOME is unset). The cluster key hashes the Cluster's canonical
JSON: nodes, regions, speeds, classes, addresses, the link table, `emulate` and the time
dilation; any change there is another entry. The app key hashes the app's dict without
what cannot change a figure (description, timeouts, retries), the content of its Python
task files and the names and sizes of its sample inputs: edited code is profiled afresh.

Entries are written atomically (a private temp file renamed into place), mode 600 in a
mode 700 folder; reading goes through the spec reader's size cap. An entry that cannot be
read or does not match the run is a miss, logged, never a failure: the run profiles.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from jupiter.app.spec import App
from jupiter.cluster.spec import Cluster
from jupiter.errors import SpecError
from jupiter.profiler.model import Profile

log = logging.getLogger(__name__)

# A cached profile older than this is not reused unless asked for (`--profile cached`).
MAX_AGE_S = 24 * 3600.0
# auto: reuse a matching entry younger than MAX_AGE_S, else profile; cached: reuse a
# matching entry whatever its age, else profile; fresh: always profile; off: no cache.
CacheMode = Literal["auto", "cached", "fresh", "off"]


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or ""
    # The XDG spec: a relative value is invalid and must be ignored.
    root = Path(base) if os.path.isabs(base) else Path.home() / ".cache"
    return root / "jupiter" / "profiles"


def cluster_key(cluster: Cluster) -> str:
    canonical = json.dumps(cluster.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def app_key(app: App) -> str:
    document: dict[str, Any] = app.to_dict()
    document.pop("description", None)
    for task in document["tasks"].values():
        task.pop("timeout", None)
        task.pop("retries", None)
    digest = hashlib.sha256(json.dumps(document, sort_keys=True).encode())
    for file in sorted({task.python_file for task in app.tasks.values() if task.python_file}):
        digest.update(file.encode() + b"\0")
        path = app.root / file
        # A missing file fails its task anyway; here it only makes another key.
        digest.update(hashlib.sha256(path.read_bytes()).digest() if path.is_file() else b"-")
    for source in app.sources:
        for sample in app.sample_inputs(source):
            digest.update(f"{sample.relative_to(app.root)}:{sample.stat().st_size}\0".encode())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class CachedProfile:
    profile: Profile
    path: Path
    # Seconds since the profile was taken (its `created_at`).
    age: float

    def describe(self) -> str:
        return f"cache: {self.path}, taken {format_age(self.age)} ago"


class ProfileCache:
    """The cache entries of one app on one cluster."""

    def __init__(self, app: App, cluster: Cluster, root: Path | None = None) -> None:
        self.app = app
        self.cluster = cluster
        self.root = root or cache_root()
        self.app_dir = self.root / f"{_safe(app.name)}-{app_key(app)}"
        self.path = self.app_dir / f"{cluster_key(cluster)}.json"

    def lookup(
        self,
        max_age: float | None = MAX_AGE_S,
        sizes: list[int] | None = None,
        every_node: bool = False,
    ) -> CachedProfile | None:
        """The entry for this app and cluster if it is readable, matches, is at most
        `max_age` seconds old (None: any age), (given `sizes`) probed those sizes and
        (`every_node`) timed every task on every node."""
        if not self.path.is_file():
            return None
        profile = self._read(self.path)
        if profile is None:
            return None
        age = max(0.0, time.time() - profile.created_at)
        if max_age is not None and age > max_age:
            log.info("cached profile %s is %s old: profiling afresh", self.path, format_age(age))
            return None
        probed = profile.settings.get("network", {}).get("sizes")
        if sizes is not None and probed is not None and sorted(probed) != sorted(sizes):
            log.info(
                "cached profile %s probed other sizes (%s): profiling afresh", self.path, probed
            )
            return None
        scaled = any("from-class" in row.values() for row in profile.compute_source.values())
        if every_node and scaled:
            log.info("cached profile %s has figures from classes: profiling afresh", self.path)
            return None
        try:
            profile.check_matches(list(self.app.tasks), self.cluster.node_names, str(self.path))
        except SpecError as error:
            log.warning("cached profile not reused: %s", error)
            return None
        return CachedProfile(profile, self.path, age)

    def measured_output_bytes(self) -> dict[str, int]:
        """Output sizes measured by the newest readable profile of this app, on any cluster
        (a task's output does not depend on where it ran); empty when there is none."""
        if not self.app_dir.is_dir():
            return {}
        entries = sorted(
            self.app_dir.glob("*.json"), key=lambda path: path.stat().st_mtime, reverse=True
        )
        for path in entries:
            profile = self._read(path)
            if profile is not None and profile.output_bytes:
                return dict(profile.output_bytes)
        return {}

    def store(self, profile: Profile) -> Path:
        """Write `profile` as this app's and cluster's entry, atomically, readable by the
        owner only."""
        self.app_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        entry = profile.model_copy(deep=True)
        entry.settings.pop("cache", None)
        entry.settings["cache_keys"] = {
            "app": app_key(self.app),
            "cluster": cluster_key(self.cluster),
        }
        fd, temporary = tempfile.mkstemp(dir=self.app_dir, prefix=".entry-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                file.write(entry.model_dump_json())
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        log.info("profile cached in %s", self.path)
        return self.path

    @staticmethod
    def _read(path: Path) -> Profile | None:
        try:
            return Profile.load(path)
        except (SpecError, OSError) as error:
            log.warning("cached profile %s unreadable, ignored: %s", path, error)
            return None


def mark_from_cache(found: CachedProfile) -> Profile:
    """The cached profile as a run uses it: `settings["cache"]` says where from and its age."""
    profile = found.profile.model_copy(deep=True)
    profile.settings["cache"] = {
        "path": str(found.path),
        "age_seconds": round(found.age, 1),
        "taken_at": found.profile.created_at,
    }
    return profile


def format_age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:64] or "app"
