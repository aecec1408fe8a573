"""Turning fetched Markdown into a ``Document`` with the same code the Markdown loader uses."""

from __future__ import annotations

from askwiki.documents import Document, DocumentPart
from askwiki.ingest.loaders.markdown import clean_markdown, drop_title_heading
from askwiki.ingest.sources.base import SourceConfig


def markdown_document(
    config: SourceConfig, key: str, title: str, markdown: str, url: str | None
) -> Document | str:
    """A page of ``config``'s source, or the reason it cannot be indexed (empty)."""
    body = drop_title_heading(clean_markdown(markdown), title)
    if not body.strip():
        return "empty: no text besides the title"
    return Document(
        doc_id=config.doc_id(key),
        title=title,
        parts=(DocumentPart(body),),
        source=f"{config.kind}:{config.name}:{key}",
        format=config.kind,
        url=url,
    )
