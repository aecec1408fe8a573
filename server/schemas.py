"""Request and response models of the HTTP API (they become the OpenAPI schema)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from askwiki.answering.types import Status
from askwiki.questions.store import Vote
from askwiki.text import Language


class HistoryTurn(BaseModel):
    role: Literal["user", "assistant"]
    content: str = Field(max_length=8000)


class AskRequest(BaseModel):
    question: str = Field(min_length=1, description="The question, in Chinese or English.")
    history: list[HistoryTurn] = Field(
        default_factory=list, max_length=20, description="Earlier turns, oldest first."
    )
    stream: bool = Field(False, description="Answer as Server-Sent Events.")
    top_k: int | None = Field(None, ge=1, le=20, description="How many sources to use.")
    fresh: bool = Field(False, description="Ignore a cached answer to the same question.")


class SourceOut(BaseModel):
    n: int = Field(description="The citation number used in the answer, fixed before generation.")
    id: str = Field(description="Stable chunk id: document id, position and content hash.")
    doc_id: str
    title: str
    section: str = Field(description="Heading path, e.g. 'Page › Section › Subsection'.")
    url: str | None = Field(description="Link to the page and section anchor (or PDF page).")
    excerpt: str
    score: float
    cited: bool = Field(description="Whether the verified answer cites this source.")
    page: int | None = None
    chunk_ids: list[str] = Field(default_factory=list)


class RelatedOut(BaseModel):
    id: str
    question: str
    asked_at: str = Field(description="When the question was asked (ISO 8601, UTC).")
    answer_snippet: str = Field(description="The start of its answer, as plain text.")
    url: str = Field(description="Its page, /q/{id}/{slug} (absolute with ASKWIKI_PUBLIC_URL).")


class AnswerOut(BaseModel):
    id: str
    question: str
    answer: str = Field(description="Markdown answer whose [n] markers were verified server-side.")
    language: Language
    sources: list[SourceOut]
    created_at: str
    model: str
    timings: dict[str, float]
    status: Status = Field(
        description="'failed' only appears on stored answers that could not be completed."
    )
    generated: bool = Field(description="False for 'no relevant page' and extractive fallbacks.")
    standalone_question: str | None = None
    index_version: str | None = None
    corrections: int = Field(0, description="Citation markers the server added, fixed or removed.")
    unsupported_removed: int = Field(
        0,
        description="Answer sentences dropped because the source they cite does not support "
        "them; when nothing supported was left the status is 'no_answer'.",
    )
    cached: bool = Field(
        False, description="Served from the answer to an earlier question meaning the same."
    )
    cached_from: str | None = Field(
        None, description="Id of the original answer when cached; created_at is its date."
    )
    curated: bool = Field(
        False,
        description="An editor wrote or approved this answer (shown instead of the AI notice); "
        "cached_from is the question it was curated for.",
    )
    reviewed_by: str | None = Field(
        None, description="When curated: the name of the editor's admin token."
    )
    related: list[RelatedOut] = Field(
        default_factory=list, description='"Others are asking": similar and recent questions.'
    )
    closest: list[SourceOut] = Field(
        default_factory=list,
        description="Only when status is 'no_answer': the pages that came nearest (up to 3, one "
        "passage each). None passed the relevance floor, so the answer does not use them.",
    )


class StoredAnswerOut(AnswerOut):
    asked_at: str = Field(description="When this question was asked.")
    url: str
    error: str | None = Field(None, description="Why a failed answer failed.")
    up: int = Field(0, description="Thumbs-up votes (repeats of a cached answer included).")
    down: int = 0


class QuestionSummaryOut(BaseModel):
    id: str
    question: str
    asked_at: str
    answer_snippet: str
    status: str
    language: str
    asks: int = Field(description="How often it was asked, cached repeats included.")
    url: str


class QuestionListOut(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[QuestionSummaryOut]


class FeedbackIn(BaseModel):
    vote: Vote
    comment: str | None = Field(None, max_length=2000)


class VotesOut(BaseModel):
    id: str
    up: int
    down: int


class NearestPageOut(BaseModel):
    doc_id: str
    title: str
    url: str | None


class GapOut(BaseModel):
    question: str = Field(description="The group's commonest wording.")
    question_id: str = Field(description="The stored ask of that wording.")
    count: int = Field(description="Asks in the group.")
    no_answer: int = Field(description="Asks for which no relevant wiki page was found.")
    downvoted: int = Field(description="Asks whose answer readers voted down more than up.")
    last_asked: str
    examples: list[QuestionSummaryOut]
    nearest_page: NearestPageOut | None = Field(
        None,
        description="The page that came closest most often to the group's unanswered asks: "
        "extend it, or write a new page next to it. None when every ask was voted down.",
    )
    curate_url: str = Field(
        description="Write the group's curated answer: PUT there (admin API), served to "
        "every ask meaning the same."
    )


class GapsOut(BaseModel):
    gaps: list[GapOut]


class SearchHit(BaseModel):
    id: str = Field(description="Stable chunk id: document id, position and content hash.")
    doc_id: str = Field(description="The page's document id (what get_page and /q links take).")
    title: str
    section: str = Field(description="Heading path, e.g. 'Page › Section › Subsection'.")
    url: str | None = Field(description="Link to the page and section anchor (or PDF page).")
    text: str = Field(description="The passage as indexed.")
    score: float = Field(description="Fused rank score (reciprocal-rank fusion); higher is better.")
    dense_score: float = Field(description="Cosine similarity of the passage to the query.")
    bm25_score: float | None = Field(description="BM25 keyword score; null if no keyword matched.")
    page: int | None = Field(None, description="PDF page number, for passages of PDFs.")


class SearchResponse(BaseModel):
    query: str
    relevant: bool
    results: list[SearchHit]
    timings: dict[str, float]
    index_version: str


class ErrorOut(BaseModel):
    error: str = Field(description="Machine-readable error kind.")
    detail: str = Field(description="What went wrong and what to do.")
    backend: str | None = None
