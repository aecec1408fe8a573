"""The question log on SQLAlchemy Core: one implementation for SQLite and PostgreSQL.

Each answer is written in one transaction (the question row and its sources together),
so a reader never sees half an answer. Embeddings are float32 blobs; similarity search
scans the newest ``SCAN_LIMIT`` candidates with numpy, which is plenty for a wiki's
question log and needs no database extension. "Newest" is ``questions.seq``, the
insertion order both databases keep. The schema is ``askwiki.database.tables``; the
caller migrates the database first (``askwiki.database.upgrade``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import Engine, Insert, RowMapping, bindparam, insert, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError

from askwiki.answering.types import Answer
from askwiki.database import open_engine, upgrade, write_transaction
from askwiki.database.tables import closest_pages, feedback, questions, sources
from askwiki.errors import QuestionLogError, QuestionNotFoundError
from askwiki.questions.schema import (
    source_from_row,
    source_row,
    summary_from_row,
    vector_from_blob,
)
from askwiki.questions.store import (
    GapCandidate,
    NearestPage,
    QuestionRecord,
    QuestionSummary,
    Vector,
    Vote,
    Votes,
)
from askwiki.questions.text import MIN_TEXT_OVERLAP, normalize_question, text_overlap

logger = logging.getLogger(__name__)

SCAN_LIMIT = 5000
# An original answer (not a cached repeat) that may be shown to others or served again.
_GOOD_ORIGINAL = "q.cached_from IS NULL AND q.status = 'answered'"
# Vote totals per answer; votes on a cached repeat count for the answer it repeats.
_ROOT_VOTES = (
    "(SELECT COALESCE(vq.cached_from, vq.id) AS root,"
    " SUM(CASE WHEN f.vote = 'up' THEN 1 ELSE 0 END) AS up,"
    " SUM(CASE WHEN f.vote = 'down' THEN 1 ELSE 0 END) AS down"
    " FROM feedback f JOIN questions vq ON vq.id = f.question_id"
    " GROUP BY COALESCE(vq.cached_from, vq.id))"
)
_NOT_DOWNVOTED = (
    f"NOT EXISTS (SELECT 1 FROM {_ROOT_VOTES} v WHERE v.root = q.id AND v.down > COALESCE(v.up, 0))"
)
_SUMMARY_COLUMNS = "q.id, q.question, q.asked_at, q.answer, q.status, q.language, q.normalized"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _newest_per_question(where: str) -> str:
    """Rows matching ``where``, only the newest of each distinct (normalised) question."""
    return f"q.seq IN (SELECT MAX(q.seq) FROM questions q WHERE {where} GROUP BY q.normalized)"


class SQLQuestionStore:
    """``QuestionStore`` in any database ``askwiki.database`` supports; thread-safe."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.where = engine.url.render_as_string(hide_password=True)

    @classmethod
    def open(cls, url: str) -> SQLQuestionStore:
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

    # -- writing -----------------------------------------------------------------------

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
        blob = None if embedding is None else np.asarray(embedding, dtype=np.float32).tobytes()
        row = {
            "id": answer.id,
            "question": answer.question,
            "normalized": normalize_question(answer.question),
            "standalone_question": answer.standalone_question,
            "language": answer.language,
            "status": answer.status,
            "answer": answer.answer,
            "error": error,
            "generated": int(answer.generated),
            "model": answer.model,
            "index_version": answer.index_version,
            "corrections": answer.corrections,
            "unsupported_removed": answer.unsupported_removed,
            "timings": json.dumps(answer.timings),
            "created_at": answer.created_at,
            "asked_at": asked_at,
            "cached_from": answer.cached_from,
            "embedding": blob,
            "embedding_model": embedding_model if blob is not None else None,
            "request_id": request_id,
        }
        try:
            with write_transaction(self.engine) as tx:
                # The unique index decides between concurrent attempts of one request: the
                # loser's insert does nothing (PostgreSQL waits for the winner to commit,
                # SQLite's writers queue) and it reads the winner's id instead.
                inserted = tx.execute(self._insert_question().values(row)).first()
                if inserted is None:
                    return str(
                        tx.execute(
                            select(questions.c.id).where(questions.c.request_id == request_id)
                        ).scalar_one()
                    )
                for table, items in ((sources, answer.sources), (closest_pages, answer.closest)):
                    if items:
                        tx.execute(insert(table), [source_row(answer.id, s) for s in items])
        except SQLAlchemyError as exc:
            raise QuestionLogError(
                f"Cannot store answer {answer.id} in {self.where}: {exc}"
            ) from exc
        return answer.id

    def _insert_question(self) -> Insert:
        """``INSERT … ON CONFLICT (request_id) DO NOTHING RETURNING id`` in the engine's dialect."""
        dialect_insert = sqlite_insert if self.engine.dialect.name == "sqlite" else pg_insert
        return (
            dialect_insert(questions)
            .on_conflict_do_nothing(index_elements=["request_id"])
            .returning(questions.c.id)
        )

    def add_feedback(self, question_id: str, vote: Vote, comment: str | None) -> Votes:
        self._question_row(question_id)
        try:
            with write_transaction(self.engine) as tx:
                tx.execute(
                    insert(feedback),
                    {
                        "question_id": question_id,
                        "vote": vote,
                        "comment": comment or None,
                        "created_at": _now(),
                    },
                )
        except SQLAlchemyError as exc:
            raise QuestionLogError(f"Cannot store feedback in {self.where}: {exc}") from exc
        return self._votes(question_id)

    # -- reading -----------------------------------------------------------------------

    def _question_row(self, question_id: str) -> RowMapping:
        rows = self._rows("SELECT * FROM questions WHERE id = :id", {"id": question_id})
        if not rows:
            raise QuestionNotFoundError(f"No stored question with id {question_id!r}")
        return rows[0]

    def find_request(self, request_id: str) -> QuestionRecord | None:
        rows = self._rows(
            "SELECT id FROM questions WHERE request_id = :request_id", {"request_id": request_id}
        )
        return self.get(rows[0]["id"]) if rows else None

    def get(self, question_id: str) -> QuestionRecord:
        row = self._question_row(question_id)
        found = {
            table: self._rows(
                f"SELECT * FROM {table} WHERE question_id = :id ORDER BY n", {"id": question_id}
            )
            for table in ("sources", "closest_pages")
        }
        votes = self._votes(question_id)
        answer = Answer(
            id=row["id"],
            question=row["question"],
            answer=row["answer"],
            language=row["language"],
            sources=[source_from_row(s) for s in found["sources"]],
            created_at=row["created_at"],
            model=row["model"],
            timings=json.loads(row["timings"]),
            status=row["status"],
            generated=bool(row["generated"]),
            standalone_question=row["standalone_question"],
            index_version=row["index_version"],
            corrections=row["corrections"],
            unsupported_removed=row["unsupported_removed"],
            cached=row["cached_from"] is not None,
            cached_from=row["cached_from"],
            closest=[source_from_row(s) for s in found["closest_pages"]],
        )
        return QuestionRecord(
            answer=answer,
            asked_at=row["asked_at"],
            normalized=row["normalized"],
            error=row["error"],
            embedding=vector_from_blob(row["embedding"]),
            embedding_model=row["embedding_model"],
            up=votes.up,
            down=votes.down,
        )

    def _votes(self, question_id: str) -> Votes:
        rows = self._rows(
            f"SELECT up, down FROM {_ROOT_VOTES} v WHERE root = "
            "(SELECT COALESCE(cached_from, id) FROM questions WHERE id = :id)",
            {"id": question_id},
        )
        return Votes(int(rows[0]["up"] or 0), int(rows[0]["down"] or 0)) if rows else Votes(0, 0)

    def find_cached(
        self,
        normalized: str,
        embedding: Vector | None,
        embedding_model: str | None,
        index_version: str,
        min_similarity: float,
        asked_between: tuple[str, str] | None = None,
    ) -> QuestionRecord | None:
        where = f"{_GOOD_ORIGINAL} AND {_NOT_DOWNVOTED} AND q.index_version = :version"
        params: dict[str, Any] = {"version": index_version}
        if asked_between is not None:
            where += " AND q.asked_at >= :start AND q.asked_at < :end"
            params.update(start=asked_between[0], end=asked_between[1])
        exact = self._rows(
            f"SELECT q.id FROM questions q WHERE {where} AND q.normalized = :normalized"
            " ORDER BY q.seq DESC LIMIT 1",
            {**params, "normalized": normalized},
        )
        if exact:
            return self.get(exact[0]["id"])
        if embedding is None or embedding_model is None:
            return None
        rows = self._rows(
            f"SELECT q.id, q.normalized, q.embedding FROM questions q WHERE {where}"
            " AND q.embedding_model = :model AND q.embedding IS NOT NULL"
            " ORDER BY q.seq DESC LIMIT :limit",
            {**params, "model": embedding_model, "limit": SCAN_LIMIT},
        )
        for row, score in _rank(rows, embedding):
            if score < min_similarity:
                break
            if text_overlap(normalized, row["normalized"]) >= MIN_TEXT_OVERLAP:
                return self.get(row["id"])
        return None

    def similar(
        self, embedding: Vector, embedding_model: str, exclude: set[str], limit: int
    ) -> list[QuestionSummary]:
        where = f"{_GOOD_ORIGINAL} AND q.embedding_model = :model AND q.embedding IS NOT NULL"
        rows = self._rows(
            f"SELECT {_SUMMARY_COLUMNS}, q.embedding FROM questions q"
            f" WHERE {_newest_per_question(where)} ORDER BY q.seq DESC LIMIT :limit",
            {"model": embedding_model, "limit": SCAN_LIMIT},
        )
        ranked = [row for row, _ in _rank(rows, embedding) if row["id"] not in exclude]
        return self._summaries(ranked[:limit])

    def recent(self, limit: int, exclude: set[str] | None = None) -> list[QuestionSummary]:
        rows = self._rows(
            f"SELECT {_SUMMARY_COLUMNS} FROM questions q"
            f" WHERE {_newest_per_question(_GOOD_ORIGINAL)} ORDER BY q.seq DESC LIMIT :limit",
            {"limit": limit + len(exclude or ())},
        )
        return self._summaries([r for r in rows if r["id"] not in (exclude or set())][:limit])

    def popular(self, limit: int) -> list[QuestionSummary]:
        rows = self._rows(
            f"SELECT {_SUMMARY_COLUMNS} FROM questions q"
            f" WHERE {_newest_per_question(_GOOD_ORIGINAL)} ORDER BY q.seq DESC LIMIT :limit",
            {"limit": SCAN_LIMIT},
        )
        summaries = self._summaries(rows)
        summaries.sort(key=lambda s: (s.asks, s.asked_at), reverse=True)
        return summaries[:limit]

    def search(self, query: str, limit: int, offset: int) -> tuple[list[QuestionSummary], int]:
        where = "q.cached_from IS NULL AND q.status != 'failed'"
        params: dict[str, Any] = {}
        if query.strip():
            where += (
                " AND (q.question LIKE :raw ESCAPE '\\' OR q.normalized LIKE :norm ESCAPE '\\')"
            )
            params.update(raw=_like(query.strip()), norm=_like(normalize_question(query)))
        total = self._rows(
            f"SELECT COUNT(DISTINCT q.normalized) AS n FROM questions q WHERE {where}", params
        )[0]["n"]
        rows = self._rows(
            f"SELECT {_SUMMARY_COLUMNS} FROM questions q WHERE {_newest_per_question(where)}"
            " ORDER BY q.seq DESC LIMIT :limit OFFSET :offset",
            {**params, "limit": limit, "offset": offset},
        )
        return self._summaries(rows), int(total)

    def gap_candidates(self, limit: int) -> list[GapCandidate]:
        rows = self._rows(
            f"SELECT {_SUMMARY_COLUMNS}, q.embedding, COALESCE(v.down, 0) AS down,"
            " c.doc_id AS near_doc, c.title AS near_title, c.url AS near_url"
            f" FROM questions q LEFT JOIN {_ROOT_VOTES} v ON v.root = COALESCE(q.cached_from, q.id)"
            " LEFT JOIN closest_pages c ON c.question_id = q.id AND c.n = 1"
            " WHERE q.status = 'no_answer'"
            " OR (q.status != 'failed' AND COALESCE(v.down, 0) > COALESCE(v.up, 0))"
            " ORDER BY q.seq DESC LIMIT :limit",
            {"limit": limit},
        )
        return [
            GapCandidate(
                summary=summary_from_row(row, 1),
                embedding=vector_from_blob(row["embedding"]),
                no_answer=row["status"] == "no_answer",
                down=int(row["down"]),
                nearest=(
                    NearestPage(row["near_doc"], row["near_title"], row["near_url"])
                    if row["near_doc"] is not None
                    else None
                ),
            )
            for row in rows
        ]

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


def _rank(rows: Sequence[RowMapping], embedding: Vector) -> list[tuple[RowMapping, float]]:
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
