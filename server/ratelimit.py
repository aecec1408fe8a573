"""Per-IP and per-session rate limits on the public ask endpoints and the admin sign-in.

In one process's memory by default; with ASKWIKI_REDIS_URL, shared by every replica
through Redis (``ratelimit_redis``), with the same semantics. A sliding-window log per key: at most ``limit`` requests in any ``window_s`` seconds, so
"30 per minute" means exactly that, and ``Retry-After`` says when the oldest request in
the window expires. Keys idle for a whole window are evicted, and the number of keys is
capped, so memory stays bounded whatever the traffic.
"""

from __future__ import annotations

import inspect
import logging
import math
import re
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from askwiki.server.asgi import header, send_json, send_response
from askwiki.server.metrics import ROUTE_KEY, Metrics
from askwiki.settings import Settings

logger = logging.getLogger(__name__)

SESSION_HEADER = b"x-askwiki-session"
_SESSION_ID = re.compile(rb"^[A-Za-z0-9_-]{8,64}$")
# Retrieval only (no LLM) is cheap, so search gets a larger budget than asking.
SEARCH_BUDGET_FACTOR = 4


class LimiterUnavailable(Exception):
    """Raised by a shared limiter that cannot be reached while limits fail closed."""


@dataclass(frozen=True)
class Budget:
    """A named limit: ``limit`` requests per ``window_s`` seconds for each key."""

    name: str
    limit: int
    window_s: float = 60.0
    # What the 429 says is too frequent, in English and Chinese.
    refusal: tuple[str, str] = ("Too many questions", "提问太频繁")


# Guessing an admin token through the sign-in form: 10 tries per address per 15 minutes,
# whatever ASKWIKI_RATE_LIMIT_PER_MINUTE says (it governs the public endpoints).
SIGN_IN_BUDGET = Budget(
    "ip-admin-sign-in", 10, 900.0, ("Too many sign-in attempts", "登录尝试太频繁")
)


@dataclass(frozen=True)
class RouteLimit:
    """The budgets of one endpoint: per client IP, and optionally per widget session."""

    ip: Budget | None
    session: Budget | None = None


@dataclass
class _Window:
    window_s: float
    hits: deque[float] = field(default_factory=deque)
    last_seen: float = 0.0


class RateLimiter:
    """Sliding-window counters for several budgets under one lock (thread-safe)."""

    def __init__(self, max_keys: int = 20_000, clock: Callable[[], float] = time.monotonic):
        self.max_keys = max_keys
        self._clock = clock
        self._lock = threading.Lock()
        self._warned = False
        # Ordered by last use, so idle keys are at the front.
        self._windows: OrderedDict[tuple[str, str], _Window] = OrderedDict()

    def __len__(self) -> int:
        return len(self._windows)

    def acquire(self, hits: Sequence[tuple[Budget, str]]) -> float:
        """Count one request against every ``(budget, key)`` if all allow it.

        Returns 0 when the request may proceed, else the seconds until it would be allowed
        (nothing is counted then, so a rejected request does not extend the wait).
        """
        with self._lock:
            now = self._clock()
            self._evict_idle(now)
            windows = [(budget, self._window(budget, key, now)) for budget, key in hits]
            wait = 0.0
            for budget, window in windows:
                while window.hits and window.hits[0] <= now - budget.window_s:
                    window.hits.popleft()
                if len(window.hits) >= budget.limit:
                    wait = max(wait, window.hits[0] + budget.window_s - now)
            if wait > 0:
                return wait
            for _, window in windows:
                window.hits.append(now)
            return 0.0

    def _window(self, budget: Budget, key: str, now: float) -> _Window:
        ident = (budget.name, key)
        window = self._windows.get(ident)
        if window is None:
            window = self._windows[ident] = _Window(budget.window_s)
            if len(self._windows) > self.max_keys:
                # Over the cap even after evicting idle keys: drop the least recently used.
                self._windows.popitem(last=False)
                if not self._warned:
                    self._warned = True
                    logger.warning(
                        "Rate limiter is full (%d keys); dropping the oldest", self.max_keys
                    )
        else:
            self._windows.move_to_end(ident)
        window.last_seen = now
        return window

    def _evict_idle(self, now: float) -> None:
        while self._windows:
            ident, window = next(iter(self._windows.items()))
            if now - window.last_seen < window.window_s:
                return
            del self._windows[ident]


def client_ip(scope: Scope, trusted_hops: int) -> str:
    """The peer address, or with ``trusted_hops`` proxies in front, the address they saw."""
    peer = scope.get("client")
    address = peer[0] if peer else "unknown"
    if trusted_hops <= 0:
        return str(address)
    forwarded = [
        value.decode("latin-1")
        for name, value in scope.get("headers", [])
        if name == b"x-forwarded-for"
    ]
    chain = [part.strip() for part in ",".join(forwarded).split(",") if part.strip()]
    if not chain:
        return str(address)
    # Each trusted proxy appends the address it received from; entries further left can be forged.
    return chain[-min(trusted_hops, len(chain))]


def _session(scope: Scope) -> str | None:
    value = header(scope, SESSION_HEADER)
    return value.decode("ascii") if _SESSION_ID.match(value) else None


class Limiter(Protocol):
    """What the middleware needs: ``RateLimiter`` (sync) or ``RedisRateLimiter`` (async)."""

    def acquire(self, hits: Sequence[tuple[Budget, str]]) -> float | Awaitable[float]: ...


class RateLimitMiddleware:
    """ASGI middleware answering 429 with ``Retry-After`` when a client is over its budget.

    Pure ASGI (not ``BaseHTTPMiddleware``) so streamed answers pass through untouched.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        routes: dict[tuple[str, str], RouteLimit],
        trusted_hops: int = 0,
        limiter: Limiter | RateLimiter | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.app = app
        self.routes = routes
        self.trusted_hops = trusted_hops
        # Not `limiter or ...`: an empty limiter has len() 0, so it is falsy.
        self.limiter = limiter if limiter is not None else RateLimiter()
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = (
            self.routes.get((scope["method"], scope["path"])) if scope["type"] == "http" else None
        )
        if route is None:
            await self.app(scope, receive, send)
            return
        ip = client_ip(scope, self.trusted_hops)
        hits: list[tuple[Budget, str]] = []
        if route.ip is not None:
            hits.append((route.ip, ip))
        session = _session(scope) if route.session is not None else None
        if session and route.session is not None:
            hits.append((route.session, session))
        try:
            checked = self.limiter.acquire(hits)
            wait = await checked if inspect.isawaitable(checked) else checked
        except LimiterUnavailable:
            await _unavailable(send)
            return
        if wait <= 0:
            await self.app(scope, receive, send)
            return
        if self.metrics is not None:
            self.metrics.rate_limited.labels(hits[0][0].name).inc()
            scope[ROUTE_KEY] = scope["path"]  # one of the few limited paths: a bounded label
        retry_after = max(1, math.ceil(wait))
        logger.info(
            "Rate limited %s %s from %s: retry in %d s",
            scope["method"],
            scope["path"],
            ip,
            retry_after,
        )
        await _too_many(send, retry_after, hits[0][0].refusal, wants_html=_accepts_html(scope))


def _accepts_html(scope: Scope) -> bool:
    """A browser navigation (the HTML ask form or an ``/ask?q=`` link), not an API client."""
    return b"text/html" in header(scope, b"accept")


async def _unavailable(send: Send) -> None:
    payload = {
        "error": "rate_limit_unavailable",
        "detail": "Rate limits cannot be checked (Redis is unreachable); retry shortly.",
        "backend": "redis",
    }
    await send_json(send, 503, payload, headers=[(b"retry-after", b"1")])


async def _too_many(
    send: Send, retry_after: int, refusal: tuple[str, str], *, wants_html: bool = False
) -> None:
    english, chinese = refusal
    detail = f"{english}; retry in {retry_after} s."
    headers = [(b"retry-after", str(retry_after).encode())]
    if wants_html:
        body = (
            f'<!doctype html><meta charset="utf-8"><title>429 {english}</title>'
            f"<p>{detail}</p><p>{chinese}，请 {retry_after} 秒后重试。</p>"
        ).encode()
        await send_response(
            send, 429, body, content_type=b"text/html; charset=utf-8", headers=headers
        )
    else:
        payload = {"error": "rate_limited", "detail": detail, "retry_after": retry_after}
        await send_json(send, 429, payload, headers)


def ask_budget(settings: Settings) -> Budget | None:
    """The per-IP budget of every endpoint that can start an LLM answer (None: unlimited)."""
    per_ip = settings.rate_limit_per_minute
    return Budget("ip-ask", per_ip) if per_ip > 0 else None


def search_budget(settings: Settings) -> Budget | None:
    """The per-IP budget of retrieval-only endpoints (None: unlimited)."""
    per_ip = settings.rate_limit_per_minute
    return Budget("ip-search", per_ip * SEARCH_BUDGET_FACTOR) if per_ip > 0 else None


def install_rate_limit(app: FastAPI, settings: Settings, metrics: Metrics | None = None) -> None:
    """Add the limiter for the public ask endpoints; a budget of 0 turns that limit off.

    With ASKWIKI_REDIS_URL the limits are shared through Redis. The limiter is kept on
    ``app.state.rate_limiter`` for the lifespan to close and for endpoints that count their
    own calls against the same budgets (the MCP tools). Add it before the CORS middleware
    so CORS wraps it and 429s carry CORS headers.
    """
    per_ip = settings.rate_limit_per_minute
    per_session = settings.session_rate_limit_per_minute
    trusted_hops = settings.trusted_proxy_hops
    routes: dict[tuple[str, str], RouteLimit] = {}
    if per_ip > 0 or per_session > 0:
        ask = RouteLimit(
            ask_budget(settings),
            Budget("session-ask", per_session) if per_session > 0 else None,
        )
        # Every endpoint that can start an LLM answer shares the ask budget.
        routes = {
            ("POST", "/api/ask"): ask,
            ("POST", "/v1/chat/completions"): ask,
            ("POST", "/ask"): ask,  # the HTML ask form
            ("GET", "/ask"): ask,  # /ask?q=... links
            ("GET", "/api/search"): RouteLimit(search_budget(settings)),
        }
    else:
        logger.info(
            "Rate limiting of the public endpoints is off (ASKWIKI_RATE_LIMIT_PER_MINUTE=0)"
        )
    if settings.admin_enabled:
        routes[("POST", "/admin/login")] = RouteLimit(SIGN_IN_BUDGET)
    if not routes:
        return
    limiter: Limiter | RateLimiter = RateLimiter()
    if settings.redis_url:
        from askwiki.server.ratelimit_redis import RedisRateLimiter

        limiter = RedisRateLimiter(
            settings.redis_url, fail=settings.rate_limit_fail, metrics=metrics
        )
    app.state.rate_limiter = limiter
    app.add_middleware(
        RateLimitMiddleware,
        routes=routes,
        trusted_hops=trusted_hops,
        limiter=limiter,
        metrics=metrics,
    )
