"""The question log's records and the ``QuestionStore`` interface.

Every public read (lists, related questions, the cache, gaps) leaves out the questions an
editor hid; ``get`` and ``browse`` return them, marked, for the callers that decide.

``askwiki.questions.sql`` implements it for SQLite (the one-box default) and PostgreSQL
(shared by N replicas).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

from askwiki.answering.types import Answer, Source

Vector = npt.NDArray[np.float32]
Vote = Literal["up", "down"]
# What editors do; the ``action`` of an ``AuditEntry``.
AuditAction = Literal["hide", "unhide", "delete", "curate", "uncurate"]


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
    hidden: bool = False
    # The editor's answer to this question (or to the one it repeats), if there is one.
    curated: CuratedAnswer | None = None

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
    # Filled for editors' lists only (``QuestionStore.browse``); public lists never hide.
    hidden: bool = False
    up: int = 0
    down: int = 0
    curated: bool = False


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


@dataclass(frozen=True)
class CuratedAnswer:
    """The answer an editor wrote or approved for a stored question."""

    question_id: str
    question: str
    answer: str
    sources: list[Source]
    reviewed_by: str
    created_at: str
    updated_at: str
    language: str = "en"


@dataclass(frozen=True)
class AuditEntry:
    """One editor action: who (a token's name), what, on which question, when."""

    at: str
    actor: str
    action: str
    target: str
    detail: str = ""


@dataclass(frozen=True)
class QuestionFilter:
    """What an editor's question list shows (``None``: either way)."""

    query: str = ""
    status: str | None = None
    hidden: bool | None = None
    curated: bool | None = None
    # "down": more thumbs-down than up; "up": more up than down; "any": at least one vote.
    votes: Literal["up", "down", "any"] | None = None


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
        """Visible answered original questions most similar to the embedding, best first."""
        ...

    def recent(self, limit: int, exclude: set[str] | None = None) -> list[QuestionSummary]:
        """Visible answered original questions, newest first."""
        ...

    def popular(self, limit: int) -> list[QuestionSummary]:
        """Answered original questions asked most often (cached repeats count)."""
        ...

    def search(self, query: str, limit: int, offset: int) -> tuple[list[QuestionSummary], int]:
        """Visible past original questions matching the text (all when empty), newest first,
        and the total."""
        ...

    def browse(
        self, filters: QuestionFilter, limit: int, offset: int
    ) -> tuple[list[QuestionSummary], int]:
        """Editors' list: past questions, hidden ones included, filtered, newest first."""
        ...

    def set_hidden(self, question_id: str, hidden: bool, actor: str) -> None:
        """Hide (or show again) a question: every ask of the same text and the repeats of
        its answer. Audited. Raises ``QuestionNotFoundError``."""
        ...

    def delete_question(self, question_id: str, actor: str) -> int:
        """Delete for good every ask of the same text, the repeats of its answer, their
        sources, votes and curated answer; returns the rows deleted. Audited."""
        ...

    def put_curated(
        self, question_id: str, text: str, sources: list[Source], actor: str
    ) -> CuratedAnswer:
        """Write (or replace) the curated answer of a question. Audited."""
        ...

    def remove_curated(self, question_id: str, actor: str) -> None:
        """Remove a question's curated answer; ``QuestionNotFoundError`` if it has none. Audited."""
        ...

    def get_curated(self, question_id: str) -> CuratedAnswer | None:
        """The curated answer written for this very question, if any."""
        ...

    def find_curated(
        self,
        normalized: str,
        embedding: Vector | None,
        embedding_model: str | None,
        min_similarity: float,
    ) -> CuratedAnswer | None:
        """The curated answer of a visible question meaning the same, on any index version
        (the cache's meaning test: ``find_cached``)."""
        ...

    def audit_log(self, limit: int, offset: int) -> list[AuditEntry]:
        """Editor actions, newest first."""
        ...

    def add_feedback(self, question_id: str, vote: Vote, comment: str | None) -> Votes:
        """Store a vote; returns the new totals. Raises ``QuestionNotFoundError``."""
        ...

    def gap_candidates(self, limit: int) -> list[GapCandidate]:
        """Recent asks with no relevant source or mostly thumbs-down, newest first."""
        ...

    def purge_asked_before(self, cutoff: str) -> int:
        """Delete every ask from before ``cutoff`` (ISO UTC), the repeats of those asks and
        their sources and votes, except questions with a curated answer; returns how many
        asks went."""
        ...

    def revoke_session(self, session_id: str, expires: int, now: int) -> None:
        """Refuse an admin page session from now until ``expires`` (Unix seconds), on every
        replica sharing this database; forgets sessions that expired before ``now``."""
        ...

    def session_revoked(self, session_id: str) -> bool:
        """Whether the admin page session was signed out."""
        ...

    def close(self) -> None: ...
