"""The question log: stored answers, the answer cache, related questions, feedback, gaps."""

from __future__ import annotations

from askwiki.questions.desk import QuestionDesk
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
    "find_gaps",
    "open_question_store",
]


def open_question_store(settings: Settings) -> QuestionStore:
    """The log at ASKWIKI_DATABASE_URL (default: SQLite in the data folder), migrated."""
    return SQLQuestionStore.open(settings.database_url_or_default)
