"""The question log in SQLite: one file in the data folder, WAL mode, one connection per thread.

Each answer is written in one ``BEGIN IMMEDIATE`` transaction (the question row and its
sources together), so a reader never sees half an answer. Embeddings are float32 blobs;
similarity search scans the newest ``SCAN_LIMIT`` candidates with numpy, which is plenty
for a wiki's question log and needs no extension.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from askwiki.answering.types import Answer
from askwiki.errors import QuestionLogError, QuestionNotFoundError
from askwiki.questions.schema import (
    ADDED_COLUMNS,
    SCHEMA,
    SCHEMA_VERSION,
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

FILENAME = "questions.sqlite"
SCAN_LIMIT = 5000
# An original answer (not a cached repeat) that may be shown to others or served again.
_GOOD_ORIGINAL = "q.cached_from IS NULL AND q.status = 'answered'"
_NOT_DOWNVOTED = (
    "NOT EXISTS (SELECT 1 FROM root_votes v WHERE v.root = q.id AND v.down > COALESCE(v.up, 0))"
)
_SOURCE_SLOTS = ", ".join("?" * 12)
_SUMMARY_COLUMNS = "q.id, q.question, q.asked_at, q.answer, q.status, q.language, q.normalized"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class SQLiteQuestionStore:
    """``QuestionStore`` in ``{data_dir}/questions.sqlite``; safe to share between threads."""

    def __init__(self, path: Path, *, busy_timeout_s: float = 10.0) -> None:
        self.path = path
        self._busy_timeout_s = busy_timeout_s
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = self._conn()
            conn.execute("PRAGMA journal_mode=WAL")
            with self._transaction() as tx:
                for statement in SCHEMA.split(";\n"):
                    if statement.strip():
                        tx.execute(statement)
                present = {row[1] for row in tx.execute("PRAGMA table_info(questions)")}
                for column, kind in ADDED_COLUMNS.items():
                    if column not in present:
                        tx.execute(f"ALTER TABLE questions ADD COLUMN {column} {kind}")
                tx.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except (OSError, sqlite3.Error) as exc:
            raise QuestionLogError(
                f"Cannot open the question log {path}: {exc}; check ASKWIKI_DATA_DIR is writable"
            ) from exc
        logger.info("Question log at %s", path)

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> SQLiteQuestionStore:
        return cls(data_dir / FILENAME)

    # -- connections -------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self.path,
                timeout=self._busy_timeout_s,
                isolation_level=None,  # transactions are explicit: BEGIN IMMEDIATE ... COMMIT
                check_same_thread=False,  # only so close() may close it from another thread
            )
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        try:
            return self._conn().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise QuestionLogError(f"Question log query failed on {self.path}: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()
        self._local = threading.local()

    # -- writing -----------------------------------------------------------------------

    def save(
        self,
        answer: Answer,
        *,
        asked_at: str,
        embedding: Vector | None,
        embedding_model: str | None,
        error: str | None = None,
    ) -> None:
        blob = None if embedding is None else np.asarray(embedding, dtype=np.float32).tobytes()
        row = (
            answer.id,
            answer.question,
            normalize_question(answer.question),
            answer.standalone_question,
            answer.language,
            answer.status,
            answer.answer,
            error,
            int(answer.generated),
            answer.model,
            answer.index_version,
            answer.corrections,
            json.dumps(answer.timings),
            answer.created_at,
            asked_at,
            answer.cached_from,
            blob,
            embedding_model if blob is not None else None,
            answer.unsupported_removed,
        )
        sources = [source_row(answer.id, s) for s in answer.sources]
        closest = [source_row(answer.id, s) for s in answer.closest]
        try:
            with self._transaction() as tx:
                tx.execute(f"INSERT INTO questions VALUES ({', '.join('?' * len(row))})", row)
                for table, rows in (("sources", sources), ("closest_pages", closest)):
                    tx.executemany(f"INSERT INTO {table} VALUES ({_SOURCE_SLOTS})", rows)
        except sqlite3.Error as exc:
            raise QuestionLogError(
                f"Cannot store answer {answer.id} in {self.path}: {exc}"
            ) from exc

    def add_feedback(self, question_id: str, vote: Vote, comment: str | None) -> Votes:
        self.get_row(question_id)
        try:
            with self._transaction() as tx:
                tx.execute(
                    "INSERT INTO feedback (question_id, vote, comment, created_at)"
                    " VALUES (?, ?, ?, ?)",
                    (question_id, vote, comment or None, _now()),
                )
        except sqlite3.Error as exc:
            raise QuestionLogError(f"Cannot store feedback in {self.path}: {exc}") from exc
        return self._votes(question_id)

    # -- reading -----------------------------------------------------------------------

    def get_row(self, question_id: str) -> sqlite3.Row:
        rows = self._rows("SELECT * FROM questions WHERE id = ?", (question_id,))
        if not rows:
            raise QuestionNotFoundError(f"No stored question with id {question_id!r}")
        return rows[0]

    def get(self, question_id: str) -> QuestionRecord:
        row = self.get_row(question_id)
        sources = self._rows(
            "SELECT * FROM sources WHERE question_id = ? ORDER BY n", (question_id,)
        )
        closest = self._rows(
            "SELECT * FROM closest_pages WHERE question_id = ? ORDER BY n", (question_id,)
        )
        votes = self._votes(question_id)
        answer = Answer(
            id=row["id"],
            question=row["question"],
            answer=row["answer"],
            language=row["language"],
            sources=[source_from_row(s) for s in sources],
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
            closest=[source_from_row(s) for s in closest],
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
            "SELECT up, down FROM root_votes WHERE root = "
            "(SELECT COALESCE(cached_from, id) FROM questions WHERE id = ?)",
            (question_id,),
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
        where = f"{_GOOD_ORIGINAL} AND {_NOT_DOWNVOTED} AND q.index_version = ?"
        bounds: tuple[str, ...] = ()
        if asked_between is not None:
            where += " AND q.asked_at >= ? AND q.asked_at < ?"
            bounds = asked_between
        exact = self._rows(
            f"SELECT q.id FROM questions q WHERE {where} AND q.normalized = ?"
            " ORDER BY q.rowid DESC LIMIT 1",
            (index_version, *bounds, normalized),
        )
        if exact:
            return self.get(exact[0]["id"])
        if embedding is None or embedding_model is None:
            return None
        rows = self._rows(
            f"SELECT q.id, q.normalized, q.embedding FROM questions q WHERE {where}"
            " AND q.embedding_model = ? AND q.embedding IS NOT NULL"
            " ORDER BY q.rowid DESC LIMIT ?",
            (index_version, *bounds, embedding_model, SCAN_LIMIT),
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
        # One row per distinct question, its newest: SQLite takes bare columns from the
        # row of the single MAX() aggregate. Newest means most recently stored (rowid).
        rows = self._rows(
            f"SELECT {_SUMMARY_COLUMNS}, q.embedding, MAX(q.rowid) FROM questions q"
            f" WHERE {_GOOD_ORIGINAL} AND q.embedding_model = ? AND q.embedding IS NOT NULL"
            " GROUP BY q.normalized ORDER BY MAX(q.rowid) DESC LIMIT ?",
            (embedding_model, SCAN_LIMIT),
        )
        ranked = [row for row, _ in _rank(rows, embedding) if row["id"] not in exclude]
        return self._summaries(ranked[:limit])

    def recent(self, limit: int, exclude: set[str] | None = None) -> list[QuestionSummary]:
        rows = self._rows(
            f"SELECT {_SUMMARY_COLUMNS}, MAX(q.rowid) FROM questions q WHERE {_GOOD_ORIGINAL}"
            " GROUP BY q.normalized ORDER BY MAX(q.rowid) DESC LIMIT ?",
            (limit + len(exclude or ()),),
        )
        return self._summaries([r for r in rows if r["id"] not in (exclude or set())][:limit])

    def popular(self, limit: int) -> list[QuestionSummary]:
        rows = self._rows(
            f"SELECT {_SUMMARY_COLUMNS}, MAX(q.rowid) FROM questions q WHERE {_GOOD_ORIGINAL}"
            " GROUP BY q.normalized ORDER BY MAX(q.rowid) DESC LIMIT ?",
            (SCAN_LIMIT,),
        )
        summaries = self._summaries(rows)
        summaries.sort(key=lambda s: (s.asks, s.asked_at), reverse=True)
        return summaries[:limit]

    def search(self, query: str, limit: int, offset: int) -> tuple[list[QuestionSummary], int]:
        where = "q.cached_from IS NULL AND q.status != 'failed'"
        params: list[Any] = []
        if query.strip():
            where += " AND (q.question LIKE ? ESCAPE '\\' OR q.normalized LIKE ? ESCAPE '\\')"
            params += [_like(query.strip()), _like(normalize_question(query))]
        total = self._rows(
            f"SELECT COUNT(DISTINCT q.normalized) AS n FROM questions q WHERE {where}", params
        )[0]["n"]
        rows = self._rows(
            f"SELECT {_SUMMARY_COLUMNS}, MAX(q.rowid) FROM questions q WHERE {where}"
            " GROUP BY q.normalized ORDER BY MAX(q.rowid) DESC LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return self._summaries(rows), int(total)

    def gap_candidates(self, limit: int) -> list[GapCandidate]:
        rows = self._rows(
            f"SELECT {_SUMMARY_COLUMNS}, q.embedding, COALESCE(v.down, 0) AS down,"
            " c.doc_id AS near_doc, c.title AS near_title, c.url AS near_url"
            " FROM questions q LEFT JOIN root_votes v ON v.root = COALESCE(q.cached_from, q.id)"
            " LEFT JOIN closest_pages c ON c.question_id = q.id AND c.n = 1"
            " WHERE q.status = 'no_answer'"
            " OR (q.status != 'failed' AND COALESCE(v.down, 0) > COALESCE(v.up, 0))"
            " ORDER BY q.rowid DESC LIMIT ?",
            (limit,),
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

    def _summaries(self, rows: Sequence[sqlite3.Row]) -> list[QuestionSummary]:
        """Summaries with ``asks``: every stored ask of the same question, repeats included."""
        keys = sorted({row["normalized"] for row in rows})
        counts: dict[str, int] = {}
        if keys:
            marks = ", ".join("?" * len(keys))
            for count in self._rows(
                "SELECT r.normalized AS key, COUNT(*) AS n FROM questions q"
                " JOIN questions r ON r.id = COALESCE(q.cached_from, q.id)"
                f" WHERE r.normalized IN ({marks}) AND q.status != 'failed' GROUP BY r.normalized",
                keys,
            ):
                counts[count["key"]] = int(count["n"])
        return [summary_from_row(row, counts.get(row["normalized"], 1)) for row in rows]


def _rank(rows: Sequence[sqlite3.Row], embedding: Vector) -> list[tuple[sqlite3.Row, float]]:
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
