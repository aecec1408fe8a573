"""``askwiki sync``: pull what changed in each wiki source and publish one new index version.

The same pipeline as ``askwiki ingest`` (loaders, splitter, vector reuse, atomic publish)
under the same writer lock. Each source's cursor is stored in the manifest of the version
that holds its changes, so a sync killed half-way leaves both the live version and the
cursor as they were, and the next sync redoes the same changes. Pages that fail to fetch
keep their last good version and are retried by the next sync.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from askwiki.documents import Document, SkippedFile
from askwiki.embedding.embedder import Embedder
from askwiki.errors import SourceConfigError
from askwiki.ingest.loaders import LoaderOptions
from askwiki.ingest.pipeline import (
    IngestReport,
    ProgressCallback,
    embed_and_store,
    open_writer,
    publish_version,
)
from askwiki.ingest.sources import SourceConfig, load_sources, one_off_source, open_source
from askwiki.settings import Settings
from askwiki.store.writer import IndexWriter

logger = logging.getLogger(__name__)


@dataclass
class SourceReport:
    """What one source reported and what became of it."""

    name: str
    kind: str
    full: bool = False
    fetched: int = 0
    failed: int = 0
    cursor: str | None = None


@dataclass
class SyncReport(IngestReport):
    """An ingest report plus one line per source; ``skipped`` lists the failed pages."""

    sources: list[SourceReport] = field(default_factory=list)


def run_sync(
    configs: Sequence[SourceConfig],
    settings: Settings,
    embedder: Embedder,
    *,
    full: bool = False,
    progress: ProgressCallback | None = None,
) -> SyncReport:
    """Bring the index in ``settings`` up to date with ``configs``; one version for all."""
    started = time.perf_counter()
    report = SyncReport(index=settings.index)
    notify = progress or (lambda stage, done, total: None)
    options = LoaderOptions(
        max_file_bytes=int(settings.max_file_mb * 1024 * 1024),
        pdf_timeout_s=settings.pdf_timeout_s,
    )
    with open_writer(settings, embedder) as writer:
        previous = dict(_stored_states(writer))
        # New chunk sizes re-split every page, so every page must be fetched again.
        full = full or writer.chunking_changed
        states = dict(previous)
        documents: list[Document] = []
        for config in configs:
            state = dict(states.get(config.name, {}))
            if full or state.get("kind") != config.kind or state.get("address") != config.address:
                state = {}
            documents += _sync_source(config, state, writer, settings, options, report, notify)
            states[config.name] = state
        embed_and_store(writer, documents, settings, embedder, report, progress)
        if states != previous and not writer.changed:
            writer.touch()  # only cursors moved: publish them, or the next sync redoes the work
        publish_version(writer, report, {"sync": states}, settings)
    report.seconds = time.perf_counter() - started
    return report


def _stored_states(writer: IndexWriter) -> dict[str, dict[str, Any]]:
    if writer.previous is None:
        return {}
    stored = writer.previous.manifest.extra.get("sync", {})
    return {str(k): dict(v) for k, v in stored.items()} if isinstance(stored, dict) else {}


def _sync_source(
    config: SourceConfig,
    state: dict[str, Any],
    writer: IndexWriter,
    settings: Settings,
    options: LoaderOptions,
    report: SyncReport,
    notify: ProgressCallback,
) -> list[Document]:
    """Fetch one source's changes, stage its deletions, update ``state`` in place."""
    source = open_source(config, settings.data_dir, options)
    try:
        changes = source.changes(state.get("cursor"))
        deleted = set(changes.deleted)
        # Pages that failed last time are fetched again until they succeed or disappear.
        retry = [k for k in state.get("retry", []) if k not in deleted]
        if changes.present is not None:  # a complete listing: retry only pages still there
            listed = set(changes.present)
            retry = [k for k in retry if k in listed]
        keys = list(dict.fromkeys([*changes.fetch, *retry]))
        fetched: dict[str, Document] = {}
        failed: dict[str, str] = {}
        for done, (key, page) in enumerate(source.fetch(keys), start=1):
            if isinstance(page, Document):
                fetched[key] = page
            else:
                failed[key] = page
                logger.warning(
                    "%s: cannot fetch %s (%s); its last version stays", config.name, key, page
                )
                report.skipped.append(SkippedFile(config.doc_id(key), page))
            notify(f"fetch {config.name}", done, len(keys))
    finally:
        source.close()
    prefix = config.doc_id("")
    existing = {d for d in writer.existing_documents() if d.startswith(prefix)}
    gone = {config.doc_id(k) for k in deleted - fetched.keys()}
    if changes.present is not None:
        kept = {config.doc_id(k) for k in changes.present}
        gone |= existing - kept
    for doc_id in sorted(gone & existing):
        writer.delete(doc_id)
        report.deleted.append(doc_id)
    state.update(
        kind=config.kind, address=config.address, cursor=changes.cursor, retry=sorted(failed)
    )
    report.sources.append(
        SourceReport(
            config.name, config.kind, changes.full, len(fetched), len(failed), changes.cursor
        )
    )
    return list(fetched.values())


def select_sources(
    settings: Settings, specs: Sequence[str] = (), names: Sequence[str] = ()
) -> list[SourceConfig]:
    """One-off ``kind:address`` specs, else the configured sources of the settings' index."""
    if specs:
        return [one_off_source(spec, settings.index, settings.url_base) for spec in specs]
    configs = [c for c in load_sources(settings.sync_config) if c.index == settings.index]
    if names:
        unknown = sorted(set(names) - {c.name for c in configs})
        if unknown:
            raise SourceConfigError(
                f"No source {', '.join(unknown)} for index {settings.index!r} in "
                f"{settings.sync_config}; known: {', '.join(c.name for c in configs) or 'none'}"
            )
        configs = [c for c in configs if c.name in names]
    if not configs:
        raise SourceConfigError(
            f"{settings.sync_config} names no source for index {settings.index!r}; add "
            f'index = "{settings.index}" to a [sources.<name>] table'
        )
    return configs
