"""Syncing the served index from its wiki sources inside the server.

``ASKWIKI_SYNC_INTERVAL`` starts a thread that syncs every interval; ``POST
/api/admin/sync`` runs one now as an admin job. Both go through ``SyncService.run``,
whose lock keeps at most one sync of the index running in this process (the index
writer's flock refuses one from another process, e.g. a CLI ``askwiki sync``).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import asdict
from typing import Any

from askwiki.embedding.embedder import Embedder
from askwiki.errors import AskwikiError, IndexLockedError
from askwiki.ingest.sync import run_sync, select_sources
from askwiki.live_index import LiveIndex
from askwiki.settings import Settings

logger = logging.getLogger(__name__)
SYNC_THREAD = "askwiki-sync"


class SyncService:
    """Runs syncs of one index, one at a time, and serves each new version at once."""

    def __init__(self, settings: Settings, embedder: Embedder, live: LiveIndex) -> None:
        self._settings = settings
        self._embedder = embedder
        self._live = live
        self._running = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run(self, full: bool = False, sources: list[str] | None = None) -> dict[str, Any]:
        """One sync now (waits for a running one to finish first); returns its report."""
        configs = select_sources(self._settings, names=sources or [])
        with self._running:
            report = run_sync(configs, self._settings, self._embedder, full=full)
        self._live.refresh()
        data = asdict(report)
        data["seconds"] = round(report.seconds, 3)
        return data

    def start_schedule(self) -> None:
        """Sync every ``ASKWIKI_SYNC_INTERVAL`` seconds until ``stop`` (0: never)."""
        if self._settings.sync_interval <= 0 or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name=SYNC_THREAD, daemon=True)
        self._thread.start()
        logger.info(
            "Syncing index %s from %s every %.0f s",
            self._settings.index,
            self._settings.sync_config,
            self._settings.sync_interval,
        )

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._scheduled_once()
            self._stop.wait(self._settings.sync_interval)

    def _scheduled_once(self) -> None:
        if not self._running.acquire(blocking=False):
            return  # an admin sync is running; this round is covered by it
        self._running.release()
        try:
            report = self.run()
        except IndexLockedError as exc:
            logger.info("Scheduled sync skipped: %s", exc)
        except AskwikiError as exc:
            logger.error("Scheduled sync failed: %s", exc)
        except Exception:
            # The schedule must survive a bug in one source; the next round tries again.
            logger.exception("Scheduled sync failed")
        else:
            logger.info(
                "Scheduled sync: version %s, %d new, %d changed, %d deleted, %d failed",
                report["version"],
                len(report["new"]),
                len(report["changed"]),
                len(report["deleted"]),
                len(report["skipped"]),
            )
