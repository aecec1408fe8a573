"""Domain types shared by ingestion, the index store and retrieval."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

SECTION_SEPARATOR = " › "


def content_hash(text: str) -> str:
    """Stable short hash of a text, used to detect changed documents and chunks."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class DocumentPart:
    """A run of a document's text: Markdown-style headings (``#`` lines) mark sections.

    PDFs have one part per page so that chunks keep their page number.
    """

    text: str
    page: int | None = None


@dataclass(frozen=True)
class Document:
    """One wiki page as loaded from its source, before splitting."""

    doc_id: str
    title: str
    parts: tuple[DocumentPart, ...]
    source: str
    format: str
    url: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return "\n\n".join(part.text for part in self.parts)

    @property
    def hash(self) -> str:
        """Changes whenever anything that ends up in a chunk changes."""
        pages = ",".join(str(part.page) for part in self.parts)
        return content_hash(f"{self.title}\n{self.url}\n{pages}\n{self.text}")


@dataclass(frozen=True)
class Chunk:
    """A retrievable passage of a document with everything a citation needs."""

    chunk_id: str
    doc_id: str
    position: int
    title: str
    section: str
    anchor: str
    url: str | None
    page: int | None
    text: str
    content_hash: str
    token_count: int

    @property
    def search_text(self) -> str:
        """What both search legs index: the heading path gives a short chunk its context."""
        return f"{self.section}\n{self.text}"


@dataclass(frozen=True)
class SkippedFile:
    """An input that could not be ingested, with the reason shown to the user."""

    source: str
    reason: str
