"""Lexical evidence for the relevance floor: how rare each question term is in the wiki.

Plain keyword coverage counts "知识", "模型" and "蒸馏" alike, so "知识蒸馏是什么？" covers two
thirds of its words in any page of an AI wiki that never mentions distillation. Weighting
each term by its inverse document frequency over the index's chunks makes the rare terms
(the concept the question is about) carry the decision, and a term that no chunk contains
at all is the strongest evidence that the wiki does not hold the answer.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class TermWeights:
    """The question's distinct keywords with their IDF weight over the index's chunks.

    ``absent`` are the keywords that no chunk contains.
    """

    weights: Mapping[str, float]
    absent: frozenset[str]

    @property
    def total(self) -> float:
        return sum(self.weights.values())

    def coverage(self, passage_terms: Iterable[str]) -> float:
        """IDF-weighted share of the question's keywords found in the passage (0-1)."""
        total = self.total
        if total <= 0:
            return 0.0
        found = set(passage_terms) & self.weights.keys()
        return sum(self.weights[t] for t in found) / total

    def absent_share(self, among: Iterable[str] | None = None) -> float:
        """Share of the IDF mass of ``among`` (default: every keyword) carried by keywords
        the wiki never contains."""
        terms = self.weights.keys() if among is None else set(among) & self.weights.keys()
        total = sum(self.weights[t] for t in terms)
        if total <= 0:
            return 0.0
        return sum(self.weights[t] for t in self.absent & terms) / total


def idf(document_frequency: int, chunks: int) -> float:
    """BM25's IDF, always > 0: near 0 for a term in every chunk, ~log(chunks) for none."""
    return math.log(1.0 + (chunks - document_frequency + 0.5) / (document_frequency + 0.5))


def term_weights(
    keywords: Iterable[str], frequency: Callable[[list[str]], Mapping[str, int]], chunks: int
) -> TermWeights:
    """Weights of the distinct ``keywords``; ``frequency`` gives each one's chunk count."""
    distinct = list(dict.fromkeys(keywords))
    counts = frequency(distinct) if distinct else {}
    weights = {t: idf(counts.get(t, 0), chunks) for t in distinct}
    absent = frozenset(t for t in distinct if counts.get(t, 0) == 0)
    return TermWeights(weights, absent)
