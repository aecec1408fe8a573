"""Folder layout of an index: immutable versions, an atomic CURRENT pointer, a writer lock.

```
indexes/<name>/CURRENT               name of the live version
indexes/<name>/.writer.lock          flock held by the one process writing
indexes/<name>/versions/<version>/   manifest.json, docstore.sqlite, dense.faiss, bm25/
```
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from askwiki.errors import IndexLockedError

logger = logging.getLogger(__name__)

CURRENT_FILE = "CURRENT"
VERSIONS_DIR = "versions"
LOCK_FILE = ".writer.lock"
TEMP_SUFFIX = ".tmp"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def current_version(index_path: Path) -> str | None:
    """Name of the live version, or None when nothing was ever published."""
    try:
        name = (index_path / CURRENT_FILE).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return name or None


def version_path(index_path: Path, version: str) -> Path:
    return index_path / VERSIONS_DIR / version


def published_versions(index_path: Path) -> list[str]:
    """Complete versions, oldest first (names sort by creation time)."""
    folder = index_path / VERSIONS_DIR
    if not folder.is_dir():
        return []
    return sorted(
        p.name for p in folder.iterdir() if p.is_dir() and not p.name.endswith(TEMP_SUFFIX)
    )


def new_version_name(index_path: Path) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    existing = published_versions(index_path)
    serial = len(existing) + 1
    name = f"{stamp}-{serial:04d}"
    while name in existing:
        serial += 1
        name = f"{stamp}-{serial:04d}"
    return name


def fsync_tree(folder: Path) -> None:
    """Flush every file of a finished version and the folder entries to disk."""
    for path in folder.rglob("*"):
        if path.is_file():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
    fsync_dir(folder)


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(index_path: Path, temp_folder: Path, version: str) -> None:
    """Make a fully written version live; readers see the old or the new, never a mix."""
    final = version_path(index_path, version)
    fsync_tree(temp_folder)
    os.replace(temp_folder, final)
    fsync_dir(final.parent)
    pointer = index_path / (CURRENT_FILE + TEMP_SUFFIX)
    with pointer.open("w", encoding="utf-8") as handle:
        handle.write(version + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(pointer, index_path / CURRENT_FILE)
    fsync_dir(index_path)


def remove_stale(index_path: Path, keep: int) -> None:
    """Delete leftovers of interrupted writers and versions beyond the newest ``keep``."""
    versions = index_path / VERSIONS_DIR
    if not versions.is_dir():
        return
    for leftover in versions.glob(f"*{TEMP_SUFFIX}"):
        logger.info("Removing unfinished version %s left by an interrupted ingest", leftover)
        shutil.rmtree(leftover, ignore_errors=True)
    live = current_version(index_path)
    old = [v for v in published_versions(index_path) if v != live]
    for version in old[: max(0, len(old) - (keep - 1))]:
        shutil.rmtree(version_path(index_path, version), ignore_errors=True)


@contextlib.contextmanager
def writer_lock(index_path: Path) -> Iterator[None]:
    """Exclusive right to write an index; released by the kernel even on kill -9."""
    index_path.mkdir(parents=True, exist_ok=True)
    handle = (index_path / LOCK_FILE).open("a+", encoding="utf-8")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise IndexLockedError(
                f"Index {index_path} is being written by {holder}; wait for that ingest to "
                "finish, or use another --index name"
            ) from exc
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} since {now_iso()}")
        handle.flush()
        yield
    finally:
        handle.close()
