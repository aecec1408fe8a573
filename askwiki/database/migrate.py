"""Bring a database to the newest schema, once, even when N replicas start together.

On PostgreSQL the migration runs inside a transaction holding an advisory lock, so the
replicas that did not get the lock wait, then find nothing left to do. On SQLite the
transaction is ``BEGIN IMMEDIATE``, which serialises writers the same way.
"""

from __future__ import annotations

import logging

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from askwiki.database.engine import write_transaction
from askwiki.errors import QuestionLogError

logger = logging.getLogger(__name__)

# pg_advisory_xact_lock key: "askwiki" in ASCII, so other users of the database are unlikely to collide.
MIGRATION_LOCK = 0x61736B77696B69


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", "askwiki.database:migrations")
    return config


def head_revision() -> str:
    """The newest migration this code knows."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at; None for an empty database."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine) -> str:
    """Apply the missing migrations under the database lock; returns the revision reached."""
    config = _config()
    try:
        with write_transaction(engine) as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK}
                )
            before = MigrationContext.configure(connection).get_current_revision()
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            after = MigrationContext.configure(connection).get_current_revision()
    except SQLAlchemyError as exc:
        raise QuestionLogError(
            f"Cannot migrate the database {engine.url.render_as_string(hide_password=True)}: "
            f"{exc}; check ASKWIKI_DATABASE_URL and that the database is reachable and writable"
        ) from exc
    if before != after:
        logger.info("Database migrated from %s to %s", before or "empty", after)
    assert after is not None
    return after
