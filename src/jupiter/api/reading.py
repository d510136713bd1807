"""Reading what a client sent: a JSON body or a query into its model, a path segment into an
input id. Whatever the client got wrong is an HTTP 4xx with a one-line reason, never a 500:
the server's log is for the server's own faults.
"""

from __future__ import annotations

import asyncio
import re
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from jupiter.api.models import MAX_INPUT_ID

Model = TypeVar("Model", bound=BaseModel)

# The largest JSON body any endpoint takes (a deployment or a probing plan for a few thousand
# nodes); data moves through the streamed endpoints instead.
MAX_JSON_BYTES = 4 * 1024 * 1024
# Longest a client may take between two pieces of a body before the request is dropped.
BODY_IDLE_TIMEOUT_S = 60.0
# Digits only: int() would also take "+3", " 3", "3_000" and other scripts' digits.
_DIGITS = re.compile(r"[0-9]{1,16}")


def first_error(error: ValidationError) -> str:
    """A validation error in one line: where, and what was wrong."""
    details = error.errors(include_url=False)
    first = details[0]
    where = ".".join(str(part) for part in first["loc"])
    more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
    message = " ".join(str(first["msg"]).split())
    return f"{where}: {message}{more}" if where else f"{message}{more}"


async def read_raw(request: web.Request, limit: int = MAX_JSON_BYTES) -> bytes:
    """The whole body, at most `limit` bytes, each piece within the idle timeout."""
    declared = request.content_length
    if declared is not None and declared > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=declared)
    raw = bytearray()
    try:
        while True:
            async with asyncio.timeout(BODY_IDLE_TIMEOUT_S):
                piece = await request.content.readany()
            if not piece:
                return bytes(raw)
            raw += piece
            if len(raw) > limit:
                raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=len(raw))
    except TimeoutError:
        raise web.HTTPRequestTimeout(text="body not sent in time") from None
    except (ConnectionError, web.RequestPayloadError) as error:
        # The client went away or mangled its framing: nobody to answer, nothing to log.
        raise web.HTTPBadRequest(text=f"body unreadable: {error}") from None


async def read_body(request: web.Request, model: type[Model], *, optional: bool = False) -> Model:
    """The JSON body as `model`; with `optional`, an empty body is the model's defaults."""
    raw = await read_raw(request)
    if optional and not raw.strip():
        raw = b"{}"
    try:
        # pydantic's JSON parser caps nesting depth and number size, and refuses invalid
        # UTF-8: every malformed body ends here as one ValidationError.
        return model.model_validate_json(raw)
    except ValidationError as error:
        raise web.HTTPBadRequest(text=f"bad {model.__name__} body: {first_error(error)}") from None


def read_query(request: web.Request, model: type[Model]) -> Model:
    """The query string as `model` (a repeated key: its first value)."""
    query = {key: request.query.getone(key) for key in request.query}
    try:
        return model.model_validate(query)
    except ValidationError as error:
        raise web.HTTPBadRequest(text=f"bad query: {first_error(error)}") from None


def input_id(text: str) -> int:
    """A path segment as an input id: decimal digits, below MAX_INPUT_ID."""
    if not _DIGITS.fullmatch(text) or int(text) >= MAX_INPUT_ID:
        raise web.HTTPBadRequest(text=f"input id must be an integer in [0, {MAX_INPUT_ID})")
    return int(text)


def answer(body: BaseModel, status: int = 200) -> web.Response:
    """`body` as a JSON response."""
    return web.Response(text=body.model_dump_json(), status=status, content_type="application/json")
