"""Deleting documents from an index: a new version without them."""

from __future__ import annotations

from collections.abc import Sequence

from askwiki.embedding.embedder import Embedder
from askwiki.errors import IndexWriteError
from askwiki.ingest.pipeline import open_writer
from askwiki.ingest.rollout import announce_published
from askwiki.settings import Settings
from askwiki.store.manifest import Manifest


def delete_documents(
    settings: Settings, embedder: Embedder, doc_ids: Sequence[str]
) -> tuple[list[str], Manifest | None, str | None]:
    """Delete documents from the index (a new version without them).

    Returns the ids that were there, the new manifest (None if nothing changed) and the
    stored source of the first one. Uses the live version's chunking, so the new
    manifest describes its chunks truthfully whatever the settings say now.
    """
    with open_writer(settings, embedder) as writer:
        if writer.previous is not None:
            writer.chunking = writer.previous.manifest.chunking
        existing = writer.existing_documents()
        present = [d for d in doc_ids if d in existing]
        source = existing[present[0]].source if present else None
        for doc_id in present:
            writer.delete(doc_id)
        try:
            manifest = writer.commit(extra={"deleted": present})
        except OSError as exc:
            raise IndexWriteError(
                f"Cannot write a new version of {settings.index_path} ({exc}); the previous "
                "version is untouched. Free disk space and try again"
            ) from exc
    if manifest is not None:
        announce_published(settings, manifest.version)
    return present, manifest, source
