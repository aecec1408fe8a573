"""PDF files -> ``Document`` with one part per page, read by pypdf in a worker process.

pypdf runs in a separate process with a wall-clock limit: a PDF that makes it loop, eat
memory or crash costs one skipped file, never the ingest run. One worker is reused for
all files (spawning per file would cost an interpreter start each); after a timeout it
is killed and the next PDF gets a fresh one. ``shutdown_pdf_worker`` (also run at exit)
or ``PdfWorker.close`` stops it.
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing
import re
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import TracebackType

from askwiki.documents import Document, DocumentPart
from askwiki.errors import DocumentError
from askwiki.ingest.loaders.files import check_size, escape_heading_lines
from askwiki.ingest.loaders.source import (
    LoaderOptions,
    SourceFile,
    document_url,
    title_from_filename,
)

logger = logging.getLogger(__name__)

MAX_TITLE_CHARS = 120
HEADER_WINDOW = 1024  # readers accept the %PDF- header anywhere in the first 1 KB
NOT_A_PDF = "not a PDF: content does not start with %PDF- (lying extension?)"
NEEDS_PASSWORD = "encrypted PDF (needs a password)"
NO_TEXT = "no extractable text (scanned PDF? OCR is not supported)"
MAX_WARNINGS = 5
INFLATES_TOO_MUCH = "PDF content exceeds the reader's size limits (decompression bomb?)"


@dataclass(frozen=True)
class PdfText:
    """What the worker sends back: metadata title and the text of every page, in order."""

    title: str | None
    pages: tuple[str, ...]
    warnings: tuple[str, ...] = ()


# Runs in the worker process; must be a module-level function (it is pickled by name).
Extractor = Callable[[str], PdfText]


def extract_pdf_text(path: str) -> PdfText:
    """Read a PDF with pypdf; raises ``DocumentError`` with the skip reason."""
    from pypdf import PasswordType, PdfReader
    from pypdf.errors import (
        DependencyError,
        FileNotDecryptedError,
        LimitReachedError,
        PdfReadError,
    )

    try:
        reader = PdfReader(path)
        if reader.is_encrypted:
            try:
                decrypted = reader.decrypt("")
            except DependencyError as exc:
                raise DocumentError(
                    "encrypted PDF (AES; reading it needs the 'cryptography' package)"
                ) from exc
            if decrypted == PasswordType.NOT_DECRYPTED:
                raise DocumentError(NEEDS_PASSWORD)
        metadata = reader.metadata
        title = str(metadata.title).strip() if metadata and metadata.title else None
        pages: list[str] = []
        warnings: list[str] = []
        for number, page in enumerate(reader.pages, start=1):
            try:
                pages.append(page.extract_text() or "")
            except (PdfReadError, ValueError, KeyError, TypeError) as exc:
                # One damaged page should not cost the whole document.
                warnings.append(f"page {number} unreadable, skipped ({exc})")
                pages.append("")
    except FileNotDecryptedError as exc:
        raise DocumentError(NEEDS_PASSWORD) from exc
    except LimitReachedError as exc:
        # pypdf stops inflating a stream at 75 MB (pypdf.Configuration): a decompression bomb.
        raise DocumentError(f"{INFLATES_TOO_MUCH} ({exc})") from exc
    except PdfReadError as exc:
        raise DocumentError(f"broken PDF: {exc}") from exc
    return PdfText(title or None, tuple(pages), tuple(warnings))


class _Collector(logging.Handler):
    """Keeps pypdf's log messages of the current file to send them to the parent."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message not in self.messages and len(self.messages) < MAX_WARNINGS:
            self.messages.append(message)


def _serve(conn: Connection, extractor: Extractor) -> None:
    """Worker loop: receive a path, reply ``("ok", PdfText)`` or ``("skip", reason)``."""
    # Ctrl-C goes to the whole process group; the parent decides when the worker stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The worker has no logging setup: pypdf's warnings would go bare to stderr. They are
    # sent back instead, and the parent logs them with the file name.
    collector = _Collector()
    pypdf_logger = logging.getLogger("pypdf")
    pypdf_logger.addHandler(collector)
    pypdf_logger.propagate = False
    conn.send(("ready", None))
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        if request is None:
            return
        collector.messages.clear()
        reply: tuple[str, object]
        try:
            text = extractor(request)
            notes = tuple(m for m in collector.messages if m not in text.warnings)
            reply = ("ok", replace(text, warnings=text.warnings + notes))
        except DocumentError as exc:
            reply = ("skip", str(exc))
        except Exception as exc:  # any reader failure is a reason to skip this file
            reply = ("skip", f"cannot read PDF: {type(exc).__name__}: {exc}")
        conn.send(reply)


class PdfWorker:
    """One reusable extraction process with a per-file time limit.

    ``extractor`` must be a module-level function; tests pass one that sleeps.
    """

    def __init__(self, extractor: Extractor = extract_pdf_text, *, start_timeout_s: float = 60.0):
        self._extractor = extractor
        self._start_timeout_s = start_timeout_s
        self._context = multiprocessing.get_context("spawn")
        self._process: BaseProcess | None = None
        self._conn: Connection | None = None
        self._lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        """Process id of the running worker, None when none is running."""
        return self._process.pid if self._process is not None else None

    def extract(self, path: Path, timeout_s: float) -> PdfText:
        """Text of ``path``; raises ``DocumentError`` on a skip reason, timeout or crash."""
        with self._lock:
            conn = self._running()
            try:
                conn.send(str(path))
            except OSError:  # the worker died since the last file: one fresh start
                self._kill()
                conn = self._running()
                conn.send(str(path))
            if not conn.poll(timeout_s):
                self._kill()
                raise DocumentError(
                    f"PDF text extraction timed out after {timeout_s:g} s "
                    "(ASKWIKI_PDF_TIMEOUT_S); the reader was stopped"
                )
            try:
                status, payload = conn.recv()
            except (EOFError, OSError) as exc:
                # The pipe closes a moment before the process is reaped: wait for the exit
                # code instead of killing it and reporting our own SIGKILL.
                code = self._kill(grace_s=2.0)
                raise DocumentError(f"PDF reader crashed (worker exit code {code})") from exc
        if status == "ok" and isinstance(payload, PdfText):
            return payload
        raise DocumentError(str(payload))

    def _running(self) -> Connection:
        if self._process is not None and self._conn is not None and self._process.is_alive():
            return self._conn
        self._kill()
        parent, child = self._context.Pipe()
        process = self._context.Process(
            target=_serve, args=(child, self._extractor), name="askwiki-pdf", daemon=True
        )
        process.start()
        child.close()
        self._process, self._conn = process, parent
        logger.debug("Started PDF worker pid %s", process.pid)
        try:
            ready = parent.poll(self._start_timeout_s) and parent.recv()[0] == "ready"
        except (EOFError, OSError):
            ready = False
        if not ready:
            code = self._kill()
            raise DocumentError(f"PDF worker process did not start (exit code {code})")
        return parent

    def _kill(self, grace_s: float = 0.0) -> int | None:
        """Stop the worker (after ``grace_s`` to exit on its own); returns its exit code."""
        process, conn = self._process, self._conn
        self._process = self._conn = None
        if conn is not None:
            conn.close()
        if process is None:
            return None
        if grace_s > 0:
            process.join(grace_s)
        if process.is_alive():
            process.kill()
        process.join(10)
        logger.debug("Stopped PDF worker pid %s (exit code %s)", process.pid, process.exitcode)
        return process.exitcode

    def close(self) -> None:
        """Ask the worker to exit, kill it if it does not; safe to call twice."""
        with self._lock:
            process, conn = self._process, self._conn
            if process is not None and conn is not None and process.is_alive():
                try:
                    conn.send(None)
                    process.join(5)
                except OSError:
                    pass  # already gone; _kill below reaps it
            self._kill()

    def __enter__(self) -> PdfWorker:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


_shared: PdfWorker | None = None
_shared_lock = threading.Lock()


def shared_pdf_worker() -> PdfWorker:
    """The process-wide worker ``load`` uses; stopped by ``shutdown_pdf_worker``."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = PdfWorker()
            atexit.register(shutdown_pdf_worker)
        return _shared


def shutdown_pdf_worker() -> None:
    """Stop the shared worker (if any); the next PDF starts a new one."""
    global _shared
    with _shared_lock:
        worker, _shared = _shared, None
        if worker is not None:
            atexit.unregister(shutdown_pdf_worker)
    if worker is not None:
        worker.close()


def load_pdf(
    source: SourceFile, options: LoaderOptions, worker: PdfWorker | None = None
) -> Document:
    """One PDF as a document with a part per non-empty page (``page`` is 1-based)."""
    path = source.path
    check_size(path, options.max_file_bytes)
    try:
        with path.open("rb") as handle:
            head = handle.read(HEADER_WINDOW)
    except OSError as exc:
        raise DocumentError(f"cannot read file: {exc.strerror or exc}") from exc
    if b"%PDF-" not in head:
        raise DocumentError(NOT_A_PDF)
    extracted = (worker or shared_pdf_worker()).extract(path, options.pdf_timeout_s)
    for warning in extracted.warnings:
        logger.warning("%s: %s", path, warning)
    texts = [_clean_page(text) for text in extracted.pages]
    parts = tuple(
        DocumentPart(escape_heading_lines(text), page=number)
        for number, text in enumerate(texts, start=1)
        if text
    )
    if not parts:
        raise DocumentError(NO_TEXT)
    first_line = next((line.strip() for line in texts[0].split("\n") if line.strip()), "")
    title = extracted.title or first_line[:MAX_TITLE_CHARS].strip() or title_from_filename(path)
    doc_id = source.relative_id
    return Document(
        doc_id=doc_id,
        title=title,
        parts=parts,
        source=str(path),
        format="pdf",
        url=document_url(doc_id, None, options.url_base),
    )


def _clean_page(text: str) -> str:
    text = text.replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n")
    text = re.sub(r"[ \t]+$", "", text, flags=re.MULTILINE)
    return re.sub(r"\n{3,}", "\n\n", text).strip()
