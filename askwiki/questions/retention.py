"""Deleting stored questions older than ``ASKWIKI_QUESTION_RETENTION_DAYS``.

The server purges once at start and then every ``PURGE_INTERVAL_S``; ``askwiki db purge``
does it on demand. Several replicas purging at once is harmless: each delete is one
transaction and a second finds nothing left.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

from askwiki.errors import AskwikiError
from askwiki.questions.store import QuestionStore

logger = logging.getLogger(__name__)

PURGE_INTERVAL_S = 3600.0
PURGE_THREAD = "askwiki-retention"


def retention_cutoff(days: int, now: datetime | None = None) -> str:
    """The ISO UTC time before which asks are older than ``days`` (``asked_at``'s format)."""
    moment = (now or datetime.now(UTC)).astimezone(UTC) - timedelta(days=days)
    return moment.isoformat(timespec="seconds")


def purge_expired(store: QuestionStore, days: int, now: datetime | None = None) -> int:
    """Delete the asks older than ``days`` (0: keep everything); returns how many went."""
    if days <= 0:
        return 0
    deleted = store.purge_asked_before(retention_cutoff(days, now))
    if deleted:
        logger.info("Deleted %d stored question(s) older than %d day(s)", deleted, days)
    return deleted


class RetentionSchedule:
    """Purges at ``start`` and then every ``interval_s`` in a daemon thread, until ``stop``."""

    def __init__(
        self, store: QuestionStore, days: int, interval_s: float = PURGE_INTERVAL_S
    ) -> None:
        self._store = store
        self._days = days
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Purge now, then every interval in the background."""
        if self._days <= 0 or self._thread is not None:
            return
        self._purge_once()
        self._thread = threading.Thread(target=self._loop, name=PURGE_THREAD, daemon=True)
        self._thread.start()
        logger.info("Keeping stored questions for %d day(s)", self._days)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.wait(self._interval_s):
            self._purge_once()

    def _purge_once(self) -> None:
        try:
            purge_expired(self._store, self._days)
        except AskwikiError as exc:
            # The database may be back next round; readers are not affected meanwhile.
            logger.error("Purging old questions failed: %s", exc)
