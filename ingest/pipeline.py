"""The ingestion job: load -> compare with the live index -> split -> embed -> publish."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from askwiki.documents import Chunk, Document, SkippedFile
from askwiki.embedding.embedder import Embedder
from askwiki.errors import IndexWriteError
from askwiki.ingest.background import in_background
from askwiki.ingest.loaders import LoaderOptions, SourceFile, discover, load
from askwiki.ingest.rollout import announce_published
from askwiki.ingest.splitter import Splitter
from askwiki.settings import Settings
from askwiki.store.docstore import StoredDocument
from askwiki.store.manifest import ChunkingInfo
from askwiki.store.writer import IndexWriter

logger = logging.getLogger(__name__)

# (stage, done, total): the CLI turns this into a progress bar.
ProgressCallback = Callable[[str, int, int], None]
EMBED_GROUP = 512


@dataclass
class IngestReport:
    """What one ingest run did; the CLI prints it, ``--json`` dumps it."""

    index: str
    version: str | None = None
    new: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: int = 0
    deleted: list[str] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    unsupported: list[SkippedFile] = field(default_factory=list)
    documents: int = 0
    chunks: int = 0
    chunks_embedded: int = 0
    chunks_reused: int = 0
    seconds: float = 0.0

    @property
    def chunks_per_second(self) -> float:
        return self.chunks_embedded / self.seconds if self.seconds > 0 else 0.0


def run_ingest(
    paths: Sequence[Path],
    settings: Settings,
    embedder: Embedder,
    *,
    prune: bool | None = None,
    rebuild: bool = False,
    progress: ProgressCallback | None = None,
) -> IngestReport:
    """Bring the index named in ``settings`` up to date with ``paths``.

    ``prune`` (default: on when a folder is given) deletes indexed documents that came
    from the given folders or files but are gone now. Bad files are skipped and reported.
    Files are loaded, compared and split in a background thread while the changed ones
    are embedded; an unchanged wiki is compared without loading the model's weights.
    """
    started = time.perf_counter()
    report = IngestReport(index=settings.index)
    notify = progress or (lambda stage, done, total: None)
    # Absolute paths: pruning compares stored sources with later runs from any folder.
    sources = list(discover([p.absolute() for p in paths]))
    splitter = make_splitter(settings, embedder)
    with open_writer(settings, embedder, rebuild=rebuild) as writer:
        existing = writer.existing_documents()
        chunking_changed = writer.chunking_changed
        loaded: dict[str, Document] = {}

        def changed_documents() -> Iterator[tuple[Document, list[Chunk]]]:
            for document in _load_documents(sources, settings, loaded, report, notify):
                if _is_changed(document, existing, chunking_changed, report):
                    yield document, splitter.split(document)

        _embed_and_store(in_background(changed_documents), embedder, writer, report, notify)
        do_prune = prune if prune is not None else any(s.from_folder for s in sources)
        if do_prune:
            for doc_id in _gone(existing, list(loaded.values()), sources, report):
                writer.delete(doc_id)
                report.deleted.append(doc_id)
        publish_version(writer, report, {"sources": [str(p) for p in paths]}, settings)
    report.seconds = time.perf_counter() - started
    return report


def make_splitter(settings: Settings, embedder: Embedder) -> Splitter:
    """The splitter every ingest and sync uses, sized by the settings."""
    return Splitter(
        embedder.count_tokens,
        embedder.split_by_tokens,
        settings.chunk_tokens,
        settings.chunk_overlap_tokens,
    )


def open_writer(settings: Settings, embedder: Embedder, *, rebuild: bool = False) -> IndexWriter:
    """The index's one writer (its lock refuses a second concurrent ingest or sync)."""
    return IndexWriter(
        settings.index_path,
        embedder.info,
        ChunkingInfo(settings.chunk_tokens, settings.chunk_overlap_tokens),
        settings.faiss_hnsw_threshold,
        settings.keep_versions,
        rebuild=rebuild,
    )


def select_changed(
    writer: IndexWriter, documents: Sequence[Document], report: IngestReport
) -> list[Document]:
    """Documents that are new or whose content hash changed; counts the rest as unchanged."""
    existing = writer.existing_documents()
    chunking_changed = writer.chunking_changed
    return [d for d in documents if _is_changed(d, existing, chunking_changed, report)]


def _is_changed(
    document: Document,
    existing: Mapping[str, StoredDocument],
    chunking_changed: bool,
    report: IngestReport,
) -> bool:
    """Whether ``document`` needs splitting and embedding; counts it in the report."""
    stored = existing.get(document.doc_id)
    if stored and stored.content_hash == document.hash and not chunking_changed:
        report.unchanged += 1
        return False
    (report.changed if stored else report.new).append(document.doc_id)
    return True


def embed_and_store(
    writer: IndexWriter,
    documents: Sequence[Document],
    settings: Settings,
    embedder: Embedder,
    report: IngestReport,
    progress: ProgressCallback | None = None,
) -> None:
    """Split and embed the changed documents (reusing live vectors) and stage them."""
    notify = progress or (lambda stage, done, total: None)
    todo = select_changed(writer, documents, report)
    splitter = make_splitter(settings, embedder)
    split = in_background(lambda: ((document, splitter.split(document)) for document in todo))
    _embed_and_store(split, embedder, writer, report, notify)


def publish_version(
    writer: IndexWriter,
    report: IngestReport,
    extra: dict[str, object],
    settings: Settings | None = None,
) -> None:
    """Commit the staged version (if anything changed) and fill the report's totals.

    With ``settings``, a new version is also announced to the replicas (``rollout``).
    """
    try:
        manifest = writer.commit(extra=extra)
    except OSError as exc:
        raise IndexWriteError(
            f"Cannot write a new version of {writer.index_path} ({exc}); the previous "
            "version is untouched. Free disk space and run the ingest again"
        ) from exc
    if manifest is not None and settings is not None:
        announce_published(settings, manifest.version)
    final = manifest or (writer.previous.manifest if writer.previous else None)
    report.version = final.version if final else None
    report.documents = final.documents if final else 0
    report.chunks = final.chunks if final else 0


def _load_documents(
    sources: list[SourceFile],
    settings: Settings,
    loaded: dict[str, Document],
    report: IngestReport,
    notify: ProgressCallback,
) -> Iterator[Document]:
    """Each document of ``sources`` once (also kept in ``loaded``); bad files are reported."""
    options = LoaderOptions(
        max_file_bytes=int(settings.max_file_mb * 1024 * 1024),
        pdf_timeout_s=settings.pdf_timeout_s,
        url_base=settings.url_base,
    )
    for done, source in enumerate(sources, start=1):
        for item in load(source, options):
            if isinstance(item, SkippedFile):
                bucket = (
                    report.unsupported if item.reason.startswith("unsupported") else report.skipped
                )
                bucket.append(item)
                logger.info("Skipped %s: %s", item.source, item.reason)
            elif item.doc_id in loaded:
                report.skipped.append(
                    SkippedFile(
                        item.source,
                        f"duplicate document id {item.doc_id!r} (already loaded from "
                        f"{loaded[item.doc_id].source})",
                    )
                )
            else:
                loaded[item.doc_id] = item
                yield item
        notify("load", done, len(sources))


def _gone(
    existing: Mapping[str, object],
    documents: list[Document],
    sources: list[SourceFile],
    report: IngestReport,
) -> list[str]:
    """Indexed documents whose source was scanned this run but did not produce them.

    Documents of files that were skipped as unreadable are kept: a broken edit never
    deletes the last good version of a page.
    """
    seen = {d.doc_id for d in documents}
    scanned_roots = [s.root.resolve() for s in sources if s.from_folder]
    scanned_files = {str(s.path.resolve()) for s in sources}
    broken = {item.source.split(":")[0] for item in report.skipped}
    gone: list[str] = []
    for doc_id, stored in existing.items():
        source = Path(getattr(stored, "source", ""))
        if doc_id in seen or str(source) in broken:
            continue
        resolved = source.resolve()
        if str(resolved) in scanned_files or any(resolved.is_relative_to(r) for r in scanned_roots):
            gone.append(doc_id)
    return sorted(gone)


def _embed_and_store(
    split: Iterable[tuple[Document, list[Chunk]]],
    embedder: Embedder,
    writer: IndexWriter,
    report: IngestReport,
    notify: ProgressCallback,
) -> None:
    """Embed the chunks no live version has a vector for, ``EMBED_GROUP`` at a time, and
    stage each document once all its vectors are there."""
    vectors: dict[str, np.ndarray] = {}
    reused: set[str] = set()
    missing: dict[str, Chunk] = {}
    waiting: list[tuple[Document, list[Chunk]]] = []

    def flush() -> None:
        if missing:
            group = list(missing.values())
            encoded = embedder.embed_passages([c.search_text for c in group])
            vectors.update(zip(missing, encoded, strict=True))
            report.chunks_embedded += len(group)
            missing.clear()
            notify("embed", report.chunks_embedded, report.chunks_embedded)
        for document, chunks in waiting:
            matrix = _stack([vectors[c.content_hash] for c in chunks], embedder.dimension)
            writer.upsert(document, chunks, matrix)
        waiting.clear()

    for document, chunks in split:
        unknown = [c for c in chunks if c.content_hash not in vectors]
        found = writer.reusable_vectors(unknown)
        vectors.update(found)
        reused.update(found)
        report.chunks_reused += sum(1 for c in chunks if c.content_hash in reused)
        missing.update((c.content_hash, c) for c in chunks if c.content_hash not in vectors)
        waiting.append((document, chunks))
        # A large group lets sentence-transformers sort by length across more texts, so
        # each batch of EMBED_GROUP pads less.
        if len(missing) >= EMBED_GROUP:
            flush()
    flush()


def _stack(rows: list[np.ndarray], dimension: int) -> np.ndarray:
    if not rows:
        return np.zeros((0, dimension), dtype=np.float32)
    return np.vstack(rows).astype(np.float32)


def chunk_texts(chunks: Sequence[Chunk]) -> list[str]:
    """The exact strings the pipeline embeds (benchmarks encode the same ones)."""
    return [c.search_text for c in chunks]
