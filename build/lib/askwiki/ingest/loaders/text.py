"""Plain ``.txt`` files -> ``Document`` with a single part and no headings."""

from __future__ import annotations

import logging

from askwiki.documents import Document, DocumentPart
from askwiki.errors import DocumentError
from askwiki.ingest.loaders.files import escape_heading_lines, read_text
from askwiki.ingest.loaders.markdown import split_front_matter
from askwiki.ingest.loaders.source import (
    LoaderOptions,
    SourceFile,
    declared_id,
    document_url,
    metadata_from,
    scalar_text,
    title_from_filename,
)

logger = logging.getLogger(__name__)

MAX_TITLE_LINE = 80


def load_text(source: SourceFile, options: LoaderOptions) -> Document:
    """One text file as a document; its first line is the title when it is short."""
    raw = read_text(source.path, options.max_file_bytes)
    # Some exports put YAML front matter on .txt files too; honour it the same way.
    front, body = split_front_matter(raw, str(source.path))
    body = body.strip()
    if not body:
        raise DocumentError("empty: no text besides front matter and whitespace")
    first_line = body.split("\n", 1)[0].strip()
    title = (
        scalar_text(front.get("title"))
        or (first_line if len(first_line) < MAX_TITLE_LINE else "")
        or title_from_filename(source.path)
    )
    doc_id = declared_id(front.get("id")) or source.relative_id
    return Document(
        doc_id=doc_id,
        title=title,
        # Plain text has no headings: a line such as "# of users" must stay body text.
        parts=(DocumentPart(escape_heading_lines(body)),),
        source=str(source.path),
        format="text",
        url=document_url(doc_id, front.get("url"), options.url_base),
        metadata=metadata_from(front),
    )
