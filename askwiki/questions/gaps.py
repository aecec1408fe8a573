"""Knowledge gaps: questions the wiki could not answer, grouped so editors see what to write.

A question is a gap when retrieval found no relevant page (status ``no_answer``) or when
readers voted its answer down more than up. Gaps are grouped greedily, newest first: a
question joins the first group whose centroid it resembles (cosine >= ``min_similarity``)
or whose normalised text it shares, otherwise it starts a group.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from askwiki.questions.store import (
    GapCandidate,
    NearestPage,
    QuestionStore,
    QuestionSummary,
    Vector,
)
from askwiki.questions.text import normalize_question

logger = logging.getLogger(__name__)

GAP_SIMILARITY = 0.85
SCAN_LIMIT = 2000
EXAMPLES = 5


@dataclass
class Gap:
    """A group of similar unanswered questions: its label, counts and examples."""

    question: str
    count: int
    no_answer: int
    downvoted: int
    last_asked: str
    examples: list[QuestionSummary] = field(default_factory=list)
    # The page that came closest most often: extend it, or write a new one next to it.
    nearest: NearestPage | None = None
    # The stored ask the label is: where an editor writes the group's curated answer.
    question_id: str = ""


@dataclass
class _Group:
    members: list[GapCandidate] = field(default_factory=list)
    keys: set[str] = field(default_factory=set)
    total: Vector | None = None

    def similarity(self, vector: Vector) -> float:
        if self.total is None or self.total.shape != vector.shape:
            return -1.0
        norm = float(np.linalg.norm(self.total) * np.linalg.norm(vector))
        return float(self.total @ vector) / norm if norm else -1.0

    def add(self, candidate: GapCandidate, key: str) -> None:
        self.members.append(candidate)
        self.keys.add(key)
        vector = candidate.embedding
        if vector is not None:
            unit = vector / (float(np.linalg.norm(vector)) or 1.0)
            if self.total is None:
                self.total = unit.astype(np.float32)
            elif self.total.shape == unit.shape:
                self.total = self.total + unit

    def to_gap(self) -> Gap:
        texts = Counter(normalize_question(m.summary.question) for m in self.members)
        label_key = texts.most_common(1)[0][0]
        # Members are newest first, so the label is the newest wording of the commonest key.
        label = next(m for m in self.members if normalize_question(m.summary.question) == label_key)
        examples: list[QuestionSummary] = []
        seen: set[str] = set()
        for member in self.members:
            key = normalize_question(member.summary.question)
            if key not in seen and len(examples) < EXAMPLES:
                seen.add(key)
                examples.append(member.summary)
        return Gap(
            question=label.summary.question,
            count=len(self.members),
            no_answer=sum(m.no_answer for m in self.members),
            downvoted=sum(not m.no_answer for m in self.members),
            last_asked=max(m.summary.asked_at for m in self.members),
            examples=examples,
            nearest=self._nearest(),
            question_id=label.summary.id,
        )

    def _nearest(self) -> NearestPage | None:
        """The commonest nearest page of the members (the newest one's on a tie)."""
        pages = [m.nearest for m in self.members if m.nearest is not None]
        if not pages:
            return None
        counts = Counter(page.doc_id for page in pages)
        top = max(counts.values())
        return next(page for page in pages if counts[page.doc_id] == top)


def cluster_gaps(
    candidates: list[GapCandidate], min_similarity: float = GAP_SIMILARITY
) -> list[Gap]:
    """Greedy grouping of gap questions; biggest groups first, then most recently asked."""
    groups: list[_Group] = []
    for candidate in sorted(candidates, key=lambda c: c.summary.asked_at, reverse=True):
        key = normalize_question(candidate.summary.question)
        home = next((g for g in groups if key in g.keys), None)
        if home is None and candidate.embedding is not None:
            scored = [(g.similarity(candidate.embedding), g) for g in groups]
            best = max(scored, key=lambda pair: pair[0], default=None)
            if best is not None and best[0] >= min_similarity:
                home = best[1]
        if home is None:
            home = _Group()
            groups.append(home)
        home.add(candidate, key)
    gaps = [group.to_gap() for group in groups]
    gaps.sort(key=lambda g: (g.count, g.last_asked), reverse=True)
    return gaps


def find_gaps(
    store: QuestionStore,
    *,
    min_similarity: float = GAP_SIMILARITY,
    limit: int = 50,
    scan: int = SCAN_LIMIT,
) -> list[Gap]:
    """The wiki's knowledge gaps from the newest ``scan`` unanswered or disliked asks."""
    gaps = cluster_gaps(store.gap_candidates(scan), min_similarity)
    logger.debug("%d knowledge gap group(s)", len(gaps))
    return gaps[:limit]
