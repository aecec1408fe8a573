"""``/mcp`` in ``askwiki serve``: the MCP tools over streamable HTTP (``ASKWIKI_MCP=true``).

Stateless and JSON: every POST is one self-contained MCP exchange, so nothing is held per
client between calls and replicas behind a load balancer need no sticky sessions. Tool
calls count against the public API's per-IP budgets (``ask_wiki`` against the ask budget,
the other tools against the search budget) in the same limiter, so an agent cannot get
around ``ASKWIKI_RATE_LIMIT_PER_MINUTE`` by switching endpoints.
"""

from __future__ import annotations

import hmac
import logging
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.requests import Request
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from askwiki.server.asgi import header, send_json
from askwiki.server.mcp.tools import Admit, ToolKind, WikiAccess, build_mcp_server
from askwiki.server.ratelimit import RateLimiter, ask_budget, client_ip, search_budget
from askwiki.settings import Settings

logger = logging.getLogger(__name__)

MCP_PATH = "/mcp"
LOOPBACK_HOSTS = ["127.0.0.1", "127.0.0.1:*", "localhost", "localhost:*", "[::1]", "[::1]:*"]
LOOPBACK_ORIGINS = ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]


def install_mcp(app: FastAPI, settings: Settings) -> None:
    """Add the ``/mcp`` route when ``ASKWIKI_MCP`` is on; ``run_mcp`` serves it."""
    if not settings.mcp:
        return
    if settings.mcp_token is None:
        logger.info("MCP endpoint %s is open (ASKWIKI_MCP_TOKEN is unset)", MCP_PATH)
    # A plain Starlette route: the endpoint is an ASGI app, not a FastAPI handler.
    app.router.routes.append(
        Route(MCP_PATH, McpEndpoint(app, settings), methods=["GET", "POST", "DELETE"], name="mcp")
    )


@asynccontextmanager
async def run_mcp(app: FastAPI, settings: Settings) -> AsyncIterator[None]:
    """Run the MCP server for the app's lifetime (entered by the app's lifespan)."""
    if not settings.mcp:
        yield
        return
    admit = rate_limit_admit(getattr(app.state, "rate_limiter", None), settings)

    def access() -> WikiAccess:
        return WikiAccess(settings, app.state.live_index, app.state.answers, admit)

    server = build_mcp_server(access)
    # Builds the session manager; the Starlette app it returns is not used (the route is ours).
    server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        stateless_http=True,
        json_response=True,
        transport_security=transport_security(settings),
    )
    manager = server.session_manager
    async with manager.run():
        app.state.mcp = manager
        try:
            yield
        finally:
            app.state.mcp = None


def transport_security(settings: Settings) -> TransportSecuritySettings:
    """DNS-rebinding protection: only this server's own names may reach /mcp from a browser.

    Loopback names always; the public URL's host (behind a reverse proxy) and the widget's
    allowed origins too. Bound to every interface (``0.0.0.0``) without a public URL, any
    Host is accepted: there is no single name to check.
    """
    public = urlsplit(settings.public_url) if settings.public_url else None
    if public is None and settings.host not in ("127.0.0.1", "localhost", "::1"):
        return TransportSecuritySettings(enable_dns_rebinding_protection=False)
    hosts = list(LOOPBACK_HOSTS)
    origins = [*LOOPBACK_ORIGINS, *settings.origins]
    if public is not None and public.netloc:
        hosts.append(public.netloc)
        origins.append(f"{public.scheme}://{public.netloc}")
    return TransportSecuritySettings(allowed_hosts=hosts, allowed_origins=origins)


def rate_limit_admit(limiter: object, settings: Settings) -> Admit | None:
    """Count a tool call against the caller's per-IP budget; over it, a tool error.

    The tools run in worker threads and count synchronously, in the API's own in-process
    limiter. With Redis (ASKWIKI_REDIS_URL) the API's limits are shared by the replicas but
    tool calls are counted per replica, in a limiter of their own.
    """
    budgets = {"ask": ask_budget(settings), "search": search_budget(settings)}
    if not any(budgets.values()):
        return None
    if not isinstance(limiter, RateLimiter):
        logger.info("MCP tool calls are rate-limited per replica (the API's limits are shared)")
        limiter = RateLimiter()
    local: RateLimiter = limiter

    def admit(kind: ToolKind, request: Any) -> None:
        budget = budgets[kind]
        if budget is None or not isinstance(request, Request):
            return
        ip = client_ip(request.scope, settings.trusted_proxy_hops)
        wait = local.acquire([(budget, ip)])
        if wait > 0:
            retry_after = max(1, math.ceil(wait))
            logger.info("Rate limited MCP %s call from %s: retry in %d s", kind, ip, retry_after)
            raise ToolError(f"rate_limited: Too many questions; retry in {retry_after} s.")

    return admit


class McpEndpoint:
    """The ``/mcp`` route: checks the bearer token, then hands over to the SDK's transport."""

    def __init__(self, app: FastAPI, settings: Settings) -> None:
        self.app = app
        token = settings.mcp_token
        self.token = token.get_secret_value().encode("utf-8") if token is not None else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.token is not None and not hmac.compare_digest(_bearer(scope), self.token):
            await _refuse(
                send,
                401,
                "unauthorized",
                "Missing or wrong MCP token; send 'Authorization: Bearer <ASKWIKI_MCP_TOKEN>'",
            )
            return
        manager: StreamableHTTPSessionManager | None = getattr(self.app.state, "mcp", None)
        if manager is None:
            await _refuse(send, 503, "starting", "The MCP server is not running yet; retry")
            return
        await manager.handle_request(scope, receive, send)


def _bearer(scope: Scope) -> bytes:
    scheme, _, credentials = header(scope, b"authorization").partition(b" ")
    return credentials.strip() if scheme.lower() == b"bearer" else b""


async def _refuse(send: Send, status: int, error: str, detail: str) -> None:
    challenge = [(b"www-authenticate", b"Bearer")] if status == 401 else []
    await send_json(send, status, {"error": error, "detail": detail}, challenge)
