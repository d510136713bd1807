"""Run-token authentication shared by every agent and the home server."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable

from aiohttp import web

TOKEN_HEADER = "Authorization"
TOKEN_ENV = "JUPITER_TOKEN"
# Paths that answer without the token: liveness probes must work before anyone knows it.
PUBLIC_PATHS = frozenset({"/health"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def new_token() -> str:
    return secrets.token_urlsafe(32)


def auth_headers(token: str) -> dict[str, str]:
    return {TOKEN_HEADER: f"Bearer {token}"}


def token_middleware(token: str) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    expected = f"Bearer {token}".encode()

    @web.middleware
    async def check_token(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path not in PUBLIC_PATHS:
            given = request.headers.get(TOKEN_HEADER, "").encode()
            # compare_digest: the time taken must not reveal how much of the token matched.
            if not hmac.compare_digest(given, expected):
                raise web.HTTPUnauthorized(text="missing or wrong run token")
        return await handler(request)

    return check_token
