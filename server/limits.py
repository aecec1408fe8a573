"""Request body size limits: 413 with a JSON body before a large body is ever held in memory.

A declared ``Content-Length`` over the limit is refused before anything is read; a
chunked body is counted as it arrives and refused the moment it passes the limit (the
route reading it stops there). ``Connection: close`` on the 413 makes the server drop
the connection afterwards. Before answering, up to ``DRAIN_MAX_BYTES`` of the unread
body are read and discarded (for at most ``DRAIN_TIMEOUT_S``): closing a socket with
unread data makes the kernel send a reset, and a client that sends its whole body before
reading (Python's urllib) would get "connection reset" instead of the 413. A client that
sends nothing more (it waits for the answer to its headers) gets the 413 once
``DRAIN_IDLE_S`` pass without data, not after the whole drain timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from askwiki.ingest.loaders.files import format_size
from askwiki.server.asgi import header, send_json
from askwiki.settings import Settings

logger = logging.getLogger(__name__)

UPLOAD_ROUTE = ("POST", "/api/admin/documents")
DRAIN_MAX_BYTES = 64 * 1024 * 1024
DRAIN_TIMEOUT_S = 10.0
DRAIN_IDLE_S = 1.0


class BodyTooLarge(HTTPException):
    """Raised into the app from ``receive`` when the body passes its limit."""

    def __init__(self, detail: str) -> None:
        super().__init__(status_code=413, detail=detail)


class BodyLimitMiddleware:
    """Pure ASGI (streamed answers and uploads pass through untouched)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        default: tuple[int, str],
        uploads: dict[tuple[str, str], tuple[int, str]],
    ) -> None:
        self.app = app
        self.default = default
        self.uploads = uploads

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, setting = self.default
        if header(scope, b"content-type").lower().startswith(b"multipart/form-data"):
            limit, setting = self.uploads.get((scope["method"], scope["path"]), self.default)
        detail = f"Request body larger than {format_size(limit)}; the limit is {setting}"
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            logger.info(
                "Refused %s %s: declares %d bytes", scope["method"], scope["path"], declared
            )
            await _drain(receive)
            await _too_large(send, detail, limit)
            return
        received = 0
        exceeded = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            if exceeded:  # the app caught our error and asked again: the body is over
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise BodyTooLarge(detail)
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                return  # whatever the app answers to our error, the client gets the 413 below
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        # The app normally turns our error into a response (dropped above); if it lets
        # the error through instead, the 413 below answers all the same.
        with contextlib.suppress(BodyTooLarge):
            await self.app(scope, limited_receive, guarded_send)
        if exceeded and not started:
            logger.info("Refused %s %s: body over %d bytes", scope["method"], scope["path"], limit)
            await _drain(receive)
            await _too_large(send, detail, limit)


async def _drain(receive: Receive) -> None:
    """Read and drop the rest of the body, within ``DRAIN_MAX_BYTES`` and ``DRAIN_TIMEOUT_S``."""

    async def read_rest() -> None:
        drained = 0
        while drained <= DRAIN_MAX_BYTES:
            message = await asyncio.wait_for(receive(), DRAIN_IDLE_S)
            if message["type"] != "http.request":
                return
            drained += len(message.get("body", b""))
            if not message.get("more_body", False):
                return

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(read_rest(), DRAIN_TIMEOUT_S)


def _content_length(scope: Scope) -> int | None:
    try:
        return int(header(scope, b"content-length"))
    except ValueError:
        return None


async def _too_large(send: Send, detail: str, limit: int) -> None:
    payload = {"error": "too_large", "detail": detail, "limit_bytes": limit}
    await send_json(send, 413, payload, headers=[(b"connection", b"close")])


def install_body_limit(app: FastAPI, settings: Settings) -> None:
    """Every body gets ASKWIKI_MAX_BODY_KB (JSON pages posted to the admin API too), but
    a multipart upload of files gets ASKWIKI_MAX_UPLOAD_MB.

    Add it before the rate limiter and CORS, so those wrap it: a client over its rate
    budget is refused before its body is read, and a 413 carries CORS headers.
    """
    default = (settings.max_body_kb * 1024, "ASKWIKI_MAX_BODY_KB")
    upload = (int(settings.max_upload_mb * 1024 * 1024), "ASKWIKI_MAX_UPLOAD_MB")
    app.add_middleware(BodyLimitMiddleware, default=default, uploads={UPLOAD_ROUTE: upload})
