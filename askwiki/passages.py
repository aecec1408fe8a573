"""Retrieved passages: one chunk, or neighbouring chunks of a section merged into one."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import TypeVar

from askwiki.documents import Chunk

T = TypeVar("T")

# Shorter shared edges are coincidence ("." then "."), not the splitter's overlap.
MIN_OVERLAP_CHARS = 8


@dataclass(frozen=True)
class Passage:
    """A retrieved passage (one chunk, or neighbouring chunks of a section merged).

    ``row_id`` is the first chunk's row; ``row_ids`` and ``chunk_ids`` list every chunk.
    """

    chunk: Chunk
    row_id: int
    score: float
    dense_score: float
    bm25_score: float | None
    chunk_ids: tuple[str, ...]
    row_ids: tuple[int, ...]

    @property
    def id(self) -> str:
        return self.chunk.chunk_id


def chunk_passage(
    chunk: Chunk, row_id: int, score: float, cosine: float, bm25: float | None
) -> Passage:
    """A search result of one chunk, before neighbours are merged."""
    return Passage(
        chunk=chunk,
        row_id=row_id,
        score=score,
        dense_score=cosine,
        bm25_score=bm25,
        chunk_ids=(chunk.chunk_id,),
        row_ids=(row_id,),
    )


def page_key(chunk: Chunk) -> str:
    """The page a chunk belongs to for the page standout rule: its title (a wiki that holds
    an article as several pages, e.g. one per paragraph, shares it), else its page id."""
    return chunk.title or chunk.doc_id


def first_per_page(items: Iterable[T], page: Callable[[T], str]) -> list[T]:
    """The first item of each page (``page`` names an item's), in the given order."""
    firsts: dict[str, T] = {}
    for item in items:
        firsts.setdefault(page(item), item)
    return list(firsts.values())


def best_per_page(passages: list[Passage]) -> list[Passage]:
    """The first passage of each document, in the given order."""
    return first_per_page(passages, lambda p: p.chunk.doc_id)


def merge_neighbours(passages: list[Passage]) -> list[Passage]:
    """Join passages that are consecutive chunks of the same section into one.

    The merged passage keeps the better rank, the first chunk's id and every chunk id.
    """
    merged: list[Passage] = []
    for passage in passages:
        for i, kept in enumerate(merged):
            joined = _join_if_adjacent(kept, passage)
            if joined is not None:
                merged[i] = joined
                break
        else:
            merged.append(passage)
    return merged


def _join_if_adjacent(a: Passage, b: Passage) -> Passage | None:
    if a.chunk.doc_id != b.chunk.doc_id or a.chunk.section != b.chunk.section:
        return None
    first, second = (a, b) if a.chunk.position < b.chunk.position else (b, a)
    span = first.chunk.position + len(first.chunk_ids)
    if second.chunk.position != span:
        return None
    text = append_without_overlap(first.chunk.text, second.chunk.text)
    chunk = replace(
        first.chunk,
        text=text,
        token_count=first.chunk.token_count + second.chunk.token_count,
    )
    return Passage(
        chunk=chunk,
        row_id=first.row_id,
        score=max(a.score, b.score),
        dense_score=max(a.dense_score, b.dense_score),
        bm25_score=max((s for s in (a.bm25_score, b.bm25_score) if s is not None), default=None),
        chunk_ids=first.chunk_ids + second.chunk_ids,
        row_ids=first.row_ids + second.row_ids,
    )


def append_without_overlap(left: str, right: str) -> str:
    """Chunks share their overlap sentences; do not repeat them when joining."""
    for size in range(min(len(left), len(right)), MIN_OVERLAP_CHARS - 1, -1):
        if left.endswith(right[:size]):
            return left + right[size:]
    separator = "" if left and right and ord(left[-1]) > 0x2E80 else " "
    return left + separator + right
