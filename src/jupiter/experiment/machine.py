"""What a measurement ran on and with: the machine and Jupiter's version, for its table."""

from __future__ import annotations

import os
import platform
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psutil

from jupiter import __version__

CPUINFO = Path("/proc/cpuinfo")


@dataclass(frozen=True)
class Machine:
    cores: int
    cpu_model: str
    memory_gib: float
    system: str
    python: str

    def line(self) -> str:
        return (
            f"{self.cores} cores ({self.cpu_model}), {self.memory_gib:.1f} GiB, "
            f"{self.system}, Python {self.python}"
        )


def describe_machine() -> Machine:
    return Machine(
        cores=os.cpu_count() or 1,
        cpu_model=cpu_model(),
        memory_gib=psutil.virtual_memory().total / 1024**3,
        system=f"{platform.system()} {platform.release()} {platform.machine()}",
        python=platform.python_version(),
    )


def cpu_model(cpuinfo: Path = CPUINFO) -> str:
    """The CPU's model name (Linux), else what the platform says, else "unknown CPU"."""
    try:
        for line in cpuinfo.read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and value.strip():
                return value.strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def jupiter_version() -> str:
    """The package version, and the commit when it runs from a git checkout."""
    commit = git_commit(Path(__file__).resolve().parent)
    return f"{__version__} (commit {commit})" if commit else __version__


def git_commit(where: Path) -> str | None:
    """The short commit of the checkout holding `where`, "+changes" if files differ from it."""
    commit = _git(where, "rev-parse", "--short", "HEAD")
    if not commit:
        return None
    changes = _git(where, "status", "--porcelain", "--untracked-files=no")
    return commit + ("+changes" if changes else "")


def _git(where: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(where), *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None
