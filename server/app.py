"""``create_app(settings)``: the FastAPI application and its lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from askwiki.answering.service import AnswerService
from askwiki.bilingual_dictionary import read_in_background
from askwiki.database import database_kind
from askwiki.database.rollout import VersionListener
from askwiki.embedding.embedder import Embedder, load_embedder
from askwiki.live_index import LiveIndex, serve_live_index
from askwiki.llm.base import LLMBackend
from askwiki.questions import build_question_desk, open_question_store
from askwiki.questions.editors import Editors
from askwiki.questions.retention import RetentionSchedule
from askwiki.server.admin import questions as admin_questions
from askwiki.server.admin import routes as admin
from askwiki.server.admin import web as admin_web
from askwiki.server.cors import install_cors
from askwiki.server.errors import install_error_handlers
from askwiki.server.limits import install_body_limit
from askwiki.server.mcp.http import install_mcp, run_mcp
from askwiki.server.metrics import Metrics, MetricsMiddleware
from askwiki.server.ratelimit import install_rate_limit
from askwiki.server.routes import (
    ask,
    health,
    openai_compat,
    pages,
    questions,
    search,
    widget,
)
from askwiki.server.sync import SyncService
from askwiki.settings import Settings

logger = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent / "static"


def default_llm_factory(settings: Settings) -> Callable[[], LLMBackend]:
    def create() -> LLMBackend:
        from askwiki.llm.factory import create_backend

        return create_backend(settings)

    return create


def _listen_for_versions(settings: Settings, live: LiveIndex) -> VersionListener | None:
    """On PostgreSQL, reload as soon as a new version is announced (the poll stays)."""
    url = settings.database_url
    if not url or database_kind(url) != "postgresql":
        return None

    def reload(index: str, version: str | None) -> None:
        if index in ("", settings.index) and live.refresh():
            logger.info("Switched to version %s on announcement", version)

    listener = VersionListener(url, reload)
    listener.start()
    return listener


def create_app(
    settings: Settings,
    *,
    embedder: Embedder | None = None,
    llm_factory: Callable[[], LLMBackend] | None = None,
) -> FastAPI:
    """Build the app; tests inject a fake embedder or LLM, production loads the real ones."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        model = embedder or load_embedder(settings, defer=False)
        live = serve_live_index(settings, model)
        if settings.cross_language and settings.bilingual_dictionary:
            read_in_background()  # 2-8 s: not in the first reader's question
        listener = _listen_for_versions(settings, live)
        app.state.settings = settings
        app.state.embedder = model
        app.state.live_index = live
        app.state.service = AnswerService(
            settings, live, model, llm_factory or default_llm_factory(settings)
        )
        app.state.questions = open_question_store(settings)
        # Every endpoint that answers goes through the desk: cache, log, related.
        app.state.answers = build_question_desk(
            settings, app.state.service, app.state.questions, model, live, app.state.metrics
        )
        app.state.editors = Editors(app.state.questions, live)
        app.state.retention = RetentionSchedule(
            app.state.questions, settings.question_retention_days
        )
        app.state.retention.start()
        app.state.sync = SyncService(settings, model, live)
        app.state.admin = admin.start_admin(settings, model, live, sync=app.state.sync)
        app.state.sync.start_schedule()
        try:
            async with run_mcp(app, settings):
                yield
        finally:
            app.state.sync.stop()
            app.state.retention.stop()
            admin.stop_admin(app.state.admin)
            if listener is not None:
                listener.stop()
            live.stop()
            app.state.service.close()
            app.state.questions.close()
            # Only the Redis limiter holds a connection to close.
            close = getattr(getattr(app.state, "rate_limiter", None), "close", None)
            if close is not None:
                await close()

    app = FastAPI(
        title="askwiki",
        version="0.1.0",
        summary="Answers questions from a wiki with numbered, verified citations.",
        lifespan=lifespan,
    )
    # Innermost first: body limit, then rate limit, then CORS wrapping both (429s and
    # 413s carry CORS headers; an over-budget client is refused before its body is read).
    app.state.metrics = metrics = Metrics()
    install_body_limit(app, settings)
    install_rate_limit(app, settings, metrics)
    install_cors(app, settings)
    # Outermost: every response is counted, 413s and 429s included.
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    install_error_handlers(app)
    routers = (
        ask,
        search,
        openai_compat,
        health,
        widget,
        questions,
        pages,
        admin,
        admin_questions,
        admin_web,
    )
    for module in routers:
        app.include_router(module.router)
    install_mcp(app, settings)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
