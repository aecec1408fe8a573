"""The question log: stored answers, the answer cache, related questions, feedback, gaps."""

from __future__ import annotations

from askwiki.answering.service import AnswerService
from askwiki.embedding.embedder import Embedder
from askwiki.live_index import LiveIndex
from askwiki.questions.desk import RELATED_RECENT, RELATED_SIMILAR, AskObserver, QuestionDesk
from askwiki.questions.gaps import Gap, find_gaps
from askwiki.questions.sql import SQLQuestionStore
from askwiki.questions.store import QuestionRecord, QuestionStore, QuestionSummary, Votes
from askwiki.settings import Settings

__all__ = [
    "Gap",
    "QuestionDesk",
    "QuestionRecord",
    "QuestionStore",
    "QuestionSummary",
    "SQLQuestionStore",
    "Votes",
    "build_question_desk",
    "find_gaps",
    "open_question_store",
]


def open_question_store(settings: Settings) -> QuestionStore:
    """The log at ASKWIKI_DATABASE_URL (default: SQLite in the data folder), migrated."""
    return SQLQuestionStore.open(settings.database_url_or_default)


def build_question_desk(
    settings: Settings,
    service: AnswerService,
    store: QuestionStore,
    embedder: Embedder,
    live_index: LiveIndex,
    observer: AskObserver | None = None,
) -> QuestionDesk:
    """The desk every answering endpoint goes through (HTTP and MCP alike), as ``settings``
    configure it: cache, log, related questions."""
    return QuestionDesk(
        service,
        store,
        embedder,
        live_index,
        cache_similarity=settings.cache_similarity,
        base_url=settings.public_url or "",
        observer=observer,
        log_questions=settings.log_questions,
        # Not public: no reader sees another's question, "Others are asking" included.
        related_similar=RELATED_SIMILAR if settings.public_questions else 0,
        related_recent=RELATED_RECENT if settings.public_questions else 0,
    )
