"""``GET /api/search``: retrieval only, no LLM."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from askwiki.passages import Passage
from askwiki.server.deps import LiveIndexDep, SettingsDep
from askwiki.server.routes.ask import check_question
from askwiki.server.schemas import SearchHit, SearchResponse

router = APIRouter(tags=["search"])


def search_hit(p: Passage) -> SearchHit:
    """One passage as the API (and the MCP ``search_wiki`` tool) returns it."""
    return SearchHit(
        id=p.id,
        doc_id=p.chunk.doc_id,
        title=p.chunk.title,
        section=p.chunk.section,
        url=p.chunk.url,
        text=p.chunk.text,
        score=round(p.score, 6),
        dense_score=round(p.dense_score, 6),
        bm25_score=round(p.bm25_score, 6) if p.bm25_score is not None else None,
        page=p.chunk.page,
    )


@router.get("/api/search", response_model=SearchResponse)
def search(
    live_index: LiveIndexDep,
    settings: SettingsDep,
    q: Annotated[str, Query(min_length=1, description="Search text")],
    k: Annotated[int, Query(ge=1, le=50, description="Number of results")] = 5,
) -> SearchResponse:
    """Hybrid (dense + BM25) search over the wiki; passages below the relevance floor are dropped."""
    check_question(q, settings.max_question_chars, ("query", "q"))
    retriever = live_index.retriever()
    result = retriever.search(q, k)
    return SearchResponse(
        query=q,
        relevant=result.relevant,
        index_version=retriever.index.version,
        timings={key: round(value, 2) for key, value in result.timings_ms.items()},
        results=[search_hit(p) for p in result.passages],
    )
