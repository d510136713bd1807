"""What aiohttp's server logs about requests it could not handle, sorted into the client's
mistakes and the server's faults.

aiohttp logs both the same way: a malformed request line or header, a body that cannot be
decoded, a client that hung up mid-body, and a handler's bug all become "Error handling
request" at ERROR with a traceback. A client sending garbage would thus write a traceback
per request into the agent's log. `ServerErrorLog` (given to the runner as its public
`logger` argument) keeps the traceback for genuine faults and turns a client's mistake into
one debug line.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from aiohttp import web
from aiohttp.http import HttpProcessingError

log = logging.getLogger(__name__)

ExcInfo = (
    bool
    | BaseException
    | tuple[type[BaseException], BaseException, TracebackType | None]
    | tuple[None, None, None]
    | None
)


def client_fault(error: BaseException | None) -> bool:
    """Whether `error` is the client's doing: a request aiohttp could not parse (always
    answered 4xx) or a client that went away."""
    if isinstance(error, HttpProcessingError):
        return error.code < 500
    return isinstance(error, ConnectionError | web.RequestPayloadError)


class ServerErrorLog(logging.LoggerAdapter[logging.Logger]):
    def __init__(self, logger: logging.Logger = log) -> None:
        super().__init__(logger, {})

    def exception(
        self,
        msg: object,
        *args: object,
        exc_info: ExcInfo = True,
        stack_info: bool = False,
        stacklevel: int = 1,
        extra: Mapping[str, object] | None = None,
        **kwargs: Any,
    ) -> None:
        error = _error_of(exc_info)
        if client_fault(error):
            said = str(msg) % args if args else str(msg)
            reason = " ".join(str(error).split())
            self.logger.debug("%s: %s: %s", said, type(error).__name__, reason, extra=extra)
            return
        self.logger.error(msg, *args, exc_info=exc_info, stacklevel=stacklevel, extra=extra)


def _error_of(exc_info: ExcInfo) -> BaseException | None:
    if exc_info is True:
        return sys.exc_info()[1]
    if isinstance(exc_info, BaseException):
        return exc_info
    if isinstance(exc_info, tuple):
        return exc_info[1]
    return None
