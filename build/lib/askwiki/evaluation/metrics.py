"""Scoring rules of ``askwiki eval``: answer normalisation, gold matching, rank metrics.

A retrieved passage or a cited source is *gold* when its text contains a gold answer
string after normalisation, or when its document is a gold source. Normalisation is
NFKC (full-width letters, digits and punctuation become their half-width forms),
case folding, and dropping every whitespace, punctuation and control character, so
"ＬｏＲＡ，2021年。" and "lora 2021年" compare equal.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from askwiki.answering.citations import strip_markers

# Unicode categories dropped by ``normalize_answer``: punctuation (P*), separators (Z*)
# and control/format characters (C*). Symbols such as "$", "%" or "+" are kept.
_DROPPED_CATEGORIES = ("P", "Z", "C")
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f"
# One token per CJK character, one per run of other letters/digits (SQuAD-style for English).
_TOKEN = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+")
_ARTICLES = frozenset({"a", "an", "the"})


def normalize_answer(text: str) -> str:
    """NFKC, case-folded, without whitespace, punctuation or control characters."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if unicodedata.category(ch)[0] not in _DROPPED_CATEGORIES)


def normalized_golds(answers: Sequence[str]) -> list[str]:
    """The gold answers normalised; answers that normalise to nothing are dropped."""
    return [gold for gold in (normalize_answer(a) for a in answers) if gold]


def contains_answer(text: str, answers: Sequence[str]) -> bool:
    """Whether ``text`` contains any gold answer, both normalised; ``[n]`` markers ignored."""
    golds = normalized_golds(answers)
    if not golds:
        return False
    haystack = normalize_answer(strip_markers(text))
    return any(gold in haystack for gold in golds)


def _path_parts(path: str) -> list[str]:
    cleaned = path.strip().replace("\\", "/")
    return [part for part in cleaned.split("/") if part and part != "."]


def source_matches(doc_id: str, sources: Sequence[str]) -> bool:
    """Whether ``doc_id`` is one of the gold ``sources``.

    A gold source equal to the doc id matches; one given as a path matches when one path
    ends with the other on a folder boundary, so ``wiki/rag/overview.md`` and
    ``/home/me/wiki/rag/overview.md`` both match the doc id ``rag/overview.md``.
    """
    doc_parts = _path_parts(doc_id)
    if not doc_parts:
        return False
    for source in sources:
        if source.strip() == doc_id:
            return True
        parts = _path_parts(source)
        if not parts:
            continue
        shorter, longer = sorted((parts, doc_parts), key=len)
        if longer[len(longer) - len(shorter) :] == shorter:
            return True
    return False


@dataclass(frozen=True)
class Gold:
    """What counts as a right passage or answer for one question."""

    answers: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()

    @property
    def answerable(self) -> bool:
        """False for a question the wiki is expected not to answer (no answers, no sources)."""
        return bool(normalized_golds(self.answers) or self.sources)

    def matches(self, doc_id: str, text: str, path: str | None = None) -> bool:
        """A passage is gold when it contains a gold answer or comes from a gold source.

        ``path`` is the file the document was loaded from: a page whose front matter
        declares its own id still matches a gold source given as its file path.
        """
        return (
            source_matches(doc_id, self.sources)
            or (path is not None and source_matches(path, self.sources))
            or contains_answer(text, self.answers)
        )


def first_hit_rank(flags: Sequence[bool]) -> int | None:
    """1-based rank of the first gold passage, or None when there is none."""
    for rank, flag in enumerate(flags, start=1):
        if flag:
            return rank
    return None


def hit_at(rank: int | None, k: int) -> float:
    """1.0 when the first gold passage is within the top ``k``, else 0.0."""
    return 1.0 if rank is not None and rank <= k else 0.0


def reciprocal_rank(rank: int | None, cutoff: int = 10) -> float:
    """1/rank of the first gold passage within ``cutoff``, else 0.0 (MRR@cutoff terms)."""
    return 1.0 / rank if rank is not None and rank <= cutoff else 0.0


def answer_tokens(text: str) -> list[str]:
    """Tokens for F1: each CJK character, each run of other letters/digits; no articles."""
    folded = unicodedata.normalize("NFKC", strip_markers(text)).casefold()
    return [token for token in _TOKEN.findall(folded) if token not in _ARTICLES]


def token_f1(prediction: str, gold: str) -> float:
    """SQuAD-style token F1 between a generated answer and one gold answer."""
    predicted = Counter(answer_tokens(prediction))
    expected = Counter(answer_tokens(gold))
    common = sum((predicted & expected).values())
    if common == 0:
        return 0.0
    precision = common / sum(predicted.values())
    recall = common / sum(expected.values())
    return 2 * precision * recall / (precision + recall)


def token_recall(prediction: str, gold: str) -> float:
    """Share of the gold answer's tokens found in the prediction (verbosity not penalised)."""
    expected = Counter(answer_tokens(gold))
    if not expected:
        return 0.0
    common = sum((Counter(answer_tokens(prediction)) & expected).values())
    return common / sum(expected.values())


def best_f1(prediction: str, answers: Sequence[str]) -> float:
    """The best ``token_f1`` over the gold answers (0.0 without any)."""
    return max((token_f1(prediction, gold) for gold in answers), default=0.0)


def mean(values: Sequence[float]) -> float | None:
    """Arithmetic mean, or None for no values (a metric that does not apply)."""
    return sum(values) / len(values) if values else None
