"""The shared parts of the question log's SQL: query fragments and the base store class.

``SQLQuestionStore`` (``sql``) and its editors' half (``sql_editing``) build on these.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Self

import numpy as np
from sqlalchemy import Engine, Insert, RowMapping, Table, bindparam, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError

from askwiki.database import open_engine, upgrade
from askwiki.errors import QuestionLogError, QuestionNotFoundError
from askwiki.questions.schema import summary_from_row, vector_from_blob
from askwiki.questions.store import QuestionSummary, Vector
from askwiki.questions.text import MIN_TEXT_OVERLAP, text_overlap

logger = logging.getLogger(__name__)

SCAN_LIMIT = 5000
# An original answer (not a cached repeat) that may be shown to others or served again.
GOOD_ORIGINAL = "q.cached_from IS NULL AND q.status = 'answered' AND q.hidden = 0"
HAS_CURATED = "EXISTS (SELECT 1 FROM curated_answers ca WHERE ca.question_id = q.id)"
# Vote totals per answer; votes on a cached repeat count for the answer it repeats.
ROOT_VOTES = (
    "(SELECT COALESCE(vq.cached_from, vq.id) AS root,"
    " SUM(CASE WHEN f.vote = 'up' THEN 1 ELSE 0 END) AS up,"
    " SUM(CASE WHEN f.vote = 'down' THEN 1 ELSE 0 END) AS down"
    " FROM feedback f JOIN questions vq ON vq.id = f.question_id"
    " GROUP BY COALESCE(vq.cached_from, vq.id))"
)
NOT_DOWNVOTED = (
    f"NOT EXISTS (SELECT 1 FROM {ROOT_VOTES} v WHERE v.root = q.id AND v.down > COALESCE(v.up, 0))"
)
# A curated question's list entry shows the editors' answer (its own, or its original's).
_CURATED_TEXT = "(SELECT ca.answer FROM curated_answers ca WHERE ca.question_id = {})"
SUMMARY_COLUMNS = (
    "q.id, q.question, q.asked_at, q.status, q.language, q.normalized, COALESCE("
    f"{_CURATED_TEXT.format('q.id')}, {_CURATED_TEXT.format('q.cached_from')}, q.answer"
    ") AS answer"
)


TEXT_MATCH = " AND (q.question LIKE :raw ESCAPE '\\' OR q.normalized LIKE :norm ESCAPE '\\')"


def now_utc() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def insert_unless_present(engine: Engine, table: Table, key: str) -> Insert:
    """``INSERT … ON CONFLICT (key) DO NOTHING`` in the engine's dialect: one atomic step,
    so concurrent writers of the same key store one row and neither fails."""
    dialect_insert = sqlite_insert if engine.dialect.name == "sqlite" else pg_insert
    return dialect_insert(table).on_conflict_do_nothing(index_elements=[key])


def like_pattern(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def newest_per_question(where: str) -> str:
    """Rows matching ``where``, only the newest of each distinct (normalised) question."""
    return f"q.seq IN (SELECT MAX(q.seq) FROM questions q WHERE {where} GROUP BY q.normalized)"


class SQLStoreBase:
    """The connection and the reads every part of the SQL question log shares."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.where = engine.url.render_as_string(hide_password=True)

    @classmethod
    def open(cls, url: str) -> Self:
        """Open (and migrate, under the database lock) the log at ``url``."""
        try:
            engine = open_engine(url)
        except OSError as exc:
            raise QuestionLogError(
                f"Cannot open the question log {url}: {exc}; check ASKWIKI_DATA_DIR is writable"
            ) from exc
        upgrade(engine)
        logger.info("Question log at %s", engine.url.render_as_string(hide_password=True))
        return cls(engine)

    def _rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[RowMapping]:
        statement = text(sql)
        expanding = [k for k, v in (params or {}).items() if isinstance(v, list | tuple)]
        if expanding:
            statement = statement.bindparams(*(bindparam(k, expanding=True) for k in expanding))
        try:
            with self.engine.connect() as connection:
                return list(connection.execute(statement, dict(params or {})).mappings())
        except SQLAlchemyError as exc:
            raise QuestionLogError(f"Question log query failed on {self.where}: {exc}") from exc

    def close(self) -> None:
        self.engine.dispose()

    def _question_row(self, question_id: str) -> RowMapping:
        rows = self._rows("SELECT * FROM questions WHERE id = :id", {"id": question_id})
        if not rows:
            raise QuestionNotFoundError(f"No stored question with id {question_id!r}")
        return rows[0]

    def _same_meaning(
        self,
        where: str,
        params: dict[str, Any],
        normalized: str,
        embedding: Vector | None,
        embedding_model: str | None,
        min_similarity: float,
    ) -> str | None:
        """The id of the newest row matching ``where`` that means the same as the question:
        the same normalised text, or a similar embedding that also shares enough wording."""
        exact = self._rows(
            f"SELECT q.id FROM questions q WHERE {where} AND q.normalized = :normalized"
            " ORDER BY q.seq DESC LIMIT 1",
            {**params, "normalized": normalized},
        )
        if exact:
            return str(exact[0]["id"])
        if embedding is None or embedding_model is None:
            return None
        rows = self._rows(
            f"SELECT q.id, q.normalized, q.embedding FROM questions q WHERE {where}"
            " AND q.embedding_model = :model AND q.embedding IS NOT NULL"
            " ORDER BY q.seq DESC LIMIT :limit",
            {**params, "model": embedding_model, "limit": SCAN_LIMIT},
        )
        for row, score in rank_by_similarity(rows, embedding):
            if score < min_similarity:
                break
            if text_overlap(normalized, row["normalized"]) >= MIN_TEXT_OVERLAP:
                return str(row["id"])
        return None

    def _summaries(self, rows: Sequence[RowMapping]) -> list[QuestionSummary]:
        """Summaries with ``asks``: every stored ask of the same question, repeats included."""
        keys = sorted({row["normalized"] for row in rows})
        counts: dict[str, int] = {}
        if keys:
            for count in self._rows(
                "SELECT r.normalized AS key, COUNT(*) AS n FROM questions q"
                " JOIN questions r ON r.id = COALESCE(q.cached_from, q.id)"
                " WHERE r.normalized IN :keys AND q.status != 'failed' GROUP BY r.normalized",
                {"keys": keys},
            ):
                counts[count["key"]] = int(count["n"])
        return [summary_from_row(row, counts.get(row["normalized"], 1)) for row in rows]


def rank_by_similarity(
    rows: Sequence[RowMapping], embedding: Vector
) -> list[tuple[RowMapping, float]]:
    """Rows with a same-sized embedding, by cosine similarity to ``embedding``, best first."""
    query = np.asarray(embedding, dtype=np.float32)
    kept = [(row, vector_from_blob(row["embedding"])) for row in rows]
    usable = [(row, vec) for row, vec in kept if vec is not None and vec.shape == query.shape]
    if not usable:
        return []
    matrix = np.stack([vec for _, vec in usable])
    norms = np.linalg.norm(matrix, axis=1) * (float(np.linalg.norm(query)) or 1.0)
    scores = (matrix @ query) / np.where(norms == 0, 1.0, norms)
    order = np.argsort(-scores, kind="stable")
    return [(usable[i][0], float(scores[i])) for i in order]
