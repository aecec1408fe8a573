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
from askwiki.live_index import serve_live_index
from askwiki.llm.base import LLMBackend
from askwiki.questions import build_question_desk, open_question_store
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
    live = serve_live_index(settings, model)
    service = AnswerService(settings, live, model, llm_factory or default_llm_factory(settings))
    store = open_question_store(settings)
    desk = build_question_desk(settings, service, store, model, live)
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
