"""Engines for ``sqlite:///…`` and ``postgresql://…`` URLs, and write transactions.

SQLite runs in WAL mode with foreign keys on; a write transaction starts with
``BEGIN IMMEDIATE`` so two writers queue on the busy timeout instead of failing when a
read lock would have to be upgraded. PostgreSQL goes through psycopg 3.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from askwiki.errors import ConfigError

logger = logging.getLogger(__name__)

DatabaseKind = Literal["sqlite", "postgresql"]
SQLITE_FILENAME = "questions.sqlite"
_IMMEDIATE = "askwiki_immediate"


def default_sqlite_url(data_dir: Path) -> str:
    """Today's question log file: ``{data_dir}/questions.sqlite``."""
    return f"sqlite:///{data_dir / SQLITE_FILENAME}"


def database_kind(url: str) -> DatabaseKind:
    """'sqlite' or 'postgresql'; raises ``ConfigError`` for anything else."""
    try:
        backend = make_url(url).get_backend_name()
    except ArgumentError as exc:
        raise ConfigError(
            f"ASKWIKI_DATABASE_URL {url!r} is not a database URL; "
            "use sqlite:///path/questions.sqlite or postgresql://user@host/db"
        ) from exc
    if backend == "sqlite":
        return "sqlite"
    if backend == "postgresql":
        return "postgresql"
    raise ConfigError(
        f"ASKWIKI_DATABASE_URL {url!r}: only sqlite:/// and postgresql:// are supported"
    )


def open_engine(url: str, *, busy_timeout_s: float = 10.0, pool_size: int = 5) -> Engine:
    """An engine for the URL; a SQLite file's folder is created if missing."""
    kind = database_kind(url)
    parsed = make_url(url)
    if kind == "postgresql":
        # psycopg 3 whatever driver the URL named (postgresql:// alone means psycopg2).
        parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(
            parsed, pool_size=pool_size, max_overflow=10, pool_pre_ping=True, future=True
        )
    parsed = parsed.set(drivername="sqlite+pysqlite")
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        parsed, connect_args={"timeout": busy_timeout_s, "check_same_thread": False}
    )
    _explicit_sqlite_transactions(engine, busy_timeout_s)
    return engine


def _explicit_sqlite_transactions(engine: Engine, busy_timeout_s: float) -> None:
    """pysqlite's own transaction handling defers BEGIN and cannot say IMMEDIATE: take over."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        _enter_wal_mode(cursor, busy_timeout_s)
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get(_IMMEDIATE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _enter_wal_mode(cursor: Any, busy_timeout_s: float) -> None:
    """Switch a file to WAL, waiting out replicas that switch the same new file at once.

    SQLite answers a concurrent journal-mode change with "database is locked" at once,
    without calling the busy handler, so the wait the busy timeout promises is done here.
    """
    deadline = time.monotonic() + busy_timeout_s
    pause_s = 0.01
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(pause_s)
        pause_s = min(pause_s * 2, 0.2)


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that will write: committed on success, rolled back on any error."""
    with engine.connect() as connection:
        connection.execution_options(**{_IMMEDIATE: True})
        with connection.begin():
            yield connection
