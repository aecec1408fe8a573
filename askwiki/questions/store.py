"""The question log's records and the ``QuestionStore`` interface.

``askwiki.questions.sql`` implements it for SQLite (the one-box default) and PostgreSQL
(shared by N replicas).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

from askwiki.answering.types import Answer

Vector = npt.NDArray[np.float32]
Vote = Literal["up", "down"]


@dataclass
class QuestionRecord:
    """One stored ask: the full answer plus what only the log knows."""

    answer: Answer
    asked_at: str
    normalized: str
    error: str | None = None
    embedding: Vector | None = None
    embedding_model: str | None = None
    up: int = 0
    down: int = 0

    @property
    def id(self) -> str:
        return self.answer.id

    @property
    def status(self) -> str:
        return self.answer.status


@dataclass(frozen=True)
class QuestionSummary:
    """A stored question as lists show it; ``asks`` counts cached repeats of it too."""

    id: str
    question: str
    asked_at: str
    answer_snippet: str
    status: str
    language: str
    asks: int = 1


@dataclass(frozen=True)
class Votes:
    """Feedback totals of one answer."""

    up: int
    down: int


@dataclass(frozen=True)
class NearestPage:
    """The page that came closest to a question no page covered."""

    doc_id: str
    title: str
    url: str | None


@dataclass(frozen=True)
class GapCandidate:
    """A question the wiki could not answer well: no relevant page, or mostly thumbs-down."""

    summary: QuestionSummary
    embedding: Vector | None
    no_answer: bool
    down: int
    nearest: NearestPage | None = None


class QuestionStore(Protocol):
    """Where every ask, its answer, its embedding and its feedback are kept."""

    def save(
        self,
        answer: Answer,
        *,
        asked_at: str,
        embedding: Vector | None,
        embedding_model: str | None,
        error: str | None = None,
        request_id: str | None = None,
    ) -> str:
        """Store one answer (sources included) atomically; ``answer.status`` may be 'failed'.

        Returns the id of the answer stored for ``request_id``: ``answer.id``, or, when an
        earlier attempt of the same request stored one already, that answer's id (and
        nothing is written). Of two concurrent attempts exactly one is stored.
        """
        ...

    def find_request(self, request_id: str) -> QuestionRecord | None:
        """The answer an earlier attempt of this request stored, if any."""
        ...

    def get(self, question_id: str) -> QuestionRecord:
        """The stored answer; raises ``QuestionNotFoundError`` for an unknown id."""
        ...

    def find_cached(
        self,
        normalized: str,
        embedding: Vector | None,
        embedding_model: str | None,
        index_version: str,
        min_similarity: float,
        asked_between: tuple[str, str] | None = None,
    ) -> QuestionRecord | None:
        """An 'answered' original from the same index version meaning the same, if any.

        Same means the same normalised text, or an embedding at least ``min_similarity``
        alike that also shares enough wording (``text.MIN_TEXT_OVERLAP``).
        ``asked_between`` (ISO UTC times, end excluded) limits it to originals asked then.
        """
        ...

    def similar(
        self, embedding: Vector, embedding_model: str, exclude: set[str], limit: int
    ) -> list[QuestionSummary]:
        """Answered original questions most similar to the embedding, best first."""
        ...

    def recent(self, limit: int, exclude: set[str] | None = None) -> list[QuestionSummary]:
        """Answered original questions, newest first."""
        ...

    def popular(self, limit: int) -> list[QuestionSummary]:
        """Answered original questions asked most often (cached repeats count)."""
        ...

    def search(self, query: str, limit: int, offset: int) -> tuple[list[QuestionSummary], int]:
        """Past original questions matching the text (all when empty), newest first, and the total."""
        ...

    def add_feedback(self, question_id: str, vote: Vote, comment: str | None) -> Votes:
        """Store a vote; returns the new totals. Raises ``QuestionNotFoundError``."""
        ...

    def gap_candidates(self, limit: int) -> list[GapCandidate]:
        """Recent asks with no relevant source or mostly thumbs-down, newest first."""
        ...

    def close(self) -> None: ...
