"""Wiki sources askwiki pulls from directly (``askwiki sync``): git, MediaWiki, Feishu/Lark,
Confluence, Notion. Each reports its changes since a cursor and fetches pages as documents;
``askwiki.ingest.sync`` runs them through the ingest pipeline."""

from __future__ import annotations

from pathlib import Path

from askwiki.errors import SourceConfigError
from askwiki.ingest.loaders import LoaderOptions
from askwiki.ingest.sources.base import Changes, Fetched, Source, SourceConfig
from askwiki.ingest.sources.config import KINDS, load_sources, one_off_source

__all__ = [
    "KINDS",
    "Changes",
    "Fetched",
    "Source",
    "SourceConfig",
    "load_sources",
    "one_off_source",
    "open_source",
]


def open_source(config: SourceConfig, data_dir: Path, options: LoaderOptions) -> Source:
    """The client for ``config.kind`` (imported here: each kind has its own dependencies)."""
    if config.kind == "git":
        from askwiki.ingest.sources.git import GitSource

        return GitSource(config, data_dir / "sync" / "git", options)
    if config.kind == "mediawiki":
        from askwiki.ingest.sources.mediawiki import MediaWikiSource

        return MediaWikiSource(config)
    if config.kind == "feishu":
        from askwiki.ingest.sources.feishu import FeishuSource

        return FeishuSource(config)
    if config.kind == "confluence":
        from askwiki.ingest.sources.confluence import ConfluenceSource

        return ConfluenceSource(config)
    if config.kind == "notion":
        from askwiki.ingest.sources.notion import NotionSource

        return NotionSource(config)
    raise SourceConfigError(
        f"Source {config.name!r}: kind {config.kind!r} is not available in this version"
    )
