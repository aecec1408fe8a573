"""Prometheus metrics of one replica, served at ``/metrics`` (admin token only).

Each app gets its own registry (tests build many apps in one process); nothing is
registered at import time.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from askwiki.answering.types import Answer
from askwiki.errors import LLMError

ROUTE_KEY = "askwiki.route"
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class Metrics:
    """Every metric askwiki exports, in one registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "askwiki_http_requests",
            "HTTP requests by route and status",
            ["route", "status"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "askwiki_http_request_seconds",
            "Time to the response's first byte, by route",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.retrieval_seconds = Histogram(
            "askwiki_retrieval_seconds",
            "Retrieval time of answered questions",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.generation_seconds = Histogram(
            "askwiki_generation_seconds",
            "LLM generation time of answered questions",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.first_token_seconds = Histogram(
            "askwiki_time_to_first_token_seconds",
            "Time from the ask to the answer's first token",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.answers = Counter(
            "askwiki_answers",
            "Answers by status, cache hits included",
            ["status", "cached"],
            registry=r,
        )
        self.llm_errors = Counter(
            "askwiki_llm_errors", "Asks that failed in the LLM backend", registry=r
        )
        self.rate_limited = Counter(
            "askwiki_rate_limited", "Requests refused with 429, by budget", ["budget"], registry=r
        )
        self.rate_limit_backend_errors = Counter(
            "askwiki_rate_limit_backend_errors",
            "Rate-limit checks that could not reach Redis, by outcome (served or refused)",
            ["outcome"],
            registry=r,
        )
        self.index_version = Gauge(
            "askwiki_index_version_info",
            "The index version this replica serves (value 1)",
            ["index", "version"],
            registry=r,
        )
        self._served: tuple[str, str] | None = None

    def answered(self, answer: Answer, first_token_s: float | None) -> None:
        """``AskObserver``: one answer given, fresh or from the cache."""
        self.answers.labels(answer.status, "yes" if answer.cached else "no").inc()
        if answer.cached:
            return
        if "retrieve_ms" in answer.timings:
            self.retrieval_seconds.observe(answer.timings["retrieve_ms"] / 1000)
        if "generate_ms" in answer.timings and answer.generated:
            self.generation_seconds.observe(answer.timings["generate_ms"] / 1000)
        if first_token_s is not None and answer.generated:
            self.first_token_seconds.observe(first_token_s)

    def failed(self, error: Exception) -> None:
        """``AskObserver``: an ask that could not be answered."""
        self.answers.labels("failed", "no").inc()
        if isinstance(error, LLMError):
            self.llm_errors.inc()

    def serving(self, index: str, version: str | None) -> None:
        """Point the version gauge at the version now served."""
        if version is None or self._served == (index, version):
            return
        if self._served is not None:
            self.index_version.remove(*self._served)
        self.index_version.labels(index, version).set(1)
        self._served = (index, version)


def _route(scope: Scope) -> str:
    """The route template (``/q/{question_id}``), never the raw path: labels stay bounded.

    A request the rate limiter refused before routing carries its (fixed) path in
    ``ROUTE_KEY``; anything else unrouted is "unmatched".
    """
    route: Any = scope.get("route")
    return str(getattr(route, "path", None) or scope.get(ROUTE_KEY) or "unmatched")


class MetricsMiddleware:
    """Counts every HTTP request by route template and status; pure ASGI, streams untouched."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                self.metrics.request_seconds.labels(_route(scope)).observe(
                    time.perf_counter() - started
                )
            await send(message)

        try:
            await self.app(scope, receive, observed)
        finally:
            self.metrics.requests.labels(_route(scope), str(status)).inc()
