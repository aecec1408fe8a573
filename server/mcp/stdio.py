"""``askwiki mcp``: the MCP tools over stdin/stdout, for agents that launch their servers.

The same objects as ``askwiki serve`` (live index with hot swap, answer service, question
desk and log), without HTTP. A missing index does not stop the server: the tools answer
with the index error until a first ingest is published.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from askwiki.answering.service import AnswerService
from askwiki.embedding.embedder import Embedder, load_embedder
from askwiki.errors import AskwikiError
from askwiki.live_index import LiveIndex
from askwiki.llm.base import LLMBackend
from askwiki.questions import QuestionDesk, open_question_store
from askwiki.retrieval_options import retrieval_options
from askwiki.server.app import default_llm_factory
from askwiki.server.mcp.tools import WikiAccess, build_mcp_server
from askwiki.settings import Settings

logger = logging.getLogger(__name__)


def serve_stdio(
    settings: Settings,
    *,
    embedder: Embedder | None = None,
    llm_factory: Callable[[], LLMBackend] | None = None,
) -> None:
    """Serve MCP on this process's stdin/stdout until the client closes them."""
    model = embedder or load_embedder(settings)
    live = LiveIndex(settings.index_path, model, retrieval_options(settings))
    try:
        live.load()
    except AskwikiError as exc:
        live.last_error = str(exc)
        logger.error("%s", exc)
    live.start_polling(settings.index_poll_s)
    service = AnswerService(settings, live, model, llm_factory or default_llm_factory(settings))
    store = open_question_store(settings)
    desk = QuestionDesk(
        service,
        store,
        model,
        live,
        cache_similarity=settings.cache_similarity,
        base_url=settings.public_url or "",
    )
    access = WikiAccess(settings, live, desk)
    server = build_mcp_server(lambda: access)
    logger.info("MCP server on stdio, index %s", settings.index_path)
    try:
        # The SDK points fd 1 at stderr while serving: stray prints cannot corrupt the wire.
        server.run("stdio")
    finally:
        live.stop()
        service.close()
        store.close()
