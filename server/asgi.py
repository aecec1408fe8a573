"""What pure ASGI middleware needs to answer on its own: read a header, send a response.

The body limit, the rate limiter and the MCP token check answer before the app (and
before FastAPI's error handlers) with a complete response of known length.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from starlette.types import Scope, Send

JSON = b"application/json"


def header(scope: Scope, name: bytes) -> bytes:
    """The first value of request header ``name`` (lowercase), or ``b""``."""
    return next((value for key, value in scope.get("headers", []) if key == name), b"")


async def send_response(
    send: Send,
    status: int,
    body: bytes,
    *,
    content_type: bytes = JSON,
    headers: Sequence[tuple[bytes, bytes]] = (),
) -> None:
    """A whole response: ``Content-Type``, ``Content-Length``, then ``headers``."""
    start = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": [*start, *headers]})
    await send({"type": "http.response.body", "body": body})


async def send_json(
    send: Send, status: int, payload: object, headers: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    """``payload`` as a JSON response."""
    await send_response(send, status, json.dumps(payload).encode(), headers=headers)
