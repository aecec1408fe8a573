"""The admin API's files on disk: safe names, the spool for incoming uploads, the uploads folder.

```
<data_dir>/uploads/<index>/            ingest source of admin jobs (reindex reads it all)
<data_dir>/uploads/<index>/_pages/     JSON pages posted to the API, one .jsonl each
<data_dir>/spool/<index>/<job id>/     files of one upload while it streams in and waits
```

Nothing here reads a whole file into memory: ``SpoolFile`` writes chunks as they arrive
and stops at its byte limit, and content checks look at the first kilobyte only.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from askwiki.errors import InputTooLargeError, StorageError, UploadRejectedError
from askwiki.ingest.loaders import SUPPORTED_SUFFIXES
from askwiki.ingest.loaders.files import format_size
from askwiki.settings import Settings

logger = logging.getLogger(__name__)

PAGES_DIR = "_pages"
MAX_NAME_CHARS = 120
SNIFF_BYTES = 1024
# Characters that are legal on Linux but mean something to shells, Windows or URLs.
_UNSAFE_CHARS = frozenset('<>:"|?*\\/')
# Leading bytes of binary formats people rename by mistake (or on purpose).
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "PDF"),
    (b"PK\x03\x04", "ZIP archive (docx, xlsx, epub, jar…)"),
    (b"\x1f\x8b", "gzip archive"),
    (b"\xfd7zXZ\x00", "xz archive"),
    (b"7z\xbc\xaf\x27\x1c", "7-Zip archive"),
    (b"Rar!\x1a\x07", "RAR archive"),
    (b"\x89PNG\r\n\x1a\n", "PNG image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"GIF87a", "GIF image"),
    (b"GIF89a", "GIF image"),
    (b"\x7fELF", "ELF executable"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "legacy Office document"),
)


def safe_filename(raw: str) -> str:
    """A plain file name for ``raw`` that stays inside the folder it is joined to.

    Directory parts (``../../x.md``, ``C:\\Users\\x.md``, ``/etc/x.md``) are dropped,
    control, format (bidi overrides, zero-width) and unassigned characters removed, and
    the name must keep a supported suffix. Raises ``UploadRejectedError`` when nothing
    usable is left.
    """
    text = unicodedata.normalize("NFC", raw)
    text = text.replace("\\", "/").rsplit("/", 1)[-1]
    if len(text) >= 2 and text[1] == ":" and text[0].isascii() and text[0].isalpha():
        text = text[2:]  # "C:name.md", a drive-relative Windows path
    kept = []
    for char in text:
        category = unicodedata.category(char)
        if category[0] in "C" or category in ("Zl", "Zp") or char == "\ufffd":
            continue
        kept.append("_" if char in _UNSAFE_CHARS else " " if category == "Zs" else char)
    name = " ".join("".join(kept).split())
    stem, dot, suffix = name.rpartition(".")
    suffix = "." + suffix.lower() if dot else ""
    if suffix not in SUPPORTED_SUFFIXES:
        kind = suffix or "(no extension)"
        raise UploadRejectedError(
            f"unsupported file type {kind}; upload one of {', '.join(sorted(SUPPORTED_SUFFIXES))}"
        )
    stem = stem.strip(". ")[: MAX_NAME_CHARS - len(suffix)].rstrip(". ")
    if not stem:
        raise UploadRejectedError(f"file name {raw!r} has no usable characters; rename it")
    return stem + suffix


def content_mismatch(name: str, head: bytes) -> str | None:
    """Why the first bytes of a file contradict its suffix (a lying extension), or None."""
    suffix = Path(name).suffix.lower()
    for signature, kind in _SIGNATURES:
        if head.startswith(signature):
            if kind == "PDF" and suffix == ".pdf":
                return None
            return f"content is a {kind} but the name ends in {suffix} (lying extension?)"
    if suffix != ".pdf" and b"\x00" in head:
        return f"binary content (NUL bytes) in a {suffix} file (lying extension?)"
    return None


def page_file_name(doc_id: str) -> str:
    """Where a posted JSON page lives: named by its id's hash, so re-posting replaces it."""
    return hashlib.sha256(doc_id.encode("utf-8")).hexdigest()[:24] + ".jsonl"


@dataclass(frozen=True)
class UploadFolders:
    """The uploads folder and the spool of one index."""

    uploads: Path
    spool: Path

    @classmethod
    def of(cls, settings: Settings) -> UploadFolders:
        # Absolute: stored document sources are absolute, and they are compared with these.
        root = settings.data_dir.absolute()
        return cls(root / "uploads" / settings.index, root / "spool" / settings.index)

    @property
    def pages(self) -> Path:
        return self.uploads / PAGES_DIR

    def job_spool(self, job_id: str) -> Path:
        """A fresh spool folder for one upload (the job id is hex, never a user string)."""
        folder = self.spool / job_id
        try:
            folder.mkdir(parents=True, exist_ok=False)
        except OSError as exc:
            raise StorageError(f"Cannot create the upload spool {folder}: {exc}") from exc
        return folder

    def discard_spool(self, job_id: str) -> None:
        shutil.rmtree(self.spool / job_id, ignore_errors=True)

    def clear_stale_spool(self) -> None:
        """Remove spool folders of uploads a crash or restart left behind."""
        if self.spool.is_dir():
            for folder in self.spool.iterdir():
                logger.info("Removing upload spool %s left by an earlier run", folder)
                shutil.rmtree(folder, ignore_errors=True)

    def is_uploaded(self, path: Path) -> bool:
        """Whether ``path`` (a stored document source) lies inside the uploads folder."""
        try:
            return path.resolve().is_relative_to(self.uploads.resolve())
        except OSError:
            return False


class SpoolFile:
    """One incoming file, written chunk by chunk and refused at ``max_bytes``.

    Use as a context manager: a file that was not ``finish``-ed is deleted on exit.
    """

    def __init__(self, folder: Path, name: str, max_bytes: int, setting: str) -> None:
        self.path = folder / name
        if self.path.resolve().parent != folder.resolve():  # belt and braces after safe_filename
            raise UploadRejectedError(f"file name {name!r} leaves the upload folder")
        self.max_bytes = max_bytes
        self.setting = setting
        self.size = 0
        self.done = False
        try:
            # "x": never follow or replace something already there.
            self._handle = self.path.open("xb")
        except OSError as exc:
            raise StorageError(f"Cannot write the upload {name}: {exc}") from exc

    def write(self, data: bytes) -> None:
        if self.size + len(data) > self.max_bytes:
            raise InputTooLargeError(
                f"{self.path.name}: larger than {format_size(self.max_bytes)} ({self.setting})"
            )
        try:
            self._handle.write(data)
        except OSError as exc:
            raise StorageError(f"Cannot write the upload {self.path.name}: {exc}") from exc
        self.size += len(data)

    def finish(self) -> None:
        """Flush to disk and keep the file; then check its content against its name."""
        try:
            self._handle.flush()
            os.fsync(self._handle.fileno())
        except OSError as exc:
            raise StorageError(f"Cannot write the upload {self.path.name}: {exc}") from exc
        finally:
            self._handle.close()
        if self.size == 0:
            self.path.unlink(missing_ok=True)
            raise UploadRejectedError("empty file (0 bytes)")
        with self.path.open("rb") as handle:
            reason = content_mismatch(self.path.name, handle.read(SNIFF_BYTES))
        if reason:
            self.path.unlink(missing_ok=True)
            raise UploadRejectedError(reason)
        self.done = True

    def __enter__(self) -> SpoolFile:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if not self._handle.closed:
            self._handle.close()
        if not self.done:
            self.path.unlink(missing_ok=True)


def write_page_file(folder: Path, page: dict[str, str]) -> Path:
    """A posted page as a one-line JSON Lines file in ``folder`` (read by the JSONL loader)."""
    doc_id = page.get("id") or page.get("title") or ""
    path = folder / page_file_name(doc_id)
    line = json.dumps({k: v for k, v in page.items() if v is not None}, ensure_ascii=False)
    try:
        path.write_text(line + "\n", encoding="utf-8")
    except OSError as exc:
        raise StorageError(f"Cannot write the page {doc_id!r}: {exc}") from exc
    return path
