"""What every loader shares: the input file, the options, and how ids, urls, titles are made."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

# Suffixes dropped from the doc id when building a url from ``url_base`` (PDF keeps its own).
URL_STRIPPED_SUFFIXES = (".md", ".markdown", ".html", ".htm", ".txt")
# Keys with a meaning of their own; every other scalar front-matter key becomes metadata.
RESERVED_KEYS = frozenset({"id", "title", "url", "text"})
_NOTION_SUFFIX = re.compile(r"^(.+?)\s+[0-9a-fA-F]{32}$")


@dataclass(frozen=True)
class LoaderOptions:
    """Limits and settings the loaders need (built from ``Settings`` by the caller)."""

    max_file_bytes: int
    pdf_timeout_s: float
    url_base: str | None = None


@dataclass(frozen=True)
class SourceFile:
    """One input file and the folder its document id is relative to."""

    path: Path
    root: Path
    from_folder: bool

    @property
    def relative_id(self) -> str:
        """POSIX path relative to ``root`` (``rag/overview.md``), the default doc id."""
        try:
            return self.path.relative_to(self.root).as_posix()
        except ValueError:
            return self.path.name


def document_url(doc_id: str, declared: object, url_base: str | None) -> str | None:
    """The declared url, else ``url_base/doc-id`` without its page suffix, else None."""
    if isinstance(declared, str) and declared.strip():
        return declared.strip()
    if not url_base:
        return None
    path = doc_id
    lower = path.lower()
    for suffix in URL_STRIPPED_SUFFIXES:
        if lower.endswith(suffix):
            path = path[: -len(suffix)]
            break
    return f"{url_base.rstrip('/')}/{path.lstrip('/')}"


def title_from_filename(path: Path) -> str:
    """File stem, with a Notion export's 32-hex id suffix removed (``Page 3f2a…e7d``)."""
    match = _NOTION_SUFFIX.match(path.stem)
    return match.group(1).strip() if match else path.stem


def declared_id(value: object) -> str | None:
    """A front-matter or JSONL ``id`` as a string; None when absent or unusable."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str | int):
        text = str(value).strip()
        return text or None
    return None


def scalar_text(value: object) -> str | None:
    """A YAML/JSON scalar (or list of scalars) as text; None for mappings and nulls."""
    if value is None or isinstance(value, Mapping):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value).strip()
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        items = [scalar_text(item) for item in value]
        return ", ".join(item for item in items if item)
    return None


def metadata_from(values: Mapping[str, object]) -> dict[str, str]:
    """Every other scalar key as a string; lists (tags) joined with ``", "``."""
    metadata: dict[str, str] = {}
    for key, value in values.items():
        if str(key) in RESERVED_KEYS:
            continue
        text = scalar_text(value)
        if text:
            metadata[str(key)] = text
    return metadata
