"""How far a passage stands out from the other candidates of the same search.

A question whose page is missing still finds neighbours: in a wiki of one passage per
title (CMRC 2018), "德龙烟铁路全长多少公里？" with its page gone meets other railways' pages at
cosine 0.85-0.90, and Chinese pairs reach the relevance floor's cosine on style alone. What
those candidates lack is a leader: the page that answers tends to sit above the rest of the
fused top 15, while for an absent page the candidates are about equally close. The opt-in
rule ``ASKWIKI_MIN_STANDOUT`` keeps only passages whose cosine exceeds the mean cosine of
all candidates by that margin (``bench/floor.py`` measures the trade).

That mean counts chunks, so a page of many chunks lifts it with its own siblings: on a
handbook the answer's chunk leads by less, and on XQuAD, whose wiki holds each article as
several paragraph pages, the article that answers competes with itself. The opt-in rule
``ASKWIKI_MIN_PAGE_STANDOUT`` judges pages instead: chunks are grouped by page title (the
article; the page id where a chunk has no title), each page scores its best cosine, and a
page stands out when its score exceeds the mean score of the ``OTHER_PAGES`` best other
pages by the margin. Every chunk of a page that stands out is kept; a search whose
candidates are all one page keeps them all (nothing to stand out from).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import TypeVar

K = TypeVar("K", bound=Hashable)

# The page baseline: the mean of this many best other pages (bench/floor.py chose 5 over
# the mean or median of every other page among the candidates and over the runner-up alone).
OTHER_PAGES = 5


def standout(scores: Sequence[float]) -> list[float]:
    """Each score minus the mean of all of them (empty in, empty out)."""
    if not scores:
        return []
    mean = sum(scores) / len(scores)
    return [score - mean for score in scores]


def standing_out(scores: Mapping[K, float], margin: float) -> set[K]:
    """The keys whose score exceeds the mean of all the scores by at least ``margin``."""
    keys = list(scores)
    lifts = standout([scores[k] for k in keys])
    return {k for k, lift in zip(keys, lifts, strict=True) if lift >= margin}


def page_standout(scores: Mapping[K, float], pages: Mapping[K, str]) -> dict[K, float]:
    """Per key, how far the best score of its page exceeds the mean best score of the
    ``OTHER_PAGES`` best other pages (``inf`` when the candidates hold no other page)."""
    best: dict[str, float] = {}
    for key, score in scores.items():
        page = pages[key]
        best[page] = max(score, best.get(page, score))
    ranked = sorted(best.items(), key=lambda item: item[1], reverse=True)
    lifts: dict[str, float] = {}
    for page, score in ranked:
        others = [s for p, s in ranked if p != page][:OTHER_PAGES]
        lifts[page] = score - sum(others) / len(others) if others else float("inf")
    return {key: lifts[pages[key]] for key in scores}


def pages_standing_out(scores: Mapping[K, float], pages: Mapping[K, str], margin: float) -> set[K]:
    """The keys whose page's best score exceeds the ``OTHER_PAGES`` best other pages' mean
    by at least ``margin``."""
    return {k for k, lift in page_standout(scores, pages).items() if lift >= margin}
