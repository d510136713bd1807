"""Moving files between agents: one streamed body carrying its own sha256, checked on
arrival and resent on mismatch. The sender applies the link emulator, so every byte pays the
emulated WAN.

Wire format: `X-Jupiter-Digest: sha256-trailer`, body = payload || sha256(payload) (32 raw
bytes). A trailer rather than a header lets both ends hash while the bytes are on the wire;
hashing first would double the time a large output takes to leave its node.

On an emulated link the receiver also paces its reading against its node's NIC (`Ingress`):
everything arriving at a node at once shares that rate. It tells the sender, in its answer's
`X-Jupiter-Held` header, how long it held the body back, so that the sender's `HostPath` does
not count the emulated NIC's time as the host's.

On a fast path (emulator off) the hashing is what bounds a transfer, so both ends take it off
the path that moves the bytes: the sender hands the file to the kernel with sendfile while a
thread hashes it, and the receiver hashes in one thread and writes in another while the event
loop keeps reading the socket.
"""

from __future__ import annotations

import asyncio
import hashlib
import mmap
import os
from collections import deque
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import aiohttp
from aiohttp import web
from aiohttp.abc import AbstractStreamWriter
from aiohttp.http_writer import StreamWriter
from aiohttp.payload import Payload

from jupiter.cluster.emulator import LinkEmulator
from jupiter.cluster.nic import Ingress
from jupiter.errors import RunError

CHUNK_BYTES = 4 * 1024 * 1024
FIRST_CHUNK_BYTES = 64 * 1024
DIGEST_HEADER = "X-Jupiter-Digest"
DIGEST_SCHEME = "sha256-trailer"
DIGEST_BYTES = 32
# The receiver's answer: seconds its NIC held the body back, which is not the host's tail.
HELD_HEADER = "X-Jupiter-Held"
# Below this, a thread hop costs more than the hashing and writing it would move off the loop.
THREAD_MIN_BYTES = 256 * 1024
# The receiver hands its threads batches this large, and lets at most this many wait, so a
# slow disk holds back the socket (and so the sender) instead of filling memory.
BATCH_BYTES = 4 * 1024 * 1024
MAX_PENDING_BATCHES = 4
# Longest a sender may leave the body without a new byte before the request is dropped.
BODY_IDLE_TIMEOUT_S = 60.0


class TransferError(RunError):
    """A file could not be delivered after every retry. `unreachable`: the destination never
    answered (refused, reset, timed out), so it may be down rather than unwilling."""

    def __init__(self, message: str, unreachable: bool = False) -> None:
        super().__init__(message)
        self.unreachable = unreachable


async def signed_chunks(path: Path) -> AsyncIterator[bytes]:
    """The file's chunks, then its sha256.

    A large file is read and hashed in a thread one chunk ahead of the consumer, so that
    on a paced (emulated) link the hashing hides behind the pacing; the first chunk is
    small, so the first byte leaves at once.
    """
    digest = hashlib.sha256()

    def read_and_hash(handle: BinaryIO, size: int) -> bytes:
        chunk = handle.read(size)
        digest.update(chunk)
        return chunk

    with path.open("rb") as handle:
        if os.fstat(handle.fileno()).st_size < THREAD_MIN_BYTES:
            # One piece, digest included: on a shared link a small file's last bytes must
            # not queue behind other transfers' pieces offered in between.
            data = read_and_hash(handle, -1)
            yield data + digest.digest()
            return
        loop = asyncio.get_running_loop()
        want = FIRST_CHUNK_BYTES
        ahead = loop.run_in_executor(None, read_and_hash, handle, want)
        try:
            while chunk := await ahead:
                want = min(4 * want, CHUNK_BYTES)
                ahead = loop.run_in_executor(None, read_and_hash, handle, want)
                yield chunk
        finally:
            # A consumer that stops early must not close the file under a reading thread.
            await asyncio.wait([ahead])
    yield digest.digest()


def file_sha256(path: Path) -> bytes:
    """The file's sha256, read through a mapping so the bytes are not copied first."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        if os.fstat(handle.fileno()).st_size:
            with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
                digest.update(mapped)
    return digest.digest()


class SignedFile(Payload):
    """A whole file, then its sha256: the body of an unemulated transfer.

    Large files go out with sendfile (no copy through Python) while a thread hashes them;
    the digest follows when both are done. Small files go out in one write.
    """

    def __init__(self, path: Path) -> None:
        super().__init__(path, content_type="application/octet-stream")
        self._path = path
        self._file_bytes = path.stat().st_size
        self._size = self._file_bytes + DIGEST_BYTES

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        raise TypeError("a signed file is binary")

    async def write(self, writer: AbstractStreamWriter) -> None:
        await self.write_with_length(writer, None)

    async def write_with_length(
        self, writer: AbstractStreamWriter, content_length: int | None
    ) -> None:
        if self._file_bytes < THREAD_MIN_BYTES:
            data = self._path.read_bytes()
            await writer.write(data + hashlib.sha256(data).digest())
            return
        loop = asyncio.get_running_loop()
        hashing = loop.run_in_executor(None, file_sha256, self._path)
        try:
            with self._path.open("rb") as handle:
                transport = _raw_transport(writer, content_length, self._size)
                if transport is not None:
                    await loop.sendfile(transport, handle, 0, self._file_bytes)
                else:
                    while chunk := await asyncio.to_thread(handle.read, CHUNK_BYTES):
                        await writer.write(chunk)
            await writer.write(await hashing)
        finally:
            # Never leave a hashing thread reading a file the caller may be about to delete.
            await asyncio.wait([hashing])


def _raw_transport(
    writer: AbstractStreamWriter, content_length: int | None, size: int
) -> asyncio.Transport | None:
    """The socket under `writer`, headers flushed, if bytes may bypass it; else None.

    Only a plain aiohttp writer qualifies, one that declared exactly our bytes as the
    Content-Length: there the body is the bytes on the wire, so the kernel can send the file
    itself. (A compressing writer is also a chunked one, and declares no length.)
    """
    if not isinstance(writer, StreamWriter) or writer.chunked or content_length != size:
        return None
    transport = writer.transport
    if transport is None or transport.is_closing():
        return None
    writer.send_headers()
    return transport


async def send_file(
    session: aiohttp.ClientSession,
    url: str,
    path: Path,
    emulator: LinkEmulator,
    headers: dict[str, str],
    attempts: int = 4,
    answer_timeout: float | None = None,
) -> None:
    """PUT `path` to `url`; retried on a digest mismatch or a broken connection.

    `answer_timeout`: seconds to wait for any byte of the answer (a destination that is
    stopped accepts the connection and never answers)."""
    last_error = "no attempt made"
    unreachable = False
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=answer_timeout)
    for attempt in range(attempts):
        if attempt:
            await asyncio.sleep(0.05 * 2**attempt)
        body: Any = emulator.pace(signed_chunks(path)) if emulator.active else SignedFile(path)
        try:
            async with session.put(
                url, data=body, headers={**headers, DIGEST_HEADER: DIGEST_SCHEME}, timeout=timeout
            ) as response:
                if response.status < 300:
                    held = _seconds(response.headers.get(HELD_HEADER))
                    emulator.finished(body, asyncio.get_running_loop().time(), held)
                    return
                detail = (await response.text())[:300]
                last_error = f"HTTP {response.status}: {detail}"
                unreachable = False
                if response.status != 422:
                    # Anything but a damaged body will not get better by resending.
                    break
        except (TimeoutError, aiohttp.ClientConnectionError) as error:
            last_error = f"{type(error).__name__}: {error}"
            unreachable = True
    raise TransferError(f"could not deliver {path.name} to {url}: {last_error}", unreachable)


def _seconds(header: str | None) -> float:
    """A duration a peer put in a header; 0 when absent or not a number >= 0."""
    try:
        seconds = float(header) if header is not None else 0.0
    except ValueError:
        return 0.0
    return seconds if 0.0 <= seconds < float("inf") else 0.0


class _HashingWriter:
    """Hashes and writes a stream of pieces in order, off the event loop.

    Small streams are handled inline. Large ones are batched, and each batch goes to a
    hashing thread and a writing thread, so hashing one batch overlaps writing the previous
    and the loop reading the next.
    """

    def __init__(self, handle: BinaryIO, threaded: bool) -> None:
        self.digest = hashlib.sha256()
        self._handle = handle
        self._threaded = threaded
        self._batch: list[bytes | memoryview] = []
        self._batch_bytes = 0
        self._pending: deque[asyncio.Future[Any]] = deque()
        self._hasher = ThreadPoolExecutor(1, "jupiter-hash") if threaded else None
        self._writer = ThreadPoolExecutor(1, "jupiter-write") if threaded else None

    async def add(self, piece: bytes | memoryview) -> None:
        if not piece:
            return
        if not self._threaded:
            self.digest.update(piece)
            self._handle.write(piece)
            return
        self._batch.append(piece)
        self._batch_bytes += len(piece)
        if self._batch_bytes >= BATCH_BYTES:
            await self._flush()

    async def finish(self) -> bytes:
        """The sha256 of everything added, once all of it is on disk."""
        await self._flush()
        while self._pending:
            await self._pending.popleft()
        return self.digest.digest()

    def close(self) -> None:
        # Waits for work already handed out, so the file is not closed under a thread.
        for pool in (self._hasher, self._writer):
            if pool is not None:
                pool.shutdown(wait=True)

    async def _flush(self) -> None:
        if not self._batch:
            return
        batch, self._batch, self._batch_bytes = self._batch, [], 0
        loop = asyncio.get_running_loop()
        self._pending.append(
            asyncio.gather(
                loop.run_in_executor(self._hasher, _update_all, self.digest, batch),
                loop.run_in_executor(self._writer, self._handle.writelines, batch),
            )
        )
        while len(self._pending) > MAX_PENDING_BATCHES:
            await self._pending.popleft()


def _update_all(digest: Any, pieces: list[bytes | memoryview]) -> None:
    for piece in pieces:
        digest.update(piece)


class SignedBody:
    """A request body in the wire format, read piece by piece: `pieces()` yields the payload
    and enforces the size limit; afterwards `trailer` holds the sender's sha256 and `size`
    the payload's length. Checks the digest header and a declared length at once."""

    def __init__(
        self, request: web.Request, max_bytes: int, ingress: Ingress | None = None
    ) -> None:
        if request.headers.get(DIGEST_HEADER) != DIGEST_SCHEME:
            raise web.HTTPBadRequest(text=f"expected {DIGEST_HEADER}: {DIGEST_SCHEME}")
        self.declared = request.content_length
        self._limit = max_bytes + DIGEST_BYTES
        if self.declared is not None and self.declared > self._limit:
            raise web.HTTPRequestEntityTooLarge(max_size=max_bytes, actual_size=self.declared)
        self._request = request
        self._max_bytes = max_bytes
        self._ingress = ingress
        self.trailer = b""  # the last bytes seen: the trailer, once the body has ended
        self.size = 0
        # Seconds the ingress held the body back, in all.
        self.held = 0.0

    async def pieces(self) -> AsyncIterator[bytes | memoryview]:
        received = 0
        try:
            async with asyncio.timeout(BODY_IDLE_TIMEOUT_S) as idle:
                loop = asyncio.get_running_loop()
                began = self._ingress.clock.time() if self._ingress is not None else 0.0
                # iter_chunks hands over the socket's reads as they are; iter_any would
                # join them.
                async for chunk, _ in self._request.content.iter_chunks():
                    if self._ingress is not None:
                        # Not reading on is what holds the sender back (TCP back-pressure).
                        self.held += await self._ingress.take(len(chunk), began)
                    idle.reschedule(loop.time() + BODY_IDLE_TIMEOUT_S)
                    received += len(chunk)
                    if received > self._limit:
                        raise web.HTTPRequestEntityTooLarge(
                            max_size=self._max_bytes, actual_size=received
                        )
                    if len(chunk) >= DIGEST_BYTES:
                        if self.trailer:
                            yield self.trailer
                        view = memoryview(chunk)
                        payload, self.trailer = view[:-DIGEST_BYTES], bytes(view[-DIGEST_BYTES:])
                    else:
                        joined = self.trailer + chunk
                        payload, self.trailer = joined[:-DIGEST_BYTES], joined[-DIGEST_BYTES:]
                    if payload:
                        yield payload
        except TimeoutError:
            raise web.HTTPRequestTimeout(text="body not sent in time") from None
        except (ConnectionError, web.RequestPayloadError) as error:
            # The sender went away or broke its framing: it resends, or it is gone.
            raise web.HTTPBadRequest(text=f"body unreadable: {error}") from None
        self.size = received - DIGEST_BYTES

    def matches(self, digest: bytes) -> bool:
        return len(self.trailer) == DIGEST_BYTES and self.trailer == digest


@dataclass(frozen=True)
class Received:
    """A body taken in: its payload's size, and the seconds the ingress held it back."""

    size: int
    held: float

    def headers(self) -> dict[str, str]:
        """For the answer: the sender learns its host's tail without the NIC's share."""
        return {HELD_HEADER: f"{self.held:.6f}"} if self.held > 0 else {}


async def receive_file(request: web.Request, destination: Path, max_bytes: int) -> int:
    """Stream the request body into `destination`, checking size and sha256.

    The file appears under its final name only once it is complete and verified, so a reader
    never sees half a file. Returns the payload size.
    """
    return (await receive_paced(request, destination, max_bytes, None)).size


async def receive_paced(
    request: web.Request, destination: Path, max_bytes: int, ingress: Ingress | None
) -> Received:
    """`receive_file`, reading the body no faster than `ingress` (when given) lets it in."""
    body = SignedBody(request, max_bytes, ingress)
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(f"{destination.name}.part-{os.getpid()}-{id(request)}")
    try:
        with partial.open("wb") as handle:
            # Only a declared large body is worth threads: one of unknown length is a paced,
            # emulated stream, whose small pieces are cheapest hashed as they come.
            sink = _HashingWriter(handle, threaded=(body.declared or 0) >= THREAD_MIN_BYTES)
            try:
                async for piece in body.pieces():
                    await sink.add(piece)
                digest = await sink.finish()
            finally:
                sink.close()
        if not body.matches(digest):
            raise web.HTTPUnprocessableEntity(text="sha256 mismatch; send again")
        partial.replace(destination)
    finally:
        partial.unlink(missing_ok=True)
    return Received(body.size, body.held)
