"""Text forms of a stored question: the cache key, the answer snippet, the page path."""

from __future__ import annotations

import re
import unicodedata

from askwiki.answering.citations import strip_markers
from askwiki.text import slugify

SNIPPET_CHARS = 120
# Embeddings of small models rate "What is LoRA?" and "Who introduced LoRA?" 0.97 alike
# (multilingual-e5-small), so a cache hit by embedding also needs this much shared wording.
MIN_TEXT_OVERLAP = 0.5
SLUG_CHARS = 60
# Markdown syntax that would show as noise in a one-line snippet.
_MARKDOWN_NOISE = re.compile(r"^\s{0,3}(#{1,6}\s+|>\s?|[-*+]\s+|\d+[.)]\s+)|[*_`~]+", re.MULTILINE)
_LINK = re.compile(r"!?\[([^\]]*)\]\((?:[^()]|\([^()]*\))*\)")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([.,;:!?。，；：！？])")


def normalize_question(text: str) -> str:
    """The exact-match cache key: NFKC, casefolded, without punctuation or whitespace.

    "What is LoRA?" and "what is lora" share a key; so do "什么是LoRA？" and "什么是 lora".
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(
        ch for ch in folded if not ch.isspace() and unicodedata.category(ch)[0] not in "PZC"
    )


def text_overlap(first: str, second: str) -> float:
    """Dice coefficient of the character bigrams of two normalised questions (0..1).

    "谁提出了知识蒸馏" and "知识蒸馏是谁提出的" share 0.67; "什么是知识蒸馏" only 0.43.
    """
    a, b = _bigrams(first), _bigrams(second)
    if not a or not b:
        return 1.0 if first == second else 0.0
    return 2 * len(a & b) / (len(a) + len(b))


def _bigrams(text: str) -> set[str]:
    return {text[i : i + 2] for i in range(len(text) - 1)}


def answer_snippet(answer: str, limit: int = SNIPPET_CHARS) -> str:
    """The start of an answer as plain text: no citation markers, links or Markdown marks."""
    text = _LINK.sub(r"\1", strip_markers(answer))
    flat = _SPACE_BEFORE_PUNCT.sub(r"\1", " ".join(_MARKDOWN_NOISE.sub("", text).split()))
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def question_slug(question: str) -> str:
    """A short readable URL slug of the question (CJK kept), e.g. ``what-is-lora``."""
    slug = re.sub(r"-{2,}", "-", slugify(question)).strip("-")
    return slug[:SLUG_CHARS].rstrip("-")


def question_path(question_id: str, question: str) -> str:
    """The permanent page of a question: ``/q/{id}/{slug}`` (``/q/{id}`` also works)."""
    slug = question_slug(question)
    return f"/q/{question_id}/{slug}" if slug else f"/q/{question_id}"
