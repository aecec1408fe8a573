"""Index rollout for N replicas: the live version of each index, recorded and announced.

Versions stay immutable folders on the shared ``ASKWIKI_INDEX_DIR``; publishing one
also records it in ``index_versions`` and, on PostgreSQL, sends ``NOTIFY`` on
``CHANNEL`` in the same transaction. Each replica's ``VersionListener`` hears it and
reloads at once instead of at its next poll; the poll stays as the fallback.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

import psycopg
from sqlalchemy import Engine, select, text
from sqlalchemy.engine import make_url

from askwiki.database.engine import write_transaction
from askwiki.database.tables import index_versions

logger = logging.getLogger(__name__)

CHANNEL = "askwiki_index"
RECONNECT_S = 1.0


def announce(engine: Engine, index_name: str, version: str) -> None:
    """Record ``version`` as the live one of ``index_name`` and notify every replica."""
    row = {
        "index_name": index_name,
        "version": version,
        "published_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
    }
    with write_transaction(engine) as tx:
        updated = tx.execute(
            index_versions.update()
            .where(index_versions.c.index_name == index_name)
            .values(version=version, published_at=row["published_at"])
        ).rowcount
        if not updated:
            tx.execute(index_versions.insert(), row)
        if tx.dialect.name == "postgresql":
            # Delivered when the transaction commits, so listeners never see it early.
            tx.execute(
                text("SELECT pg_notify(:channel, :payload)"),
                {"channel": CHANNEL, "payload": f"{index_name} {version}"},
            )
    logger.info("Announced %s version %s", index_name, version)


def recorded_version(engine: Engine, index_name: str) -> str | None:
    """The version last announced for ``index_name``, if any."""
    with engine.connect() as connection:
        return connection.execute(
            select(index_versions.c.version).where(index_versions.c.index_name == index_name)
        ).scalar_one_or_none()


class VersionListener:
    """A thread that ``LISTEN``s on PostgreSQL and calls ``on_version(index, version)``.

    After every (re)connection it also calls ``on_version(index, None)`` once, so a
    version announced while the connection was down is not missed.
    """

    def __init__(self, url: str, on_version: Callable[[str, str | None], None]) -> None:
        self._conninfo = (
            make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        )
        self._on_version = on_version
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.connected = threading.Event()

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name="askwiki-index-listener", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.connected.set()
                    self._call("", None)
                    while not self._stop.is_set():
                        for notice in conn.notifies(timeout=0.5):
                            index, _, version = notice.payload.partition(" ")
                            self._call(index, version or None)
            except psycopg.Error as exc:
                self.connected.clear()
                if not self._stop.is_set():
                    logger.warning("Index listener lost PostgreSQL (%s); reconnecting", exc)
                    self._stop.wait(RECONNECT_S)

    def _call(self, index: str, version: str | None) -> None:
        try:
            self._on_version(index, version)
        except Exception:  # a listener that dies would silently stop fast rollouts
            logger.exception("Reloading after an index announcement failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
