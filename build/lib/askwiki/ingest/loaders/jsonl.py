"""JSON Lines wiki exports -> one ``Document`` per line; a bad line skips only itself.

Each line is an object with ``text`` (required, may hold Markdown headings) and ``id`` or
``title``; ``url`` and any other scalar keys are optional.
"""

from __future__ import annotations

import codecs
import json
import logging
from collections.abc import Iterator

from askwiki.documents import Document, DocumentPart, SkippedFile
from askwiki.errors import DocumentError
from askwiki.ingest.loaders.files import check_size
from askwiki.ingest.loaders.markdown import clean_markdown, drop_title_heading, first_h1
from askwiki.ingest.loaders.source import (
    LoaderOptions,
    SourceFile,
    declared_id,
    document_url,
    metadata_from,
)

logger = logging.getLogger(__name__)


def load_jsonl(source: SourceFile, options: LoaderOptions) -> Iterator[Document | SkippedFile]:
    """Documents of the good lines and ``SkippedFile("file.jsonl:LINE", reason)`` for bad ones.

    Raises ``DocumentError`` for the whole file (too large, empty, unreadable).
    """
    check_size(source.path, options.max_file_bytes)
    seen_content = False
    try:
        handle = source.path.open("rb")
    except OSError as exc:
        raise DocumentError(f"cannot read file: {exc.strerror or exc}") from exc
    with handle:
        for number, raw in enumerate(handle, start=1):
            line = raw.removeprefix(codecs.BOM_UTF8) if number == 1 else raw
            if not line.strip():
                continue
            seen_content = True
            try:
                yield parse_line(line, source, options)
            except DocumentError as exc:
                yield SkippedFile(f"{source.path}:{number}", str(exc))
    if not seen_content:
        raise DocumentError("empty file (only whitespace)")


def parse_line(raw: bytes, source: SourceFile, options: LoaderOptions) -> Document:
    """One JSON line as a document; raises ``DocumentError`` saying what is wrong with it."""
    try:
        text = raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError as exc:
        raise DocumentError(
            f"not valid UTF-8 at byte {exc.start} (JSON Lines must be UTF-8)"
        ) from exc
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        # json's own messages may end in " at" ("Invalid control character at").
        message = exc.msg.removesuffix(" at")
        raise DocumentError(f"invalid JSON: {message} at column {exc.colno}") from exc
    if not isinstance(value, dict):
        raise DocumentError(f"not a JSON object but {type(value).__name__}")
    page_id = declared_id(value.get("id"))
    title_value = value.get("title")
    title = title_value.strip() if isinstance(title_value, str) else ""
    if not page_id and not title:
        raise DocumentError('needs an "id" (string or number) or a "title"')
    body_value = value.get("text")
    if not isinstance(body_value, str) or not body_value.strip():
        raise DocumentError('"text" is missing, empty or not a string')
    body = clean_markdown(body_value.replace("\r\n", "\n"))
    title = title or first_h1(body) or page_id or ""
    body = drop_title_heading(body, title)
    if not body.strip():
        raise DocumentError('empty: "text" holds nothing besides the title')
    doc_id = page_id or title
    return Document(
        doc_id=doc_id,
        title=title,
        parts=(DocumentPart(body),),
        source=str(source.path),
        format="jsonl",
        url=document_url(doc_id, value.get("url"), options.url_base),
        metadata=metadata_from(value),
    )
