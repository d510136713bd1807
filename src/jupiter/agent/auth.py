"""Run-token authentication shared by every agent and the home server."""

from __future__ import annotations

import hmac
import os
import secrets
from collections.abc import Awaitable, Callable

from aiohttp import web

from jupiter.api.paths import PUBLIC

TOKEN_HEADER = "Authorization"
TOKEN_ENV = "JUPITER_TOKEN"
SCHEME = "Bearer "
# Paths that answer without the token: liveness probes must work before anyone knows it.
PUBLIC_PATHS = PUBLIC
REFUSAL = "missing or wrong run token"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def environment_without_token() -> dict[str, str]:
    """This process's environment for a child, minus the token: tasks must not read it."""
    return {name: value for name, value in os.environ.items() if name != TOKEN_ENV}


def new_token() -> str:
    return secrets.token_urlsafe(32)


def auth_headers(token: str) -> dict[str, str]:
    return {TOKEN_HEADER: f"{SCHEME}{token}"}


def presented_token(header: str) -> bytes | None:
    """The token in an Authorization header value, or None if the value is malformed.

    aiohttp hands over undecodable header bytes as lone surrogates, which no codec encodes:
    only printable ASCII can be a token.
    """
    if not header.startswith(SCHEME) or not (header.isascii() and header.isprintable()):
        return None
    return header[len(SCHEME) :].encode("ascii")


def token_middleware(token: str) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    expected = token.encode()

    @web.middleware
    async def check_token(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path not in PUBLIC_PATHS:
            given = presented_token(request.headers.get(TOKEN_HEADER, ""))
            # compare_digest: the time taken must not reveal how much of the token matched.
            if given is None or not hmac.compare_digest(given, expected):
                raise web.HTTPUnauthorized(text=REFUSAL)
        return await handler(request)

    return check_token
