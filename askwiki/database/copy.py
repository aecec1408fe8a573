"""``askwiki db copy``: move a question log into another database (e.g. SQLite to PostgreSQL)."""

from __future__ import annotations

import logging

from sqlalchemy import Engine, func, insert, select
from sqlalchemy.exc import SQLAlchemyError

from askwiki.database.engine import write_transaction
from askwiki.database.migrate import upgrade
from askwiki.database.tables import QUESTION_LOG, audit_log, feedback, questions
from askwiki.errors import QuestionLogError

logger = logging.getLogger(__name__)

BATCH = 500


def copy_question_log(source: Engine, target: Engine) -> dict[str, int]:
    """Copy every table of the log, in one transaction; returns the rows copied per table.

    Both databases are migrated first. The target must hold no questions yet, so a copy
    that is run twice cannot duplicate a log. Questions go in their insertion order and
    the target numbers them itself, so "newest first" stays true there.
    """
    upgrade(source)
    upgrade(target)
    counts: dict[str, int] = {}
    try:
        with source.connect() as reader, write_transaction(target) as writer:
            if writer.execute(select(func.count()).select_from(questions)).scalar_one():
                raise QuestionLogError(
                    f"{target.url.render_as_string(hide_password=True)} already holds questions; "
                    "copy into an empty database"
                )
            for table in QUESTION_LOG:
                # Numbers the target assigns itself: insertion order, feedback and audit ids.
                numbered = table is feedback or table is audit_log
                order = questions.c.seq if table is questions else None
                if numbered:
                    order = table.c.id
                own = {"seq"} if table is questions else {"id"} if numbered else set()
                query = select(*(c for c in table.columns if c.name not in own))
                if order is not None:
                    query = query.order_by(order)
                counts[table.name] = 0
                rows = reader.execute(query).mappings()
                while batch := rows.fetchmany(BATCH):
                    writer.execute(insert(table), [dict(row) for row in batch])
                    counts[table.name] += len(batch)
    except SQLAlchemyError as exc:
        raise QuestionLogError(f"Copying the question log failed: {exc}") from exc
    logger.info("Copied %s", counts)
    return counts
