"""The question log: stored answers, the answer cache, related questions, feedback, gaps."""

from __future__ import annotations

from askwiki.questions.desk import QuestionDesk
from askwiki.questions.gaps import Gap, find_gaps
from askwiki.questions.sqlite import SQLiteQuestionStore
from askwiki.questions.store import QuestionRecord, QuestionStore, QuestionSummary, Votes
from askwiki.settings import Settings

__all__ = [
    "Gap",
    "QuestionDesk",
    "QuestionRecord",
    "QuestionStore",
    "QuestionSummary",
    "SQLiteQuestionStore",
    "Votes",
    "find_gaps",
    "open_question_store",
]


def open_question_store(settings: Settings) -> QuestionStore:
    """The configured question log: SQLite in ``settings.data_dir``."""
    return SQLiteQuestionStore.in_data_dir(settings.data_dir)
