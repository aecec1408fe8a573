"""The answer model: what every ask produces, whatever the endpoint, and its stream events.

The question log, the HTTP schemas, the pages and the CLI depend on these types, not on the
service that builds them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from askwiki.text import Language

# "failed" is only ever set by the question log, for an answer that could not be completed.
Status = Literal["answered", "no_answer", "extractive", "failed"]


def new_answer_id() -> str:
    return uuid.uuid4().hex[:16]


@dataclass
class Source:
    """A numbered source; ``n`` is fixed before generation and never renumbered."""

    n: int
    id: str
    doc_id: str
    title: str
    section: str
    url: str | None
    excerpt: str
    score: float
    cited: bool = False
    page: int | None = None
    chunk_ids: list[str] = field(default_factory=list)


@dataclass
class RelatedQuestion:
    """Another stored question shown under an answer ("Others are asking")."""

    id: str
    question: str
    asked_at: str
    answer_snippet: str
    url: str


@dataclass
class Answer:
    """The final answer object: what ``/api/ask`` returns and the question log stores.

    ``cached``/``cached_from``/``curated``/``reviewed_by``/``related`` are filled by the question log
    (``askwiki.questions.desk``); the service itself always leaves them empty.
    ``closest`` is only set on ``no_answer``: the pages that came nearest, none cited (on a
    refusal after generation, ``generated`` stays true: the model ran, its text was dropped).
    """

    id: str
    question: str
    answer: str
    language: Language
    sources: list[Source]
    created_at: str
    model: str
    timings: dict[str, float]
    status: Status = "answered"
    generated: bool = True
    standalone_question: str | None = None
    index_version: str | None = None
    corrections: int = 0
    # Sentences dropped after generation because the source they cite does not say them.
    unsupported_removed: int = 0
    cached: bool = False
    cached_from: str | None = None
    # An editor's curated answer (``askwiki.questions.editors``), not the model's.
    curated: bool = False
    reviewed_by: str | None = None
    related: list[RelatedQuestion] = field(default_factory=list)
    closest: list[Source] = field(default_factory=list)


@dataclass(frozen=True)
class SourcesEvent:
    """The numbered sources, sent before the first token (empty on ``no_answer``)."""

    sources: list[Source]
    kind: Literal["sources"] = "sources"


@dataclass(frozen=True)
class TokenEvent:
    """A piece of the model's text as it is generated."""

    text: str
    kind: Literal["token"] = "token"


@dataclass(frozen=True)
class DoneEvent:
    """The final answer, citations verified; always the last event."""

    answer: Answer
    kind: Literal["done"] = "done"


AnswerEvent = SourcesEvent | TokenEvent | DoneEvent


def final_answer(events: Iterator[AnswerEvent]) -> Answer:
    """Drain a stream of events to its final answer, closing the stream either way."""
    try:
        for event in events:
            if isinstance(event, DoneEvent):
                return event.answer
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            close()
    raise RuntimeError("answer stream ended without a final answer")  # pragma: no cover
