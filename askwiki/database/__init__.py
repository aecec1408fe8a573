"""The shared database: the question log, the answer cache, feedback and, on PostgreSQL,
the live index versions and the admin job queue.

One implementation for SQLite (the one-box default) and PostgreSQL (N replicas), on
SQLAlchemy Core; the schema lives in ``tables`` and grows by Alembic migrations.
"""

from __future__ import annotations

from askwiki.database.engine import (
    DatabaseKind,
    database_kind,
    default_sqlite_url,
    open_engine,
    write_transaction,
)
from askwiki.database.migrate import current_revision, head_revision, upgrade

__all__ = [
    "DatabaseKind",
    "current_revision",
    "database_kind",
    "default_sqlite_url",
    "head_revision",
    "open_engine",
    "upgrade",
    "write_transaction",
]
