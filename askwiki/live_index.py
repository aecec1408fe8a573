"""The index a running server searches, swapped for a newer version without a restart."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from askwiki.embedding.embedder import Embedder
from askwiki.errors import AskwikiError, IndexNotFoundError
from askwiki.retrieval import Reranker, Retriever
from askwiki.retrieval_options import RetrievalOptions, retrieval_options
from askwiki.settings import Settings
from askwiki.store.index import WikiIndex, open_index
from askwiki.store.layout import current_version
from askwiki.store.manifest import check_same_model

logger = logging.getLogger(__name__)


class LiveIndex:
    """Holds the loaded version; a poller loads a newly published one and swaps it in.

    Requests take ``retriever()`` once and keep that object, so a swap never changes the
    index under a request in flight; the old version is freed when its last user is done.
    """

    def __init__(
        self,
        index_path: Path,
        embedder: Embedder,
        options: RetrievalOptions,
        reranker: Reranker | None = None,
    ) -> None:
        self.index_path = index_path
        self._embedder = embedder
        self._options = options
        self._reranker = reranker
        self._retriever: Retriever | None = None
        self._reload_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._tried: str | None = None
        self.last_error: str | None = None

    def load(self) -> WikiIndex:
        """Load the live version (or the newest good one before it); raises if none loads."""
        self._tried = current_version(self.index_path)
        index = open_index(self.index_path)
        check_same_model(index.manifest, self._embedder.info, self.index_path)
        self._retriever = Retriever(index, self._embedder, self._options, self._reranker)
        self.last_error = (
            None if index.version == self._tried else f"version {self._tried} is damaged"
        )
        logger.info("Serving %s version %s", self.index_path, index.version)
        return index

    @property
    def loaded(self) -> bool:
        return self._retriever is not None

    def retriever(self) -> Retriever:
        if self._retriever is None:
            self.refresh()
        if self._retriever is None:
            raise IndexNotFoundError(
                self.last_error or f"No index loaded from {self.index_path}; run 'askwiki ingest'"
            )
        return self._retriever

    def refresh(self) -> bool:
        """Load the published version if it differs from the one served; True if swapped."""
        with self._reload_lock:
            published = current_version(self.index_path)
            served = self._retriever.index.version if self._retriever else None
            # A published version that failed to load is not retried until another appears.
            if published is None or (published in (served, self._tried) and self.loaded):
                return False
            try:
                self.load()
            except AskwikiError as exc:
                self.last_error = str(exc)
                logger.error("Keeping version %s: cannot load %s (%s)", served, published, exc)
                return False
            return True

    def start_polling(self, interval_s: float) -> None:
        def poll() -> None:
            while not self._stop.wait(interval_s):
                try:
                    self.refresh()
                except Exception:  # a poller that dies would silently stop updates
                    logger.exception("Index poller failed; will retry")

        self._thread = threading.Thread(target=poll, name="askwiki-index-poller", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


def serve_live_index(settings: Settings, embedder: Embedder) -> LiveIndex:
    """The live index ``settings`` name, loaded and polled for new versions.

    A missing or damaged index does not stop a server: ``last_error`` says why (readiness,
    tool errors) and the poller picks up a first ingest.
    """
    live = LiveIndex(settings.index_path, embedder, retrieval_options(settings))
    try:
        live.load()
    except AskwikiError as exc:
        live.last_error = str(exc)
        logger.error("%s", exc)
    live.start_polling(settings.index_poll_s)
    return live
