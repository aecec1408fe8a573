"""The MCP server's tools and page resource, over the objects a running askwiki holds.

Every tool is a plain ``def``: the SDK runs it on a worker thread, so faiss, the embedder
and llama.cpp never block the event loop. Domain errors become MCP tool errors carrying
the HTTP API's error kind and message (``llm_unavailable: ...``); the server never dies
of one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError, ToolError
from mcp_types import ToolAnnotations
from pydantic import Field

from askwiki.errors import AskwikiError, DocumentNotFoundError
from askwiki.live_index import LiveIndex
from askwiki.llm.base import ChatMessage
from askwiki.passages import append_without_overlap
from askwiki.questions import QuestionDesk
from askwiki.server.deps import BAD_REQUEST_ID, valid_request_id
from askwiki.server.errors import error_body
from askwiki.server.mcp.schemas import PageOut, PageSectionOut, WikiSearchOut
from askwiki.server.routes.search import search_hit
from askwiki.server.schemas import AnswerOut, HistoryTurn
from askwiki.settings import Settings
from askwiki.store.docstore import StoredChunk

logger = logging.getLogger(__name__)

ToolKind = Literal["ask", "search"]
# (kind of call, the transport's request: a Starlette Request over HTTP, None over stdio)
Admit = Callable[[ToolKind, Any], None]
DEFAULT_PAGE_CHARS = 20_000
MAX_PAGE_CHARS = 100_000
PAGE_URI = "askwiki://page/{+doc_id}"

INSTRUCTIONS = """\
askwiki answers questions from one wiki (Chinese and English), with numbered sources that
point to exact pages, sections and PDF pages.
- search_wiki: the wiki's best passages for a query (fast, no LLM). Use it to find pages.
- ask_wiki: a generated answer whose [n] citations were checked against its numbered
  sources (slow on a CPU: tens of seconds). status 'no_answer' means no page covers the
  question; 'closest' then lists the nearest pages.
- get_page: a page's sections and text as indexed, by the doc_id the other tools return.
"""


@dataclass
class WikiAccess:
    """What the tools work on; ``admit`` raises ``ToolError`` when a client is over its budget."""

    settings: Settings
    live_index: LiveIndex
    desk: QuestionDesk
    admit: Admit | None = None


@contextmanager
def _as_tool_error() -> Iterator[None]:
    """A domain error as the API words it: its error kind, then what to do."""
    try:
        yield
    except AskwikiError as exc:
        _, body = error_body(exc)
        raise ToolError(f"{body['error']}: {body['detail']}") from exc


def _check_text(name: str, text: str, limit: int) -> str:
    text = text.strip()
    if not text:
        raise ToolError(f"invalid_request: {name} is empty")
    if len(text) > limit:
        raise ToolError(
            f"invalid_request: {name} has {len(text)} characters; the limit is {limit} "
            "(ASKWIKI_MAX_QUESTION_CHARS)"
        )
    return text


def search(access: WikiAccess, query: str, k: int) -> WikiSearchOut:
    query = _check_text("query", query, access.settings.max_question_chars)
    with _as_tool_error():
        retriever = access.live_index.retriever()
        result = retriever.search(query, k)
    return WikiSearchOut(
        query=query,
        relevant=result.relevant,
        index_version=retriever.index.version,
        timings={key: round(value, 2) for key, value in result.timings_ms.items()},
        results=[search_hit(p) for p in result.passages],
        closest=[search_hit(p) for p in result.closest],
    )


def ask(
    access: WikiAccess,
    question: str,
    history: list[HistoryTurn],
    request_id: str | None = None,
) -> AnswerOut:
    question = _check_text("question", question, access.settings.max_question_chars)
    turns = [ChatMessage(turn.role, turn.content) for turn in history]
    with _as_tool_error():
        answer = access.desk.ask(question, turns, request_id=request_id)
    return AnswerOut.model_validate(asdict(answer))


def page(access: WikiAccess, doc_id: str, start_section: int, max_chars: int) -> PageOut:
    with _as_tool_error():
        index = access.live_index.retriever().index
        document = index.docstore.document(doc_id)
        if document is None:
            raise DocumentNotFoundError(
                f"No page with doc_id {doc_id!r} in index version {index.version}; "
                "use a doc_id that search_wiki or ask_wiki returned"
            )
        sections = _sections(index.docstore.chunks_of(doc_id))
    chosen: list[PageSectionOut] = []
    budget, next_section = max_chars, None
    for position in range(start_section, len(sections)):
        section = sections[position]
        if len(section.text) > budget:
            if chosen:
                next_section = position
                break
            # One section larger than the whole budget: its start, marked as cut.
            chosen.append(
                section.model_copy(update={"text": section.text[:budget], "truncated": True})
            )
            next_section = position + 1 if position + 1 < len(sections) else None
            break
        chosen.append(section)
        budget -= len(section.text)
    return PageOut(
        doc_id=document.doc_id,
        title=document.title,
        url=document.url,
        index_version=index.version,
        sections=chosen,
        total_sections=len(sections),
        next_section=next_section,
    )


def _sections(chunks: list[StoredChunk]) -> list[PageSectionOut]:
    """Consecutive chunks of one section joined into its text, overlaps not repeated."""
    sections: list[PageSectionOut] = []
    for stored in chunks:
        chunk = stored.chunk
        last = sections[-1] if sections else None
        if last is not None and (last.section, last.anchor, last.page) == (
            chunk.section,
            chunk.anchor,
            chunk.page,
        ):
            last.text = append_without_overlap(last.text, chunk.text)
            last.chunk_ids.append(chunk.chunk_id)
            continue
        sections.append(
            PageSectionOut(
                section=chunk.section,
                anchor=chunk.anchor,
                url=chunk.url,
                page=chunk.page,
                text=chunk.text,
                chunk_ids=[chunk.chunk_id],
                truncated=False,
            )
        )
    return sections


def _request_id(ctx: Context) -> str | None:
    """The HTTP request's ``X-Request-ID`` (a proxy's retry repeats it); None over stdio."""
    request = ctx.request_context.request
    value = None if request is None else request.headers.get("x-request-id")
    if not valid_request_id(value):
        raise ToolError(f"invalid_request: {BAD_REQUEST_ID}")
    return value


def _admit(access: WikiAccess, kind: ToolKind, ctx: Context) -> None:
    if access.admit is not None:
        access.admit(kind, ctx.request_context.request)


def build_mcp_server(access: Callable[[], WikiAccess]) -> MCPServer:
    """The askwiki MCP server; ``access`` gives the live objects at call time."""
    server: MCPServer = MCPServer(
        "askwiki", title="askwiki", instructions=INSTRUCTIONS, version="0.1.0"
    )
    read_only = ToolAnnotations(read_only_hint=True, open_world_hint=False)

    @server.tool(annotations=read_only)
    def search_wiki(
        query: Annotated[str, Field(description="What to look for, in Chinese or English.")],
        ctx: Context,
        k: Annotated[int, Field(ge=1, le=20, description="How many passages to return.")] = 5,
    ) -> WikiSearchOut:
        """Search the wiki (hybrid keyword + embedding search; no LLM, fast).

        Returns the best passages, each with its page title, section path ('Page › Section'),
        a URL to the section anchor (or PDF page), a score and its chunk id. Passages below
        the relevance floor are left out; when none passes, 'relevant' is false and 'closest'
        lists the nearest pages instead. Pass a result's doc_id to get_page to read the page.
        """
        wiki = access()
        _admit(wiki, "search", ctx)
        return search(wiki, query, k)

    @server.tool()
    def ask_wiki(
        question: Annotated[str, Field(description="The question, in Chinese or English.")],
        ctx: Context,
        history: Annotated[
            list[HistoryTurn] | None,
            Field(
                max_length=20,
                description="Earlier turns of the conversation, oldest first, so a follow-up "
                "('and its rank?') is understood; omit for a standalone question.",
            ),
        ] = None,
    ) -> AnswerOut:
        """Answer a question from the wiki with numbered, verified citations (slow: a local LLM).

        'answer' is Markdown whose [n] markers refer to 'sources' (page title, section, URL,
        excerpt; 'cited' marks the ones the answer uses); the server checked and corrected
        every marker. 'status' is 'answered'; 'no_answer' when no wiki page covers the
        question (then 'closest' lists the nearest pages, which you may read with get_page);
        or 'extractive' when the LLM failed and the best passages are returned instead. The
        same object as askwiki's HTTP API, and recorded in its question log.
        """
        wiki = access()
        request_id = _request_id(ctx)
        _admit(wiki, "ask", ctx)
        return ask(wiki, question, history or [], request_id)

    @server.tool(annotations=read_only)
    def get_page(
        doc_id: Annotated[
            str, Field(description="A page's doc_id, as search_wiki or ask_wiki return it.")
        ],
        ctx: Context,
        start_section: Annotated[
            int, Field(ge=0, description="First section to return (see next_section).")
        ] = 0,
        max_chars: Annotated[
            int,
            Field(ge=200, le=MAX_PAGE_CHARS, description="Most characters of text to return."),
        ] = DEFAULT_PAGE_CHARS,
    ) -> PageOut:
        """Read one wiki page as indexed: its sections in order, each with its text and URL.

        Long pages come in parts: when 'next_section' is not null, call again with
        start_section set to it. An unknown doc_id is an error.
        """
        wiki = access()
        _admit(wiki, "search", ctx)
        return page(wiki, doc_id, start_section, max_chars)

    @server.resource(
        PAGE_URI,
        name="wiki page",
        description="A wiki page's sections and text as indexed (JSON, like get_page).",
        mime_type="application/json",
    )
    def page_resource(doc_id: str) -> str:
        try:
            return page(access(), doc_id, 0, DEFAULT_PAGE_CHARS).model_dump_json(indent=1)
        except ToolError as exc:
            raise ResourceNotFoundError(str(exc)) from exc

    return server
