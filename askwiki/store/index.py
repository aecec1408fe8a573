"""Opening a published index version for reading."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

import faiss

from askwiki.crosslingual import LanguageProfile
from askwiki.errors import AskwikiError, IndexCorruptError, IndexNotFoundError
from askwiki.store.dense import load_dense
from askwiki.store.docstore import DOCSTORE_FILE, Docstore
from askwiki.store.keyword import KeywordIndex
from askwiki.store.layout import current_version, published_versions, version_path
from askwiki.store.manifest import Manifest
from askwiki.text import KEYWORD_TOKENIZER

logger = logging.getLogger(__name__)


@dataclass
class WikiIndex:
    """One immutable index version held in memory: manifest, docstore, both search legs."""

    path: Path
    manifest: Manifest
    docstore: Docstore
    dense: faiss.Index
    keyword: KeywordIndex
    # Versions built before cross-language calibration get an empty profile (feature off).
    languages: LanguageProfile = field(default_factory=LanguageProfile)

    @property
    def version(self) -> str:
        return self.manifest.version

    def close(self) -> None:
        self.docstore.close()


# numpy reads .npy headers with ast.literal_eval, and CPython 3.11 keeps the AST converter's
# recursion depth in state shared by all threads (gh-106905, fixed in 3.12): when another
# thread builds an AST at the same moment (two version opens, or a traceback being formatted,
# which parses source for its carets) the read fails now and then with "SystemError: AST
# constructor recursion depth mismatch" although the files are fine. Opens are serialised,
# and a read that hit the race is retried instead of being reported as a damaged index.
_OPEN_LOCK = threading.Lock()
_AST_RACE = "AST constructor recursion depth mismatch"
_READ_ATTEMPTS = 3


def open_version(index_path: Path, version: str) -> WikiIndex:
    """Load one version and check that its parts agree with each other."""
    with _OPEN_LOCK:
        return _open_version(index_path, version)


def _read_search_legs(folder: Path) -> tuple[faiss.Index, KeywordIndex]:
    attempt = 1
    while True:
        try:
            return load_dense(folder), KeywordIndex.load(folder)
        except SystemError as exc:
            if _AST_RACE not in str(exc) or attempt == _READ_ATTEMPTS:
                raise
            logger.warning("Reading %s raced another thread's AST use (%s); retrying", folder, exc)
            attempt += 1


def _open_version(index_path: Path, version: str) -> WikiIndex:
    folder = version_path(index_path, version)
    manifest = Manifest.read(folder)
    if not (folder / DOCSTORE_FILE).is_file():
        raise IndexCorruptError(f"{folder / DOCSTORE_FILE} is missing; re-run 'askwiki ingest'")
    docstore = None
    try:
        docstore = Docstore(folder / DOCSTORE_FILE, read_only=True)
        chunks = docstore.count_chunks()
        dense, keyword = _read_search_legs(folder)
    except Exception as exc:
        if docstore is not None:
            docstore.close()
        if isinstance(exc, AskwikiError):
            raise
        raise IndexCorruptError(
            f"Index version {folder} cannot be read ({exc}); re-run 'askwiki ingest'"
        ) from exc
    if not (chunks == dense.ntotal == len(keyword) == manifest.chunks):
        docstore.close()
        raise IndexCorruptError(
            f"Index version {folder} is inconsistent (docstore {chunks}, dense {dense.ntotal}, "
            f"keyword {len(keyword)}, manifest {manifest.chunks} chunks); re-run 'askwiki ingest'"
        )
    if manifest.keyword_tokenizer != KEYWORD_TOKENIZER:
        logger.warning(
            "Index version %s was tokenized for BM25 by %r, this askwiki uses %r: keyword "
            "search misses until 'askwiki ingest' runs on it again (no re-embedding needed)",
            folder,
            manifest.keyword_tokenizer or "an older tokenizer",
            KEYWORD_TOKENIZER,
        )
    try:
        languages = LanguageProfile.load(folder)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        docstore.close()
        raise IndexCorruptError(
            f"Index version {folder} has an unreadable cross-language profile ({exc}); "
            "re-run 'askwiki ingest'"
        ) from exc
    return WikiIndex(folder, manifest, docstore, dense, keyword, languages)


def open_index(index_path: Path) -> WikiIndex:
    """The live version of an index; if it is damaged, the newest older one that loads."""
    live = current_version(index_path)
    if live is None:
        raise IndexNotFoundError(
            f"No index at {index_path}; run 'askwiki ingest <path> --index {index_path.name}' first"
        )
    try:
        return open_version(index_path, live)
    except IndexCorruptError as damage:
        for older in reversed([v for v in published_versions(index_path) if v < live]):
            try:
                index = open_version(index_path, older)
            except IndexCorruptError:
                continue
            logger.error("%s; serving the previous good version %s instead", damage, older)
            return index
        raise
