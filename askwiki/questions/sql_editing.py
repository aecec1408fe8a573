"""The editors' half of the SQL question log: their list, hide, delete, curate, audit,
and the admin page's signed-out sessions.

Hiding and deleting act on a question, not one ask: every ask of the same normalised
text and every repeat of their answers. Lists show one entry per text, so hiding only
the newest ask would bring the older one back into view.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Connection, bindparam, insert, text
from sqlalchemy.exc import SQLAlchemyError

from askwiki.answering.types import Source
from askwiki.database import write_transaction
from askwiki.database.tables import (
    audit_log,
    curated_answers,
    curated_sources,
    revoked_sessions,
)
from askwiki.errors import QuestionLogError, QuestionNotFoundError
from askwiki.questions.schema import source_from_row, source_row
from askwiki.questions.sql_base import (
    HAS_CURATED,
    ROOT_VOTES,
    SUMMARY_COLUMNS,
    TEXT_MATCH,
    SQLStoreBase,
    insert_unless_present,
    like_pattern,
    newest_per_question,
    now_utc,
)
from askwiki.questions.store import (
    AuditAction,
    AuditEntry,
    CuratedAnswer,
    QuestionFilter,
    QuestionSummary,
    Vector,
)
from askwiki.questions.text import normalize_question

logger = logging.getLogger(__name__)
DELETE_BATCH = 500


class EditorQueries(SQLStoreBase):
    """What editors do to the log; each change and its audit entry in one transaction."""

    def browse(
        self, filters: QuestionFilter, limit: int, offset: int
    ) -> tuple[list[QuestionSummary], int]:
        where = "q.cached_from IS NULL"
        params: dict[str, Any] = {}
        if filters.status is None:
            where += " AND q.status != 'failed'"
        else:
            where += " AND q.status = :status"
            params["status"] = filters.status
        if filters.hidden is not None:
            where += f" AND q.hidden = {int(filters.hidden)}"
        if filters.curated is not None:
            where += f" AND {'' if filters.curated else 'NOT '}{HAS_CURATED}"
        if filters.votes is not None:
            condition = {
                "up": "v.up > COALESCE(v.down, 0)",
                "down": "v.down > COALESCE(v.up, 0)",
                "any": "v.up + v.down > 0",
            }[filters.votes]
            where += (
                f" AND EXISTS (SELECT 1 FROM {ROOT_VOTES} v WHERE v.root = q.id AND {condition})"
            )
        if filters.query.strip():
            where += TEXT_MATCH
            params.update(
                raw=like_pattern(filters.query.strip()),
                norm=like_pattern(normalize_question(filters.query)),
            )
        total = self._rows(
            f"SELECT COUNT(DISTINCT q.normalized) AS n FROM questions q WHERE {where}", params
        )[0]["n"]
        rows = self._rows(
            f"SELECT {SUMMARY_COLUMNS}, q.hidden, COALESCE(v.up, 0) AS up,"
            f" COALESCE(v.down, 0) AS down, CASE WHEN {HAS_CURATED} THEN 1 ELSE 0 END AS curated"
            f" FROM questions q LEFT JOIN {ROOT_VOTES} v ON v.root = q.id"
            f" WHERE {newest_per_question(where)}"
            " ORDER BY q.seq DESC LIMIT :limit OFFSET :offset",
            {**params, "limit": limit, "offset": offset},
        )
        return self._summaries(rows), int(total)

    def _asks_of(self, tx: Connection, question_id: str) -> list[str]:
        """Every ask of the question's text and every repeat of their answers, repeats
        first (they reference their original, so they must go first)."""
        normalized = tx.execute(
            text("SELECT normalized FROM questions WHERE id = :id"), {"id": question_id}
        ).scalar_one_or_none()
        if normalized is None:
            raise QuestionNotFoundError(f"No stored question with id {question_id!r}")
        rows = tx.execute(
            text(
                "SELECT id FROM questions WHERE normalized = :n OR cached_from IN"
                " (SELECT id FROM questions WHERE normalized = :n)"
                " ORDER BY CASE WHEN cached_from IS NULL THEN 1 ELSE 0 END, seq"
            ),
            {"n": normalized},
        ).all()
        return [row[0] for row in rows]

    def _audit(
        self, tx: Connection, actor: str, action: AuditAction, target: str, detail: str = ""
    ) -> None:
        tx.execute(
            insert(audit_log),
            {"at": now_utc(), "actor": actor, "action": action, "target": target, "detail": detail},
        )
        logger.info("Editor %r: %s %s %s", actor, action, target, detail)

    def set_hidden(self, question_id: str, hidden: bool, actor: str) -> None:
        try:
            with write_transaction(self.engine) as tx:
                ids = self._asks_of(tx, question_id)
                tx.execute(
                    text("UPDATE questions SET hidden = :hidden WHERE id IN :ids").bindparams(
                        bindparam("ids", expanding=True)
                    ),
                    {"hidden": int(hidden), "ids": ids},
                )
                self._audit(
                    tx, actor, "hide" if hidden else "unhide", question_id, f"{len(ids)} asks"
                )
        except SQLAlchemyError as exc:
            raise QuestionLogError(f"Cannot hide {question_id} in {self.where}: {exc}") from exc

    def delete_question(self, question_id: str, actor: str) -> int:
        try:
            with write_transaction(self.engine) as tx:
                ids = self._asks_of(tx, question_id)
                # In _asks_of's order, repeats first; sources, votes and curated answers
                # go with their question (ON DELETE CASCADE).
                for start in range(0, len(ids), DELETE_BATCH):
                    tx.execute(
                        text("DELETE FROM questions WHERE id IN :ids").bindparams(
                            bindparam("ids", expanding=True)
                        ),
                        {"ids": ids[start : start + DELETE_BATCH]},
                    )
                self._audit(tx, actor, "delete", question_id, f"{len(ids)} asks")
        except SQLAlchemyError as exc:
            raise QuestionLogError(f"Cannot delete {question_id} in {self.where}: {exc}") from exc
        return len(ids)

    def put_curated(
        self, question_id: str, text: str, sources: list[Source], actor: str
    ) -> CuratedAnswer:
        self._question_row(question_id)
        now = now_utc()
        try:
            with write_transaction(self.engine) as tx:
                before = (
                    tx.execute(
                        curated_answers.select().where(curated_answers.c.question_id == question_id)
                    )
                    .mappings()
                    .first()
                )
                tx.execute(
                    curated_answers.delete().where(curated_answers.c.question_id == question_id)
                )
                tx.execute(
                    insert(curated_answers),
                    {
                        "question_id": question_id,
                        "answer": text,
                        "reviewed_by": actor,
                        "created_at": before["created_at"] if before else now,
                        "updated_at": now,
                    },
                )
                if sources:
                    tx.execute(
                        insert(curated_sources), [source_row(question_id, s) for s in sources]
                    )
                self._audit(tx, actor, "curate", question_id, f"{len(sources)} sources")
        except SQLAlchemyError as exc:
            raise QuestionLogError(
                f"Cannot store the curated answer of {question_id} in {self.where}: {exc}"
            ) from exc
        curated = self.get_curated(question_id)
        assert curated is not None
        return curated

    def remove_curated(self, question_id: str, actor: str) -> None:
        try:
            with write_transaction(self.engine) as tx:
                removed = tx.execute(
                    curated_answers.delete().where(curated_answers.c.question_id == question_id)
                ).rowcount
                if not removed:
                    raise QuestionNotFoundError(f"Question {question_id!r} has no curated answer")
                self._audit(tx, actor, "uncurate", question_id)
        except SQLAlchemyError as exc:
            raise QuestionLogError(
                f"Cannot remove the curated answer of {question_id} in {self.where}: {exc}"
            ) from exc

    def get_curated(self, question_id: str) -> CuratedAnswer | None:
        rows = self._rows(
            "SELECT c.*, q.question, q.language FROM curated_answers c"
            " JOIN questions q ON q.id = c.question_id WHERE c.question_id = :id",
            {"id": question_id},
        )
        if not rows:
            return None
        row = rows[0]
        cited = self._rows(
            "SELECT * FROM curated_sources WHERE question_id = :id ORDER BY n", {"id": question_id}
        )
        return CuratedAnswer(
            question_id=row["question_id"],
            question=row["question"],
            answer=row["answer"],
            sources=[source_from_row(s) for s in cited],
            reviewed_by=row["reviewed_by"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            language=row["language"],
        )

    def find_curated(
        self,
        normalized: str,
        embedding: Vector | None,
        embedding_model: str | None,
        min_similarity: float,
    ) -> CuratedAnswer | None:
        found = self._same_meaning(
            f"q.hidden = 0 AND {HAS_CURATED}",
            {},
            normalized,
            embedding,
            embedding_model,
            min_similarity,
        )
        return None if found is None else self.get_curated(found)

    def audit_log(self, limit: int, offset: int) -> list[AuditEntry]:
        rows = self._rows(
            "SELECT at, actor, action, target, detail FROM audit_log"
            " ORDER BY id DESC LIMIT :limit OFFSET :offset",
            {"limit": limit, "offset": offset},
        )
        return [AuditEntry(**row) for row in rows]

    def revoke_session(self, session_id: str, expires: int, now: int) -> None:
        try:
            with write_transaction(self.engine) as tx:
                tx.execute(revoked_sessions.delete().where(revoked_sessions.c.expires <= now))
                tx.execute(
                    insert_unless_present(self.engine, revoked_sessions, "session_id"),
                    {"session_id": session_id, "expires": expires},
                )
        except SQLAlchemyError as exc:
            raise QuestionLogError(
                f"Cannot revoke an admin session in {self.where}: {exc}"
            ) from exc

    def session_revoked(self, session_id: str) -> bool:
        rows = self._rows(
            "SELECT 1 FROM revoked_sessions WHERE session_id = :sid", {"sid": session_id}
        )
        return bool(rows)
