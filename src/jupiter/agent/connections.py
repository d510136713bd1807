"""A listening site that caps its open connections, so that idle clients cannot exhaust the
process's file descriptors.

aiohttp has no public per-connection cap, so `CappedSite` is a `web.BaseSite` (aiohttp's
extension point for sites) that listens with `loop.create_server` itself and hands each
admitted connection to the runner's public protocol factory (`runner.server`). The only
thing it adds is a `ConnectionGate` between the two: at the cap, a new connection first
evicts the oldest connection that has not sent a byte since it opened (an idle or abandoned
client; a peer's pooled connection has sent requests and is never evicted) and is refused
(closed at once) only if there is none. Connections that stall mid-header are closed by
aiohttp's keep-alive timeout, which runs from the moment a connection opens.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections import OrderedDict
from collections.abc import Callable

from aiohttp import web

log = logging.getLogger(__name__)


class ConnectionGate:
    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("a server needs room for at least one connection")
        self.limit = limit
        self.open = 0
        self.refused = 0
        self.evicted = 0
        # Connections that have not sent a byte yet, oldest first.
        self._silent: OrderedDict[_Gated, asyncio.BaseTransport] = OrderedDict()

    def admit(self, connection: _Gated, transport: asyncio.BaseTransport) -> bool:
        if self.open >= self.limit and self._silent:
            oldest, oldest_transport = self._silent.popitem(last=False)
            oldest.evicted = True
            self.open -= 1
            self.evicted += 1
            oldest_transport.abort()
        if self.open >= self.limit:
            self.refused += 1
            if self.refused == 1 or self.refused % 1000 == 0:
                log.warning("connection limit %d reached: refused %d", self.limit, self.refused)
            return False
        self.open += 1
        self._silent[connection] = transport
        return True

    def spoke(self, connection: _Gated) -> None:
        self._silent.pop(connection, None)

    def release(self, connection: _Gated) -> None:
        self._silent.pop(connection, None)
        if not connection.evicted:
            self.open -= 1


class _Gated(asyncio.Protocol):
    """Passes every protocol event to aiohttp's handler, telling the gate when the
    connection opens, first speaks and closes."""

    def __init__(self, gate: ConnectionGate, factory: Callable[[], asyncio.Protocol]) -> None:
        self.gate = gate
        self.factory = factory
        self.inner: asyncio.Protocol | None = None
        self.evicted = False
        self.silent = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if not self.gate.admit(self, transport):
            transport.abort()
            return
        self.inner = self.factory()
        self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self.inner is None:
            return
        if self.silent:
            self.silent = False
            self.gate.spoke(self)
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return None if self.inner is None else self.inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.inner is None:
            return
        self.gate.release(self)
        self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self.inner is not None:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.inner is not None:
            self.inner.resume_writing()


class CappedSite(web.BaseSite):
    """A TCP site whose open connections never exceed `max_connections`."""

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str,
        port: int,
        max_connections: int,
        backlog: int = 128,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(runner, backlog=backlog, ssl_context=ssl_context)
        self.host = host
        self.port = port
        self.gate = ConnectionGate(max_connections)

    @property
    def name(self) -> str:
        scheme = "https" if self._ssl_context is not None else "http"
        return f"{scheme}://{self.host}:{self.port}"

    async def start(self) -> None:
        await super().start()
        factory = self._runner.server
        assert factory is not None  # BaseSite refuses a runner that is not set up
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Gated(self.gate, factory),
            self.host,
            self.port,
            backlog=self._backlog,
            reuse_address=True,
            ssl=self._ssl_context,
        )
