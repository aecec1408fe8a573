"""Search a question and its translation so that every comparison stays in one language.

multilingual-e5 scores a pair of texts in the same language ~0.05 higher than a pair across
languages, and BM25 cannot match across them. Fusing all legs of the question and of its
translation over every passage (the first way translation was used) let the Chinese
translation of an English question pull Chinese distractors ahead of the English page that
the question itself ranks first: same-language hit@1 fell by 10-13 points.

Here a passage is only ever compared with the form of the question in its own language: a
Chinese passage with the Chinese form (the question or its translation), an English passage
with the English form. Each form's dense and BM25 legs are restricted to passages of its
language, and each leg's two lists are merged on a scale both languages share, so that a
passage standing out for its form wins: cosines on their margin over the mean of their own
form's candidates (Chinese pairs score higher for any text), BM25 scores on their standard
score among them (BM25 scales with the query's length and rarity: the two forms' scores are
not comparable as they are). BM25 ranks counted within each language, as first done, tied
the Chinese question's own page with the first page its English translation found among
unrelated English ones: same-language Chinese hit@1 fell 20 points with translation on. A
score's ratio to the mean, also measured, cost two example-wiki pages that this keeps.
The relevance floor then judges each passage against its own form, so every judgement is a
same-language one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from askwiki.text import Language

logger = logging.getLogger(__name__)

# Each leg reads this many times the candidates before keeping its own language's, so a
# form whose language holds a small share of the wiki still gets its candidates.
OVERREAD = 3

Ranking = list[tuple[int, float]]


@dataclass(frozen=True)
class QueryForm:
    """The question (first form) or its translation, in ``language``."""

    text: str
    vector: npt.NDArray[np.float32]
    language: Language


@dataclass
class LanguageRanking:
    """Fused scores of the candidates, best first, with the form each one was judged by.

    ``cosines`` are each row's cosine to its own form; ``bm25`` its BM25 score for that form.
    """

    order: list[int]
    fused: dict[int, float]
    owner: dict[int, int]
    cosines: dict[int, float]
    bm25: dict[int, float]


def owning_form(
    row_id: int, forms: Sequence[QueryForm], languages: Mapping[int, Language]
) -> int | None:
    """The index of the form in the row's language; the question's for a row of unknown
    language (added after the profile was built); None when no form is in its language."""
    language = languages.get(row_id)
    if language is None:
        return 0
    for i, form in enumerate(forms):
        if form.language == language:
            return i
    return None


def own_language(
    ranking: Ranking, form: int, forms: Sequence[QueryForm], languages: Mapping[int, Language]
) -> Ranking:
    """The entries of ``ranking`` whose row belongs to form ``form``, in order."""
    return [(r, s) for r, s in ranking if owning_form(r, forms, languages) == form]


def margins(dense: Ranking) -> Ranking:
    """Each cosine minus the mean cosine of the list (0 for a list of one)."""
    if not dense:
        return []
    mean = float(np.mean([s for _, s in dense]))
    return [(r, s - mean) for r, s in dense]


def keyword_standard_scores(keyword: Ranking) -> Ranking:
    """Each BM25 score's standard score within the list (0 for a list of equal scores)."""
    if not keyword:
        return []
    scores = np.asarray([s for _, s in keyword], dtype=np.float64)
    spread = float(scores.std())
    if spread <= 0:
        return [(r, 0.0) for r, _ in keyword]
    mean = float(scores.mean())
    return [(r, (s - mean) / spread) for r, s in keyword]


def rank_by_language(
    forms: Sequence[QueryForm],
    languages: Mapping[int, Language],
    dense_search: Callable[[npt.NDArray[np.float32], int], Ranking],
    keyword_search: Callable[[str, int], Ranking],
    candidates: int,
    weights: tuple[float, float],
    rrf_k: int,
) -> LanguageRanking:
    """Reciprocal rank fusion of every form's dense and BM25 legs, each over its language.

    ``weights`` are the dense and BM25 legs' (as in the same-language fusion).
    """
    merged_dense: Ranking = []
    merged_keyword: Ranking = []
    cosines: dict[int, float] = {}
    bm25: dict[int, float] = {}
    owner: dict[int, int] = {}
    for i, form in enumerate(forms):
        dense = own_language(dense_search(form.vector, candidates * OVERREAD), i, forms, languages)[
            :candidates
        ]
        keyword = own_language(
            keyword_search(form.text, candidates * OVERREAD), i, forms, languages
        )[:candidates]
        merged_dense.extend(margins(dense))
        merged_keyword.extend(keyword_standard_scores(keyword))
        for row_id, score in keyword:
            bm25[row_id] = score
            owner[row_id] = i
        for row_id, score in dense:
            cosines[row_id] = score
            owner[row_id] = i
    fused: dict[int, float] = {}
    for weight, merged in zip(weights, (merged_dense, merged_keyword), strict=True):
        merged.sort(key=lambda item: item[1], reverse=True)
        for rank, (row_id, _) in enumerate(merged, start=1):
            fused[row_id] = fused.get(row_id, 0.0) + weight / (rrf_k + rank)
    order = sorted(fused, key=lambda r: fused[r], reverse=True)
    return LanguageRanking(order, fused, owner, cosines, bm25)
