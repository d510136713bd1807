"""Moving files between agents: a streamed body with its sha256, checked on arrival, resent on
mismatch. The sender applies the link emulator, so every byte pays the emulated WAN."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
from aiohttp import web

from jupiter.cluster.emulator import LinkEmulator
from jupiter.errors import RunError

CHUNK_BYTES = 256 * 1024
DIGEST_HEADER = "X-Jupiter-Sha256"


class TransferError(RunError):
    """A file could not be delivered after every retry."""


class DigestMismatch(Exception):
    """What arrived is not what was sent: the sender should try again."""


def file_digest(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


async def file_chunks(path: Path) -> AsyncIterator[bytes]:
    # Reads come from the page cache almost always; a thread hop per chunk would cost more
    # than the read itself.
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            yield chunk


async def send_file(
    session: aiohttp.ClientSession,
    url: str,
    path: Path,
    digest: str,
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
                data=emulator.pace(file_chunks(path)),
                headers={**headers, DIGEST_HEADER: digest},
            ) as response:
                if response.status < 300:
                    return
                detail = (await response.text())[:300]
                last_error = f"HTTP {response.status}: {detail}"
                if response.status != 422:
                    # Anything but a damaged body will not get better by resending.
                    break
        except (aiohttp.ClientConnectionError, asyncio.TimeoutError) as error:
            last_error = f"{type(error).__name__}: {error}"
    raise TransferError(f"could not deliver {path.name} to {url}: {last_error}")


async def receive_file(request: web.Request, destination: Path, max_bytes: int) -> int:
    """Stream the request body into `destination`, checking size and sha256.

    The file appears under its final name only once it is complete and verified, so a reader
    never sees half a file.
    """
    expected = request.headers.get(DIGEST_HEADER)
    if not expected:
        raise web.HTTPBadRequest(text=f"missing {DIGEST_HEADER} header")
    if request.content_length is not None and request.content_length > max_bytes:
        raise web.HTTPRequestEntityTooLarge(max_size=max_bytes, actual_size=request.content_length)
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + f".part{os.getpid()}-{id(request)}")
    digest = hashlib.sha256()
    size = 0
    try:
        with partial.open("wb") as handle:
            async for chunk in request.content.iter_chunked(CHUNK_BYTES):
                size += len(chunk)
                if size > max_bytes:
                    raise web.HTTPRequestEntityTooLarge(max_size=max_bytes, actual_size=size)
                digest.update(chunk)
                handle.write(chunk)
        if digest.hexdigest() != expected:
            raise web.HTTPUnprocessableEntity(text="sha256 mismatch; send again")
        partial.replace(destination)
    finally:
        partial.unlink(missing_ok=True)
    return size
