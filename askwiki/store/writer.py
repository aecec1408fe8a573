"""Writing a new index version next to the live one, then switching atomically."""

from __future__ import annotations

import functools
import logging
import shutil
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Concatenate, ParamSpec, TypeVar

import numpy as np

from askwiki.crosslingual import build_profile
from askwiki.documents import Chunk, Document
from askwiki.errors import IndexCorruptError, IndexWriteError
from askwiki.store.dense import all_vectors, build_dense, index_kind, save_dense
from askwiki.store.docstore import DOCSTORE_FILE, Docstore, StoredDocument
from askwiki.store.index import WikiIndex, open_index
from askwiki.store.keyword import KeywordIndex
from askwiki.store.layout import (
    TEMP_SUFFIX,
    VERSIONS_DIR,
    current_version,
    new_version_name,
    now_iso,
    publish,
    remove_stale,
    writer_lock,
)
from askwiki.store.manifest import (
    DTYPES_KEY,
    ChunkingInfo,
    EmbeddingInfo,
    Manifest,
    check_same_model,
    embedded_dtypes,
)
from askwiki.text import KEYWORD_TOKENIZER, keyword_tokens

logger = logging.getLogger(__name__)
_P = ParamSpec("_P")
_R = TypeVar("_R")
# Manifest ``extra`` keys describing the index's state rather than one run (the sync
# cursors): every new version carries them over unless the writer replaces them.
CARRIED_EXTRA = ("sync",)


def _writes(
    method: Callable[Concatenate[IndexWriter, _P], _R],
) -> Callable[Concatenate[IndexWriter, _P], _R]:
    """A full disk (or a permission problem) while staging or publishing becomes an
    ``IndexWriteError``: SQLite reports it as ``OperationalError``, not ``OSError``."""

    @functools.wraps(method)
    def write(writer: IndexWriter, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return method(writer, *args, **kwargs)
        except (OSError, sqlite3.OperationalError) as exc:
            raise IndexWriteError(
                f"Cannot write a new version of {writer.index_path} ({exc}); the previous "
                "version is untouched. Free disk space and run the ingest again"
            ) from exc

    return write


class IndexWriter:
    """Stages changes against the live version; ``commit`` publishes them as a new one.

    Nothing outside the temporary folder is touched before ``commit``, so an interrupted
    writer leaves the live version exactly as it was.
    """

    def __init__(
        self,
        index_path: Path,
        embedding: EmbeddingInfo,
        chunking: ChunkingInfo,
        hnsw_threshold: int,
        keep_versions: int = 2,
        rebuild: bool = False,
    ) -> None:
        self.index_path = index_path
        self.embedding = embedding
        self.chunking = chunking
        self._hnsw_threshold = hnsw_threshold
        self._keep = keep_versions
        self._rebuild = rebuild
        self._lock = writer_lock(index_path)
        self.previous: WikiIndex | None = None
        self._version = ""
        self._temp: Path | None = None
        self._docstore: Docstore | None = None
        self._removed: set[int] = set()
        self._new_ids: list[int] = []
        self._new_vectors: list[np.ndarray] = []
        self._next_row = 1
        self.changed = False

    def __enter__(self) -> IndexWriter:
        self._lock.__enter__()
        try:
            remove_stale(self.index_path, self._keep)
            live = current_version(self.index_path)
            if live is not None and not self._rebuild:
                # Like readers, skip a damaged live version and build on the newest good one:
                # re-running the ingest must repair the index, not fail on the damage again.
                try:
                    self.previous = open_index(self.index_path)
                except IndexCorruptError as exc:
                    raise IndexCorruptError(
                        f"{exc}; no older version loads either: rebuild it with "
                        "'askwiki ingest --rebuild'"
                    ) from exc
                check_same_model(self.previous.manifest, self.embedding, self.index_path)
                self._next_row = self.previous.docstore.max_row_id() + 1
                self._retokenize_if_stale(self.previous.manifest)
        except BaseException:
            self._discard()
            self._lock.__exit__(None, None, None)
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self._discard()
            if self.previous is not None:
                self.previous.close()
        finally:
            self._lock.__exit__(exc_type, exc, tb)

    def _retokenize_if_stale(self, live: Manifest) -> None:
        """Chunks tokenized by an older ``keyword_tokens`` would never match new queries."""
        if live.keyword_tokenizer == KEYWORD_TOKENIZER:
            return
        count = self._stage().retokenize(keyword_tokens)
        logger.info(
            "Re-tokenized %d chunks for BM25 (%s -> %s)",
            count,
            live.keyword_tokenizer or "unrecorded",
            KEYWORD_TOKENIZER,
        )

    @property
    def chunking_changed(self) -> bool:
        return self.previous is not None and self.previous.manifest.chunking != self.chunking

    def existing_documents(self) -> dict[str, StoredDocument]:
        return self.previous.docstore.documents() if self.previous else {}

    def reusable_vectors(self, chunks: Sequence[Chunk]) -> dict[str, np.ndarray]:
        """Vectors already computed for identical chunk content in the live version."""
        if self.previous is None or self.chunking_changed:
            return {}
        rows = self.previous.docstore.hash_to_rows(c.content_hash for c in chunks)
        dense = self.previous.dense
        return {digest: np.asarray(dense.reconstruct(row)) for digest, row in rows.items()}

    def _stage(self) -> Docstore:
        if self._docstore is None:
            self._version = new_version_name(self.index_path)
            self._temp = self.index_path / VERSIONS_DIR / (self._version + TEMP_SUFFIX)
            self._temp.mkdir(parents=True)
            database = self._temp / DOCSTORE_FILE
            if self.previous is not None:
                self.previous.docstore.copy_to(database)
            self._docstore = Docstore(database, read_only=False)
        self.changed = True
        return self._docstore

    @_writes
    def touch(self) -> None:
        """Publish a new version on ``commit`` even though no document changed."""
        self._stage()

    @_writes
    def delete(self, doc_id: str) -> None:
        self._removed.update(self._stage().delete_document(doc_id))

    @_writes
    def upsert(self, document: Document, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Replace a document and its chunks (delete before add: never a duplicate)."""
        docstore = self._stage()
        self._removed.update(docstore.delete_document(document.doc_id))
        row_ids = list(range(self._next_row, self._next_row + len(chunks)))
        self._next_row += len(chunks)
        docstore.insert_document(
            document,
            [(r, c, keyword_tokens(c.search_text)) for r, c in zip(row_ids, chunks, strict=True)],
            now_iso(),
        )
        self._new_ids.extend(row_ids)
        if len(chunks):
            self._new_vectors.append(np.asarray(vectors, dtype=np.float32))

    @_writes
    def commit(self, extra: dict[str, object] | None = None) -> Manifest | None:
        """Publish the staged version; None when nothing changed (the live one stays)."""
        if self._docstore is None or self._temp is None:
            return None
        self._docstore.commit()
        ids, vectors = self._merged_vectors()
        dense = build_dense(vectors, ids, self.embedding.dimension, self._hnsw_threshold)
        save_dense(dense, self._temp)
        keyword = KeywordIndex.build(self._docstore.iter_keywords())
        keyword.save(self._temp)
        profile = build_profile(list(self._docstore.iter_texts()), ids, vectors)
        profile.save(self._temp)
        documents = len(self._docstore.documents())
        chunks = self._docstore.count_chunks()
        self._docstore.close()
        self._docstore = None
        created = self.previous.manifest.created_at if self.previous else now_iso()
        manifest = Manifest(
            name=self.index_path.name,
            version=self._version,
            embedding=self.embedding,
            chunking=self.chunking,
            documents=documents,
            chunks=chunks,
            dense_index=index_kind(dense),
            created_at=created,
            updated_at=now_iso(),
            previous_version=self.previous.version if self.previous else None,
            keyword_tokenizer=KEYWORD_TOKENIZER,
            extra={
                **self._carried_extra(),
                **(extra or {}),
                "crosslingual": profile.summary(),
                **self._dtypes_extra(),
            },
        )
        (self._temp / "manifest.json").write_text(manifest.to_json(), encoding="utf-8")
        publish(self.index_path, self._temp, self._version)
        self._temp = None
        remove_stale(self.index_path, self._keep)
        logger.info("Published %s version %s (%d chunks)", self.index_path, self._version, chunks)
        return manifest

    def _dtypes_extra(self) -> dict[str, object]:
        """Record the dtypes once vectors of another one (interchangeable) were kept."""
        if self.previous is None:
            return {}
        dtypes = sorted(set(embedded_dtypes(self.previous.manifest)) | {self.embedding.dtype})
        return {DTYPES_KEY: dtypes} if dtypes != [self.embedding.dtype] else {}

    def _carried_extra(self) -> dict[str, object]:
        if self.previous is None:
            return {}
        stored = self.previous.manifest.extra
        return {key: stored[key] for key in CARRIED_EXTRA if key in stored}

    def _merged_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        dimension = self.embedding.dimension
        if self.previous is not None:
            old_ids, old_vectors = all_vectors(self.previous.dense)
            keep = ~np.isin(old_ids, np.fromiter(self._removed, dtype=np.int64))
            old_ids, old_vectors = old_ids[keep], old_vectors[keep]
        else:
            old_ids = np.zeros(0, dtype=np.int64)
            old_vectors = np.zeros((0, dimension), dtype=np.float32)
        new_vectors = (
            np.vstack(self._new_vectors)
            if self._new_vectors
            else np.zeros((0, dimension), dtype=np.float32)
        )
        ids = np.concatenate([old_ids, np.asarray(self._new_ids, dtype=np.int64)])
        return ids, np.vstack([old_vectors, new_vectors])

    def _discard(self) -> None:
        if self._docstore is not None:
            self._docstore.close()
            self._docstore = None
        if self._temp is not None:
            shutil.rmtree(self._temp, ignore_errors=True)
            self._temp = None
