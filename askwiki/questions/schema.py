"""The question log's SQLite schema and the mapping from its rows to records."""

from __future__ import annotations

import json
import sqlite3

import numpy as np

from askwiki.answering.types import Source
from askwiki.questions.store import QuestionSummary, Vector
from askwiki.questions.text import answer_snippet

SCHEMA_VERSION = 3
# The columns of both ``sources`` and ``closest_pages``.
_SOURCE_COLUMNS = """(
    question_id TEXT NOT NULL REFERENCES questions(id) ON DELETE CASCADE,
    n INTEGER NOT NULL,
    source_id TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    title TEXT NOT NULL,
    section TEXT NOT NULL,
    url TEXT,
    excerpt TEXT NOT NULL,
    score REAL NOT NULL,
    cited INTEGER NOT NULL,
    page INTEGER,
    chunk_ids TEXT NOT NULL,
    PRIMARY KEY (question_id, n)
)"""
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS questions (
    id TEXT PRIMARY KEY,
    question TEXT NOT NULL,
    normalized TEXT NOT NULL,
    standalone_question TEXT,
    language TEXT NOT NULL,
    status TEXT NOT NULL,
    answer TEXT NOT NULL,
    error TEXT,
    generated INTEGER NOT NULL,
    model TEXT NOT NULL,
    index_version TEXT,
    corrections INTEGER NOT NULL DEFAULT 0,
    timings TEXT NOT NULL,
    created_at TEXT NOT NULL,
    asked_at TEXT NOT NULL,
    cached_from TEXT REFERENCES questions(id),
    embedding BLOB,
    embedding_model TEXT,
    unsupported_removed INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS questions_cache ON questions (normalized, index_version, status);
CREATE INDEX IF NOT EXISTS questions_asked ON questions (asked_at);
CREATE INDEX IF NOT EXISTS questions_cached_from ON questions (cached_from);
CREATE TABLE IF NOT EXISTS sources {_SOURCE_COLUMNS};
-- Version 2: the pages that came nearest when no page passed the relevance floor.
CREATE TABLE IF NOT EXISTS closest_pages {_SOURCE_COLUMNS};
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    question_id TEXT NOT NULL REFERENCES questions(id) ON DELETE CASCADE,
    vote TEXT NOT NULL CHECK (vote IN ('up', 'down')),
    comment TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS feedback_question ON feedback (question_id);
-- Votes on a cached repeat count for the answer it repeats.
CREATE VIEW IF NOT EXISTS root_votes AS
    SELECT COALESCE(q.cached_from, q.id) AS root,
           SUM(f.vote = 'up') AS up, SUM(f.vote = 'down') AS down
    FROM feedback f JOIN questions q ON q.id = f.question_id
    GROUP BY COALESCE(q.cached_from, q.id);
"""


# Version 3: columns added to ``questions`` since version 1, added to older logs in place.
ADDED_COLUMNS = {"unsupported_removed": "INTEGER NOT NULL DEFAULT 0"}


def vector_from_blob(blob: bytes | None) -> Vector | None:
    return None if blob is None else np.frombuffer(blob, dtype=np.float32).copy()


def summary_from_row(row: sqlite3.Row, asks: int) -> QuestionSummary:
    return QuestionSummary(
        id=row["id"],
        question=row["question"],
        asked_at=row["asked_at"],
        answer_snippet=answer_snippet(row["answer"]),
        status=row["status"],
        language=row["language"],
        asks=asks,
    )


def source_row(question_id: str, source: Source) -> tuple[object, ...]:
    """The row of one source in ``sources`` or ``closest_pages`` (the same columns)."""
    return (
        question_id,
        source.n,
        source.id,
        source.doc_id,
        source.title,
        source.section,
        source.url,
        source.excerpt,
        source.score,
        int(source.cited),
        source.page,
        json.dumps(source.chunk_ids),
    )


def source_from_row(row: sqlite3.Row) -> Source:
    return Source(
        n=row["n"],
        id=row["source_id"],
        doc_id=row["doc_id"],
        title=row["title"],
        section=row["section"],
        url=row["url"],
        excerpt=row["excerpt"],
        score=row["score"],
        cited=bool(row["cited"]),
        page=row["page"],
        chunk_ids=json.loads(row["chunk_ids"]),
    )
