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
from typing import Any

import numpy as np
from sqlalchemy import Insert, insert, select, text
from sqlalchemy.exc import SQLAlchemyError

from askwiki.answering.types import Answer
from askwiki.database import write_transaction
from askwiki.database.tables import (
    closest_pages,
    feedback,
    questions,
    sources,
)
from askwiki.errors import QuestionLogError
from askwiki.questions.schema import (
    source_from_row,
    source_row,
    summary_from_row,
    vector_from_blob,
)
from askwiki.questions.sql_base import (
    GOOD_ORIGINAL,
    NOT_DOWNVOTED,
    ROOT_VOTES,
    SCAN_LIMIT,
    SUMMARY_COLUMNS,
    TEXT_MATCH,
    insert_unless_present,
    like_pattern,
    newest_per_question,
    now_utc,
    rank_by_similarity,
)
from askwiki.questions.sql_editing import EditorQueries
from askwiki.questions.store import (
    GapCandidate,
    NearestPage,
    QuestionRecord,
    QuestionSummary,
    Vector,
    Vote,
    Votes,
)
from askwiki.questions.text import normalize_question

logger = logging.getLogger(__name__)

__all__ = ["SCAN_LIMIT", "SQLQuestionStore"]


class SQLQuestionStore(EditorQueries):
    """``QuestionStore`` in any database ``askwiki.database`` supports; thread-safe."""

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
            "reviewed_by": answer.reviewed_by,
            "request_id": request_id,
        }
        try:
            with write_transaction(self.engine) as tx:
                # Asked again after an editor hid it: hidden too, so it stays out of the lists.
                row["hidden"] = int(
                    tx.execute(
                        text(
                            "SELECT 1 FROM questions WHERE normalized = :n AND hidden = 1 LIMIT 1"
                        ),
                        {"n": row["normalized"]},
                    ).first()
                    is not None
                )
                inserted = tx.execute(self._insert_question().values(row)).first()
                if inserted is None:
                    # The unique request id decides between concurrent attempts of one request:
                    # the loser's insert does nothing (PostgreSQL waits for the winner to
                    # commit, SQLite's writers queue) and it reads the winner's id instead.
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
        return insert_unless_present(self.engine, questions, "request_id").returning(questions.c.id)

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
                        "created_at": now_utc(),
                    },
                )
        except SQLAlchemyError as exc:
            raise QuestionLogError(f"Cannot store feedback in {self.where}: {exc}") from exc
        return self._votes(question_id)

    # -- reading -----------------------------------------------------------------------

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
            curated=row["reviewed_by"] is not None,
            reviewed_by=row["reviewed_by"],
            closest=[source_from_row(s) for s in found["closest_pages"]],
        )
        curated = self.get_curated(question_id)
        if curated is None and row["cached_from"] is not None:
            curated = self.get_curated(row["cached_from"])
        return QuestionRecord(
            answer=answer,
            asked_at=row["asked_at"],
            normalized=row["normalized"],
            error=row["error"],
            embedding=vector_from_blob(row["embedding"]),
            embedding_model=row["embedding_model"],
            up=votes.up,
            down=votes.down,
            hidden=bool(row["hidden"]),
            curated=curated,
        )

    def _votes(self, question_id: str) -> Votes:
        rows = self._rows(
            f"SELECT up, down FROM {ROOT_VOTES} v WHERE root = "
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
        where = f"{GOOD_ORIGINAL} AND {NOT_DOWNVOTED} AND q.index_version = :version"
        params: dict[str, Any] = {"version": index_version}
        if asked_between is not None:
            where += " AND q.asked_at >= :start AND q.asked_at < :end"
            params.update(start=asked_between[0], end=asked_between[1])
        found = self._same_meaning(
            where, params, normalized, embedding, embedding_model, min_similarity
        )
        return None if found is None else self.get(found)

    def similar(
        self, embedding: Vector, embedding_model: str, exclude: set[str], limit: int
    ) -> list[QuestionSummary]:
        where = f"{GOOD_ORIGINAL} AND q.embedding_model = :model AND q.embedding IS NOT NULL"
        rows = self._rows(
            f"SELECT {SUMMARY_COLUMNS}, q.embedding FROM questions q"
            f" WHERE {newest_per_question(where)} ORDER BY q.seq DESC LIMIT :limit",
            {"model": embedding_model, "limit": SCAN_LIMIT},
        )
        ranked = [row for row, _ in rank_by_similarity(rows, embedding) if row["id"] not in exclude]
        return self._summaries(ranked[:limit])

    def recent(self, limit: int, exclude: set[str] | None = None) -> list[QuestionSummary]:
        rows = self._rows(
            f"SELECT {SUMMARY_COLUMNS} FROM questions q"
            f" WHERE {newest_per_question(GOOD_ORIGINAL)} ORDER BY q.seq DESC LIMIT :limit",
            {"limit": limit + len(exclude or ())},
        )
        return self._summaries([r for r in rows if r["id"] not in (exclude or set())][:limit])

    def popular(self, limit: int) -> list[QuestionSummary]:
        rows = self._rows(
            f"SELECT {SUMMARY_COLUMNS} FROM questions q"
            f" WHERE {newest_per_question(GOOD_ORIGINAL)} ORDER BY q.seq DESC LIMIT :limit",
            {"limit": SCAN_LIMIT},
        )
        summaries = self._summaries(rows)
        summaries.sort(key=lambda s: (s.asks, s.asked_at), reverse=True)
        return summaries[:limit]

    def search(self, query: str, limit: int, offset: int) -> tuple[list[QuestionSummary], int]:
        where = "q.cached_from IS NULL AND q.status != 'failed' AND q.hidden = 0"
        params: dict[str, Any] = {}
        if query.strip():
            where += TEXT_MATCH
            params.update(
                raw=like_pattern(query.strip()), norm=like_pattern(normalize_question(query))
            )
        total = self._rows(
            f"SELECT COUNT(DISTINCT q.normalized) AS n FROM questions q WHERE {where}", params
        )[0]["n"]
        rows = self._rows(
            f"SELECT {SUMMARY_COLUMNS} FROM questions q WHERE {newest_per_question(where)}"
            " ORDER BY q.seq DESC LIMIT :limit OFFSET :offset",
            {**params, "limit": limit, "offset": offset},
        )
        return self._summaries(rows), int(total)

    def gap_candidates(self, limit: int) -> list[GapCandidate]:
        rows = self._rows(
            f"SELECT {SUMMARY_COLUMNS}, q.embedding, COALESCE(v.down, 0) AS down,"
            " c.doc_id AS near_doc, c.title AS near_title, c.url AS near_url"
            f" FROM questions q LEFT JOIN {ROOT_VOTES} v ON v.root = COALESCE(q.cached_from, q.id)"
            " LEFT JOIN closest_pages c ON c.question_id = q.id AND c.n = 1"
            # An answer an editor curated is no longer a gap; a hidden question is not shown.
            " WHERE q.hidden = 0"
            " AND NOT EXISTS (SELECT 1 FROM curated_answers ca"
            " WHERE ca.question_id = COALESCE(q.cached_from, q.id))"
            " AND (q.status = 'no_answer'"
            " OR (q.status != 'failed' AND COALESCE(v.down, 0) > COALESCE(v.up, 0)))"
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

    # -- retention ---------------------------------------------------------------------

    def purge_asked_before(self, cutoff: str) -> int:
        # Repeats first: they reference their original. Sources, closest pages and votes
        # go with their question (ON DELETE CASCADE). A question an editor answered stays:
        # its curated answer is the editors' work, served to later readers.
        old = "asked_at < :cutoff AND id NOT IN (SELECT question_id FROM curated_answers)"
        try:
            with write_transaction(self.engine) as tx:
                repeats = tx.execute(
                    text(
                        f"DELETE FROM questions WHERE cached_from IS NOT NULL AND ({old}"
                        f" OR cached_from IN (SELECT id FROM questions WHERE {old}))"
                    ),
                    {"cutoff": cutoff},
                ).rowcount
                originals = tx.execute(
                    text(f"DELETE FROM questions WHERE {old}"), {"cutoff": cutoff}
                ).rowcount
        except SQLAlchemyError as exc:
            raise QuestionLogError(
                f"Cannot delete questions asked before {cutoff} in {self.where}: {exc}"
            ) from exc
        return int(repeats) + int(originals)
