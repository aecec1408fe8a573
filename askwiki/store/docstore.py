"""SQLite docstore: documents and chunks of one index version (no pickle, ever)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from askwiki.documents import Chunk, Document

DOCSTORE_FILE = "docstore.sqlite"
RETOKENIZE_PAGE = 5000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    url TEXT,
    source TEXT NOT NULL,
    format TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    chunk_count INTEGER NOT NULL,
    ingested_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    row_id INTEGER PRIMARY KEY,
    chunk_id TEXT NOT NULL UNIQUE,
    doc_id TEXT NOT NULL REFERENCES documents(doc_id),
    position INTEGER NOT NULL,
    title TEXT NOT NULL,
    section TEXT NOT NULL,
    anchor TEXT NOT NULL,
    url TEXT,
    page INTEGER,
    text TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    token_count INTEGER NOT NULL,
    keywords TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_by_doc ON chunks(doc_id, position);
CREATE INDEX IF NOT EXISTS chunks_by_hash ON chunks(content_hash);
"""

_CHUNK_COLUMNS = (
    "row_id, chunk_id, doc_id, position, title, section, anchor, url, page, text, "
    "content_hash, token_count"
)


@dataclass(frozen=True)
class StoredDocument:
    """A document row: what incremental ingestion compares against."""

    doc_id: str
    title: str
    url: str | None
    source: str
    format: str
    content_hash: str
    chunk_count: int
    ingested_at: str


@dataclass(frozen=True)
class StoredChunk:
    """A chunk with its integer row id, the key of the FAISS and BM25 legs."""

    row_id: int
    chunk: Chunk


def _row_to_chunk(row: sqlite3.Row) -> StoredChunk:
    return StoredChunk(
        row_id=row[0],
        chunk=Chunk(
            chunk_id=row[1],
            doc_id=row[2],
            position=row[3],
            title=row[4],
            section=row[5],
            anchor=row[6],
            url=row[7],
            page=row[8],
            text=row[9],
            content_hash=row[10],
            token_count=row[11],
        ),
    )


class Docstore:
    """Access to one version's SQLite file; reads are safe from many threads."""

    def __init__(self, path: Path, read_only: bool) -> None:
        self.path = path
        if read_only:
            uri = f"file:{path}?mode=ro"
            self._conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
        else:
            self._conn = sqlite3.connect(path, check_same_thread=False)
            self._conn.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        self._conn.close()

    # Reading ---------------------------------------------------------------
    def documents(self) -> dict[str, StoredDocument]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT doc_id, title, url, source, format, content_hash, chunk_count, "
                "ingested_at FROM documents ORDER BY doc_id"
            ).fetchall()
        return {row[0]: StoredDocument(*row) for row in rows}

    def document(self, doc_id: str) -> StoredDocument | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT doc_id, title, url, source, format, content_hash, chunk_count, "
                "ingested_at FROM documents WHERE doc_id = ?",
                (doc_id,),
            ).fetchone()
        return StoredDocument(*row) if row else None

    def count_chunks(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])

    def chunks_by_rows(self, row_ids: Sequence[int]) -> dict[int, StoredChunk]:
        if not row_ids:
            return {}
        marks = ",".join("?" * len(row_ids))
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_CHUNK_COLUMNS} FROM chunks WHERE row_id IN ({marks})",
                [int(r) for r in row_ids],
            ).fetchall()
        return {row[0]: _row_to_chunk(row) for row in rows}

    def chunks_of(self, doc_id: str) -> list[StoredChunk]:
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_CHUNK_COLUMNS} FROM chunks WHERE doc_id = ? ORDER BY position",
                (doc_id,),
            ).fetchall()
        return [_row_to_chunk(row) for row in rows]

    def chunk_by_id(self, chunk_id: str) -> StoredChunk | None:
        with self._lock:
            row = self._conn.execute(
                f"SELECT {_CHUNK_COLUMNS} FROM chunks WHERE chunk_id = ?", (chunk_id,)
            ).fetchone()
        return _row_to_chunk(row) if row else None

    def iter_keywords(self) -> Iterator[tuple[int, list[str]]]:
        """Row ids with their BM25 tokens, in row order."""
        with self._lock:
            rows = self._conn.execute("SELECT row_id, keywords FROM chunks ORDER BY row_id")
            for row_id, keywords in rows:
                yield int(row_id), keywords.split(" ") if keywords else []

    def iter_texts(self) -> Iterator[tuple[int, str]]:
        """Row ids with their search text (heading path + text), in row order."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT row_id, section, text FROM chunks ORDER BY row_id"
            ).fetchall()
        for row_id, section, text in rows:
            yield int(row_id), f"{section}\n{text}"

    def hash_to_rows(self, hashes: Iterable[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        with self._lock:
            for digest in set(hashes):
                row = self._conn.execute(
                    "SELECT row_id FROM chunks WHERE content_hash = ? LIMIT 1", (digest,)
                ).fetchone()
                if row:
                    found[digest] = int(row[0])
        return found

    def max_row_id(self) -> int:
        with self._lock:
            value = self._conn.execute("SELECT MAX(row_id) FROM chunks").fetchone()[0]
        return int(value or 0)

    # Writing (only used by the index writer on a fresh version) -------------
    def delete_document(self, doc_id: str) -> list[int]:
        with self._lock:
            rows = [
                int(r[0])
                for r in self._conn.execute(
                    "SELECT row_id FROM chunks WHERE doc_id = ?", (doc_id,)
                ).fetchall()
            ]
            self._conn.execute("DELETE FROM chunks WHERE doc_id = ?", (doc_id,))
            self._conn.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,))
        return rows

    def insert_document(
        self,
        document: Document,
        rows: Sequence[tuple[int, Chunk, list[str]]],
        ingested_at: str,
    ) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT INTO documents VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    document.doc_id,
                    document.title,
                    document.url,
                    document.source,
                    document.format,
                    document.hash,
                    len(rows),
                    ingested_at,
                ),
            )
            self._conn.executemany(
                "INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        row_id,
                        c.chunk_id,
                        c.doc_id,
                        c.position,
                        c.title,
                        c.section,
                        c.anchor,
                        c.url,
                        c.page,
                        c.text,
                        c.content_hash,
                        c.token_count,
                        " ".join(keywords),
                    )
                    for row_id, c, keywords in rows
                ],
            )

    def retokenize(self, tokenize: Callable[[str], list[str]]) -> int:
        """Recompute every chunk's BM25 tokens from its text; the number of chunks.

        Chunks are read in row-id pages of ``RETOKENIZE_PAGE``, so memory stays flat at
        any index size.
        """
        count, last = 0, -1
        with self._lock:
            while True:
                page = [
                    _row_to_chunk(row)
                    for row in self._conn.execute(
                        f"SELECT {_CHUNK_COLUMNS} FROM chunks WHERE row_id > ? "
                        "ORDER BY row_id LIMIT ?",
                        (last, RETOKENIZE_PAGE),
                    ).fetchall()
                ]
                if not page:
                    return count
                self._conn.executemany(
                    "UPDATE chunks SET keywords = ? WHERE row_id = ?",
                    [(" ".join(tokenize(s.chunk.search_text)), s.row_id) for s in page],
                )
                count, last = count + len(page), page[-1].row_id

    def commit(self) -> None:
        with self._lock:
            self._conn.commit()

    def copy_to(self, target: Path) -> None:
        """Consistent copy of this database into a new file (SQLite online backup)."""
        destination = sqlite3.connect(target)
        try:
            with self._lock:
                self._conn.backup(destination)
        finally:
            destination.close()
