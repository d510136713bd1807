"""Moving files between agents: one streamed body carrying its own sha256, checked on
arrival and resent on mismatch. The sender applies the link emulator, so every byte pays the
emulated WAN.

Wire format: `X-Jupiter-Digest: sha256-trailer`, body = payload || sha256(payload) (32 raw
bytes). A trailer rather than a header lets both ends hash while the bytes are on the wire;
hashing first would double the time a large output takes to leave its node.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

import aiohttp
from aiohttp import web

from jupiter.cluster.emulator import LinkEmulator
from jupiter.errors import RunError

CHUNK_BYTES = 4 * 1024 * 1024
DIGEST_HEADER = "X-Jupiter-Digest"
DIGEST_SCHEME = "sha256-trailer"
DIGEST_BYTES = 32
# Below this, a thread hop costs more than the hashing and writing it would move off the loop.
THREAD_MIN_BYTES = 256 * 1024


class TransferError(RunError):
    """A file could not be delivered after every retry."""


async def signed_chunks(path: Path) -> AsyncIterator[bytes]:
    """The file's chunks, then its sha256."""
    digest = hashlib.sha256()

    def read_and_hash(handle: BinaryIO) -> bytes:
        chunk = handle.read(CHUNK_BYTES)
        digest.update(chunk)
        return chunk

    with path.open("rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        while True:
            if size >= THREAD_MIN_BYTES:
                chunk = await asyncio.to_thread(read_and_hash, handle)
            else:
                chunk = read_and_hash(handle)
            if not chunk:
                break
            yield chunk
    yield digest.digest()


async def send_file(
    session: aiohttp.ClientSession,
    url: str,
    path: Path,
    emulator: LinkEmulator,
    headers: dict[str, str],
    attempts: int = 4,
) -> None:
    """PUT `path` to `url`; retried on a digest mismatch or a broken connection."""
    last_error = "no attempt made"
    for attempt in range(attempts):
        if attempt:
            await asyncio.sleep(0.05 * 2**attempt)
        try:
            async with session.put(
                url,
                data=emulator.pace(signed_chunks(path)),
                headers={**headers, DIGEST_HEADER: DIGEST_SCHEME},
            ) as response:
                if response.status < 300:
                    return
                detail = (await response.text())[:300]
                last_error = f"HTTP {response.status}: {detail}"
                if response.status != 422:
                    # Anything but a damaged body will not get better by resending.
                    break
        except (TimeoutError, aiohttp.ClientConnectionError) as error:
            last_error = f"{type(error).__name__}: {error}"
    raise TransferError(f"could not deliver {path.name} to {url}: {last_error}")


async def receive_file(request: web.Request, destination: Path, max_bytes: int) -> int:
    """Stream the request body into `destination`, checking size and sha256.

    The file appears under its final name only once it is complete and verified, so a reader
    never sees half a file. Returns the payload size.
    """
    if request.headers.get(DIGEST_HEADER) != DIGEST_SCHEME:
        raise web.HTTPBadRequest(text=f"expected {DIGEST_HEADER}: {DIGEST_SCHEME}")
    limit = max_bytes + DIGEST_BYTES
    if request.content_length is not None and request.content_length > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=max_bytes, actual_size=request.content_length)
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(f"{destination.name}.part-{os.getpid()}-{id(request)}")
    digest = hashlib.sha256()
    held = b""  # the last bytes seen, which may be the trailer
    size = 0
    try:
        with partial.open("wb") as handle:

            def take(data: bytes | memoryview) -> None:
                digest.update(data)
                handle.write(data)

            async for chunk in request.content.iter_chunked(CHUNK_BYTES):
                size += len(chunk)
                if size > limit:
                    raise web.HTTPRequestEntityTooLarge(max_size=max_bytes, actual_size=size)
                if len(chunk) >= DIGEST_BYTES:
                    if held:
                        take(held)
                    view = memoryview(chunk)
                    payload, held = view[:-DIGEST_BYTES], bytes(view[-DIGEST_BYTES:])
                else:
                    joined = held + chunk
                    payload, held = memoryview(joined)[:-DIGEST_BYTES], joined[-DIGEST_BYTES:]
                if len(payload) >= THREAD_MIN_BYTES:
                    await asyncio.to_thread(take, payload)
                elif payload:
                    take(payload)
        if len(held) != DIGEST_BYTES or held != digest.digest():
            raise web.HTTPUnprocessableEntity(text="sha256 mismatch; send again")
        partial.replace(destination)
    finally:
        partial.unlink(missing_ok=True)
    return size - DIGEST_BYTES
