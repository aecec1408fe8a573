"""Heading-aware, sentence-preserving splitting measured in embedding-model tokens."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from askwiki.documents import SECTION_SEPARATOR, Chunk, Document, content_hash
from askwiki.text import slugify, split_sentences

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)(?:\s+\{#([^}\s]+)\})?\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")

TokenCounter = Callable[[Sequence[str]], list[int]]
TokenCutter = Callable[[str, int], list[str]]


@dataclass
class Section:
    """Body text under one heading path."""

    path: tuple[str, ...]
    anchor: str
    page: int | None
    lines: list[str]


class AnchorNamer:
    """Gives repeated headings distinct anchors the way GitHub does (``x``, ``x-1``...)."""

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}

    def name(self, heading: str, explicit: str | None) -> str:
        base = explicit or slugify(heading)
        count = self._seen.get(base, 0)
        self._seen[base] = count + 1
        return base if count == 0 or explicit else f"{base}-{count}"


def parse_sections(document: Document) -> list[Section]:
    """Walk the document's parts and group body lines under their heading path."""
    namer = AnchorNamer()
    headings: list[tuple[int, str]] = []
    anchor = ""
    sections: list[Section] = []
    for part in document.parts:
        current = Section(_path(document.title, headings), anchor, part.page, [])
        sections.append(current)
        in_fence = False
        for line in part.text.splitlines():
            if _FENCE.match(line):
                in_fence = not in_fence
            match = None if in_fence else _HEADING.match(line)
            if match is None:
                current.lines.append(line)
                continue
            level, heading, explicit = len(match.group(1)), match.group(2).strip(), match.group(3)
            headings = [h for h in headings if h[0] < level] + [(level, heading)]
            anchor = namer.name(heading, explicit)
            current = Section(_path(document.title, headings), anchor, part.page, [])
            sections.append(current)
    return [s for s in sections if any(line.strip() for line in s.lines)]


def _path(title: str, headings: list[tuple[int, str]]) -> tuple[str, ...]:
    names = [h for _, h in headings]
    if names and names[0] == title:
        names = names[1:]
    return (title, *names)


def section_units(section: Section) -> list[str]:
    """Sentences of a section; paragraph and line breaks are boundaries too."""
    return split_sentences("\n".join(section.lines))


class Splitter:
    """Packs whole sentences into chunks of at most ``chunk_tokens`` tokens."""

    def __init__(
        self,
        count_tokens: TokenCounter,
        cut_tokens: TokenCutter,
        chunk_tokens: int,
        overlap_tokens: int,
    ) -> None:
        self._count = count_tokens
        self._cut = cut_tokens
        self.chunk_tokens = chunk_tokens
        self.overlap_tokens = overlap_tokens

    def split(self, document: Document) -> list[Chunk]:
        """Chunks of one document, numbered in reading order."""
        chunks: list[Chunk] = []
        for section in parse_sections(document):
            for text, tokens in self._pack(section_units(section)):
                chunks.append(self._chunk(document, section, len(chunks), text, tokens))
        return chunks

    def _pack(self, units: list[str]) -> list[tuple[str, int]]:
        sizes = self._count(units)
        pieces: list[tuple[str, int]] = []
        for unit, size in zip(units, sizes, strict=True):
            if size <= self.chunk_tokens:
                pieces.append((unit, size))
                continue
            # A single sentence longer than a chunk is the only thing ever cut mid-way.
            cut = self._cut(unit, self.chunk_tokens)
            pieces.extend(zip(cut, self._count(cut), strict=True))

        packed: list[tuple[str, int]] = []
        current: list[tuple[str, int]] = []
        used = 0
        for piece in pieces:
            if current and used + piece[1] > self.chunk_tokens:
                packed.append(_join(current))
                current = self._overlap(current, piece[1])
                used = sum(size for _, size in current)
            current.append(piece)
            used += piece[1]
        if current:
            packed.append(_join(current))
        return packed

    def _overlap(self, previous: list[tuple[str, int]], incoming: int) -> list[tuple[str, int]]:
        carried: list[tuple[str, int]] = []
        budget = min(self.overlap_tokens, self.chunk_tokens - incoming)
        for piece in reversed(previous):
            if piece[1] > budget:
                break
            carried.insert(0, piece)
            budget -= piece[1]
        if len(carried) == len(previous):
            carried = carried[1:]
        return carried

    @staticmethod
    def _chunk(
        document: Document, section: Section, position: int, text: str, tokens: int
    ) -> Chunk:
        section_path = SECTION_SEPARATOR.join(section.path)
        digest = content_hash(f"{section_path}\n{text}")
        return Chunk(
            chunk_id=f"{document.doc_id}#{position}:{digest[:8]}",
            doc_id=document.doc_id,
            position=position,
            title=document.title,
            section=section_path,
            anchor=section.anchor,
            url=_chunk_url(document.url, section),
            page=section.page,
            text=text,
            content_hash=digest,
            token_count=tokens,
        )


def _join(pieces: list[tuple[str, int]]) -> tuple[str, int]:
    text = ""
    for piece, _ in pieces:
        if not text:
            text = piece
        elif _is_cjk_boundary(text[-1], piece[0]):
            text += piece
        else:
            text += " " + piece if not piece.startswith(("- ", "* ", "|")) else "\n" + piece
    return text, sum(size for _, size in pieces)


def _is_cjk_boundary(left: str, right: str) -> bool:
    return ord(left) > 0x2E80 and ord(right) > 0x2E80


def _chunk_url(url: str | None, section: Section) -> str | None:
    if not url:
        return None
    if section.page is not None and url.lower().split("#")[0].endswith(".pdf"):
        return f"{url}#page={section.page}"
    return f"{url}#{section.anchor}" if section.anchor else url
