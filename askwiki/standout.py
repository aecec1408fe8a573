"""How far a passage stands out from the other candidates of the same search.

A question whose page is missing still finds neighbours: in a wiki of one passage per
title (CMRC 2018), "德龙烟铁路全长多少公里？" with its page gone meets other railways' pages at
cosine 0.85-0.90, and Chinese pairs reach the relevance floor's cosine on style alone. What
those candidates lack is a leader: the page that answers tends to sit above the rest of the
fused top 15, while for an absent page the candidates are about equally close. The opt-in
rule ``ASKWIKI_MIN_STANDOUT`` keeps only passages whose cosine exceeds the mean cosine of
all candidates by that margin (``bench/floor.py`` measures the trade).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import TypeVar

K = TypeVar("K", bound=Hashable)


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
