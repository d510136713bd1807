"""Task code of a synthetic app (from `jupiter generate-app` or `jupiter import-wfcommons`).

This file is copied, unchanged, to the top of each synthetic app's tasks/dag.py, followed by
one line per task: `NAME = task("NAME", seconds=..., output_bytes=...)`. It imports nothing
but the standard library, so the app folder runs wherever Python does.

Every task:

1. hashes its inputs: sha256 of each upstream's file, mixed with the task's and upstreams'
   names, so an output is right only if the task saw exactly the right inputs;
2. derives its output from that digest (SHAKE-256 stretched to `output_bytes`);
3. keeps hashing (a sha256 chain seeded by the digest) until its thread has spent `seconds`
   of CPU time since the call began, then writes the output.

The budget is CPU time of the calling thread, not wall time and not a fixed iteration
count: a task then does the same amount of computing whatever the machine's speed, and a
busy machine stretches its wall time the way it would stretch a real program's. How far the
chain gets depends on the machine, so its end value never reaches the output: outputs are a
function of the inputs alone, and `expected.json` in the app folder lists them.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from pathlib import Path

TaskFunction = Callable[[Mapping[str, Path], Path], None]

# Checking the clock every few hundred hashes keeps the overshoot far below a millisecond
# while the clock reads themselves cost next to nothing.
HASHES_PER_CLOCK_READ = 256
READ_CHUNK = 1 << 20
DOMAIN = b"jupiter-synthetic-v1"


def file_digest(path: Path) -> bytes:
    """sha256 of a file, read in chunks so large inputs need little memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(READ_CHUNK):
            digest.update(chunk)
    return digest.digest()


def mix(name: str, upstream_digests: Mapping[str, bytes]) -> bytes:
    """The digest a task's output derives from: its name and each upstream's name and data."""
    digest = hashlib.sha256(DOMAIN + b"\0task\0" + name.encode())
    for upstream in sorted(upstream_digests):
        digest.update(b"\0" + upstream.encode() + b"\0" + upstream_digests[upstream])
    return digest.digest()


def output_content(seed: bytes, size: int) -> bytes:
    """`size` bytes determined by `seed` alone."""
    return hashlib.shake_256(seed).digest(size) if size > 0 else b""


def sample_content(salt: str, size: int) -> bytes:
    """The bytes of a generated sample input."""
    return output_content(hashlib.sha256(DOMAIN + b"\0sample\0" + salt.encode()).digest(), size)


def burn(seed: bytes, until: float) -> bytes:
    """Hash until this thread's CPU clock reaches `until`; returns the end of the chain."""
    value = seed
    while time.thread_time() < until:
        for _ in range(HASHES_PER_CLOCK_READ):
            value = hashlib.sha256(value).digest()
    return value


def task(name: str, seconds: float, output_bytes: int) -> TaskFunction:
    """A task function that computes for `seconds` of CPU and writes `output_bytes` bytes."""

    def run(inputs: Mapping[str, Path], output: Path) -> None:
        began = time.thread_time()
        seed = mix(name, {upstream: file_digest(Path(p)) for upstream, p in inputs.items()})
        content = output_content(seed, output_bytes)
        burn(seed, began + seconds)
        Path(output).write_bytes(content)

    run.__name__ = run.__qualname__ = f"task_{name}".replace("-", "_")
    run.__doc__ = f"Synthetic task {name!r}: {seconds} s of CPU, {output_bytes} bytes out."
    return run
