"""A third ranked list for a question searched with its translation: headings that name it.

With the question and its LLM translation each searched over its own language
(``language_legs``), the right page often comes second to a page in the question's language
that is about the same field: "What does the temperature do in knowledge distillation?"
found the English notes on model compression (dense margin 0.084, BM25 first among English
passages) above the Chinese page titled 知识蒸馏 (margin 0.069, BM25 first among Chinese
ones). Both legs tie across languages by construction, so nothing in them says which page
is about the question. A page's title and headings do: 知识蒸馏 is the translation's own
words, and wikis write the English term in a Chinese heading (文本切分（Chunking）), so the
reader's words name it too.

Each candidate gets the rarity (IDF) weight of the question's and translation's keywords
that its heading path (title › section › subsection) holds; candidates are ranked by that
weight, equal weights sharing a rank (an article's paragraphs share its title, and must not
be ordered among themselves by it), and the ranks are fused like the other legs'.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache

from askwiki.language_legs import LanguageRanking
from askwiki.text import keyword_tokens

# Distinct heading paths kept tokenized: a page's chunks share a few, and every search of a
# translated question tokenizes its candidates' (jieba and stemming were half its time).
HEADING_CACHE = 8192


@lru_cache(maxsize=HEADING_CACHE)
def heading_tokens(section: str) -> frozenset[str]:
    """The keyword tokens of a heading path (title › section › ...)."""
    return frozenset(keyword_tokens(section))


def heading_weights(
    weights: Mapping[str, float], headings: Mapping[int, Iterable[str]]
) -> dict[int, float]:
    """Per row, the summed weight of the keywords its heading tokens hold (rows holding
    none are left out)."""
    found: dict[int, float] = {}
    for row_id, tokens in headings.items():
        weight = sum(weights[t] for t in set(tokens) if t in weights)
        if weight > 0:
            found[row_id] = weight
    return found


def heading_ranks(weights: Mapping[int, float]) -> dict[int, int]:
    """Ranks by weight, heaviest first; rows of equal weight share a rank (1, 1, 2, ...)."""
    distinct = sorted({round(w, 9) for w in weights.values()}, reverse=True)
    rank_of = {w: rank for rank, w in enumerate(distinct, start=1)}
    return {row_id: rank_of[round(w, 9)] for row_id, w in weights.items()}


def fuse_heading_ranks(
    ranking: LanguageRanking, ranks: Mapping[int, int], weight: float, rrf_k: int
) -> None:
    """Add the heading leg's reciprocal ranks to ``ranking``'s fused scores and re-order it."""
    for row_id, rank in ranks.items():
        if row_id in ranking.fused:
            ranking.fused[row_id] += weight / (rrf_k + rank)
    ranking.order.sort(key=lambda r: ranking.fused[r], reverse=True)
