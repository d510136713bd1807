"""Moving files between agents: one streamed body carrying its own digest, checked on
arrival and resent on mismatch. The sender applies the link emulator, so every byte pays the
emulated WAN.

Wire format: `X-Jupiter-Digest: xxh3-128-trailer`, body = payload || xxh3_128(payload) (16
raw bytes, big-endian as xxhash's `digest()` gives it). The digest guards end-to-end
integrity (truncation, disk or memory corruption, a resend gone wrong), not authenticity:
that is the transport's job (the run token, and TLS on real networks). xxh3 hashes at memory
speed (about 18 GiB/s a core here, against 1.25 for sha256), so it no longer bounds a
transfer. A trailer rather than a header still lets the first byte leave at once.

On an emulated link the receiver also paces its reading against its node's NIC (`Ingress`):
everything arriving at a node at once shares that rate. It tells the sender, in its answer's
`X-Jupiter-Held` header, how long it held the body back, so that the sender's `HostPath` does
not count the emulated NIC's time as the host's.

On a fast path (emulator off, a large body) both ends move bytes as a plain socket copy
would: the sender hands the file to the kernel with sendfile while a thread hashes it, and
the receiver reads the body straight from the socket in a thread that hashes and writes it
(aiohttp's parser and stream cost more than the copy itself). That connection then closes
after its answer. Over TLS, whose bytes are encrypted in user space, the sender writes the
file in large reads instead, and the receiver reads through aiohttp's stream.
"""

from __future__ import annotations

import asyncio
import mmap
import os
import select
import weakref
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import aiohttp
import xxhash
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
DIGEST_NAME = "xxh3-128"
DIGEST_SCHEME = f"{DIGEST_NAME}-trailer"
DIGEST_BYTES = 16
# The receiver's answer: seconds its NIC held the body back, which is not the host's tail.
HELD_HEADER = "X-Jupiter-Held"
# Below this, a thread hop costs more than the hashing and writing it would move off the loop.
THREAD_MIN_BYTES = 256 * 1024
# A receiving thread's reads from the socket: as large as a plain socket copy's.
SOCKET_READ_BYTES = 1024 * 1024
# A streamed body goes to the writing thread in batches this large, at most this many
# waiting, so a slow disk holds back the socket (and so the sender) instead of filling memory.
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


def new_digest() -> Any:
    """A running digest of the wire format's scheme (`update`, then `digest`)."""
    return xxhash.xxh3_128()


def payload_digest(data: bytes | memoryview) -> bytes:
    """The trailer that follows `data` on the wire."""
    return xxhash.xxh3_128_digest(data)


async def signed_chunks(path: Path) -> AsyncIterator[bytes]:
    """The file's chunks, then their digest.

    A large file is read and hashed in a thread one chunk ahead of the consumer, so that
    on a paced (emulated) link the hashing hides behind the pacing; the first chunk is
    small, so the first byte leaves at once.
    """
    digest = new_digest()

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


def file_digest(path: Path) -> bytes:
    """The file's digest, read through a mapping so the bytes are not copied first."""
    digest = new_digest()
    with path.open("rb") as handle:
        if os.fstat(handle.fileno()).st_size:
            with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
                digest.update(mapped)
    return digest.digest()


class SignedFile(Payload):
    """A whole file, then its digest: the body of an unemulated transfer.

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
            await writer.write(data + payload_digest(data))
            return
        loop = asyncio.get_running_loop()
        hashing = loop.run_in_executor(None, file_digest, self._path)
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
    itself. (A compressing writer is also a chunked one, and declares no length.) Not over
    TLS either: the bytes must be encrypted in user space, and asyncio's stand-in for
    sendfile there reads 16 KiB at a time, a thread hop each (a third of a bare TLS copy's
    speed); large reads written to the TLS transport are as fast as the encryption.
    """
    if not isinstance(writer, StreamWriter) or writer.chunked or content_length != size:
        return None
    transport = writer.transport
    if (
        transport is None
        or transport.is_closing()
        or transport.get_extra_info("ssl_object") is not None
    ):
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


class _DigestingWriter:
    """Hashes a stream of pieces as they come and writes them to `handle` in order.

    xxh3 keeps up with memory, so hashing stays on the event loop. Writing may wait on the
    disk, so a large stream (`threaded`) goes to a writing thread in batches, at most
    MAX_PENDING_BATCHES of them waiting: a slow disk then holds back the socket, and so the
    sender, instead of filling memory.
    """

    def __init__(self, handle: BinaryIO, threaded: bool) -> None:
        self.digest = new_digest()
        self._handle = handle
        self._batch: list[bytes | memoryview] = []
        self._batch_bytes = 0
        self._pending: deque[asyncio.Future[None]] = deque()
        self._writer = ThreadPoolExecutor(1, "jupiter-write") if threaded else None

    async def add(self, piece: bytes | memoryview) -> None:
        if not piece:
            return
        self.digest.update(piece)
        if self._writer is None:
            self._handle.write(piece)
            return
        self._batch.append(piece)
        self._batch_bytes += len(piece)
        if self._batch_bytes >= BATCH_BYTES:
            await self._flush()

    async def finish(self) -> bytes:
        """The digest of everything added, once all of it is on disk."""
        await self._flush()
        while self._pending:
            await self._pending.popleft()
        return self.digest.digest()

    def close(self) -> None:
        # Waits for writes already handed out, so the file is not closed under the thread.
        if self._writer is not None:
            self._writer.shutdown(wait=True)

    async def _flush(self) -> None:
        if not self._batch:
            return
        batch, self._batch, self._batch_bytes = self._batch, [], 0
        loop = asyncio.get_running_loop()
        self._pending.append(loop.run_in_executor(self._writer, self._handle.writelines, batch))
        while len(self._pending) > MAX_PENDING_BATCHES:
            await self._pending.popleft()


class SignedBody:
    """A request body in the wire format, read piece by piece: `pieces()` yields the payload
    and enforces the size limit; afterwards `trailer` holds the sender's digest and `size`
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
    """Stream the request body into `destination`, checking its size and digest.

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
            socket = _claim_socket(request, body) if ingress is None else None
            if socket is not None:
                with socket:
                    digest = await socket.read_into(handle, body)
            else:
                digest = await _stream_into(handle, body)
        if not body.matches(digest):
            raise web.HTTPUnprocessableEntity(text=f"{DIGEST_NAME} mismatch; send again")
        partial.replace(destination)
    finally:
        partial.unlink(missing_ok=True)
    return Received(body.size, body.held)


async def _stream_into(handle: BinaryIO, body: SignedBody) -> bytes:
    """The body through aiohttp's stream, piece by piece; returns the payload's digest."""
    # One of unknown length is a paced, emulated stream: its small pieces are cheapest
    # written as they come.
    sink = _DigestingWriter(handle, threaded=(body.declared or 0) >= THREAD_MIN_BYTES)
    try:
        async for piece in body.pieces():
            await sink.add(piece)
        return await sink.finish()
    finally:
        sink.close()


# Requests whose connection cannot serve another request: their body was read from the
# socket directly, so aiohttp's parser never saw the end of it.
# (A request is a mapping, so not hashable: kept by id, and alive only as long as it is.)
_SOCKET_TAKEN: weakref.WeakValueDictionary[int, web.Request] = weakref.WeakValueDictionary()


def _socket_taken(request: web.Request) -> bool:
    return _SOCKET_TAKEN.get(id(request)) is request


@web.middleware
async def close_taken_connections(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Answers `Connection: close` on a connection whose body `receive_file` read itself,
    so the client does not send its next request on a connection about to close."""
    try:
        response = await handler(request)
    except web.HTTPException as error:
        if _socket_taken(request):
            error.force_close()
        raise
    if _socket_taken(request):
        response.force_close()
    return response


def _claim_socket(request: web.Request, body: SignedBody) -> _TakenSocket | None:
    """The request's socket, if the rest of its body may be read from it directly.

    Worth it for a large body of declared length on a plain connection (TLS bytes need the
    transport's decryption): a thread then reads, hashes and writes it as a socket copy
    would, with no pass through aiohttp's parser and stream. The connection closes after the
    answer, since aiohttp's parser is left expecting the body.
    """
    transport = request.transport
    declared = body.declared or 0
    if (
        declared < THREAD_MIN_BYTES
        or transport is None
        or transport.is_closing()
        or transport.get_extra_info("ssl_object") is not None
        or transport.get_extra_info("socket") is None
        or request.content.is_eof()
        or request.content.exception() is not None
    ):
        return None
    fd = transport.get_extra_info("socket").fileno()
    if fd < 0:
        return None
    # What aiohttp already read is taken first; then it reads no more of this connection.
    already: list[bytes] = []
    while chunk := request.content.read_nowait():
        already.append(chunk)
    # aiohttp must not wait for the rest of the body (it lingers up to 10 s for it), and
    # must close the connection after the answer. Its end of stream resumes reading, so
    # the pause comes after it; no read happens in between, as the loop does not run.
    request.content.feed_eof()
    request.protocol.pause_reading()
    request.protocol.close()
    _SOCKET_TAKEN[id(request)] = request
    # Our own descriptor: if the server closes the transport meanwhile, the thread must not
    # go on reading a number that the kernel may have handed to another file.
    return _TakenSocket(os.dup(fd), already)


class _TakenSocket:
    """A duplicate of a request's socket, read to the end of the body in a thread of its own
    (never a shared pool's: a transfer that waits on its peer must not hold up others)."""

    def __init__(self, fd: int, already: list[bytes]) -> None:
        self._fd = fd
        self._already = already
        # Written on cancellation: wakes the reading thread out of its wait for the peer.
        self._stop_read, self._stop_write = os.pipe()

    def __enter__(self) -> _TakenSocket:
        return self

    def __exit__(self, *_: object) -> None:
        for fd in (self._fd, self._stop_read, self._stop_write):
            os.close(fd)

    async def read_into(self, handle: BinaryIO, body: SignedBody) -> bytes:
        """Reads the rest of the body; returns the payload's digest and leaves the sender's
        in `body.trailer`."""
        declared = body.declared or 0
        sink = _KnownLength(handle, declared - DIGEST_BYTES)
        for chunk in self._already:
            sink.feed(chunk)
        remaining = declared - sum(len(chunk) for chunk in self._already)
        pool = ThreadPoolExecutor(1, "jupiter-receive")
        reading = asyncio.get_running_loop().run_in_executor(pool, self._read, remaining, sink)
        try:
            await asyncio.shield(reading)
        except TimeoutError:
            raise web.HTTPRequestTimeout(text="body not sent in time") from None
        except ConnectionError as error:
            raise web.HTTPBadRequest(text=f"body unreadable: {error}") from None
        finally:
            if not reading.done():
                os.write(self._stop_write, b"\0")
            await asyncio.wait([reading])
            pool.shutdown(wait=True)
        body.trailer = bytes(sink.trailer)
        body.size = declared - DIGEST_BYTES
        return sink.digest.digest()

    def _read(self, remaining: int, sink: _KnownLength) -> None:
        buffer = memoryview(bytearray(SOCKET_READ_BYTES))
        poller = select.poll()
        poller.register(self._fd, select.POLLIN)
        poller.register(self._stop_read, select.POLLIN)
        while remaining:
            try:
                count = os.readv(self._fd, [buffer[: min(remaining, len(buffer))]])
            except BlockingIOError:
                ready = poller.poll(BODY_IDLE_TIMEOUT_S * 1000)
                if not ready:
                    raise TimeoutError from None
                if any(fd == self._stop_read for fd, _ in ready):
                    return  # the request was cancelled; nothing waits for the result
                continue
            if count == 0:
                raise ConnectionResetError("the sender closed the connection mid-body")
            sink.feed(buffer[:count])
            remaining -= count


class _KnownLength:
    """A body of known length: its payload hashed and written, its last bytes the trailer."""

    def __init__(self, handle: BinaryIO, payload_bytes: int) -> None:
        self.digest = new_digest()
        self.trailer = bytearray()
        self._handle = handle
        self._payload_left = payload_bytes

    def feed(self, piece: bytes | memoryview) -> None:
        take = min(len(piece), self._payload_left)
        if take:
            payload = piece[:take]
            self.digest.update(payload)
            self._handle.write(payload)
            self._payload_left -= take
        self.trailer += piece[take:]
