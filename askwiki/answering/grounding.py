"""Grounding after generation: keep only the sentences their cited source supports.

The citation check (``citations.py``) attributes each sentence to the source that fits it
best, even when none says what the sentence says. This step then asks a stricter question
of every sentence: does the source it cites hold its rare words? A definition the model
wrote from its own knowledge ("知识蒸馏是通过压缩……") shares only generic words ("知识",
"数据") with a cooking page of the wiki, and it is dropped. When nothing that answers is left,
or the model itself said the sources do not answer, the answer becomes ``no_answer``.

Support is judged on the index's stored chunk vectors plus lexical evidence weighted by how
rare each word is in the wiki; no second LLM call. A sentence in another language than its
source (an English answer from a Chinese page) shares no words with it and is judged on
meaning alone, against the source's own sentences too: those are embedded only then.

A question naming something the wiki never contains ("珠江频道" in a wiki without it) can pass
the relevance floor on its other words; a sentence that repeats that name then claims what
no page says, however close in meaning its source is. Such a sentence must pass the strict
lexical test: closeness in meaning alone does not vouch for a name the wiki lacks.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from askwiki.answering.citations import (
    EmbedFn,
    SourceVectors,
    marker_numbers,
    split_answer,
    strip_markers,
)
from askwiki.evidence import TermWeights
from askwiki.text import detect_language, keyword_tokens, split_sentences

# A sentence is supported by a source holding this IDF-weighted share of its keywords...
LEXICAL_SUPPORT = 0.6
# ...or a smaller share, when the source's closest chunk is also this close in meaning.
LEXICAL_WITH_COSINE = 0.4
COSINE_SUPPORT = 0.86
# A sentence in another language than its source shares no words with it: it is judged on
# meaning alone, against the source's own sentences as well as its chunks. A whole chunk in
# the other language dilutes the one sentence that says it (supported pairs: median cosine
# 0.80-0.81, unsupported of the same article 0.75-0.77); the closest source sentence does
# not (0.85 against 0.78). Calibrated on XQuAD's parallel zh/en paragraphs
# (bench/grounding_calibration.py): at 0.82, 0.92 of supported sentences are kept each way
# and 0.91-0.94 of on-topic unsupported ones dropped; the chunk cosine alone kept 0.08-0.15
# at the former 0.84.
CROSS_LANGUAGE_COSINE = 0.82

# The model's own "the sources do not say" (the system prompt's phrases and common variants).
_REFUSAL = re.compile(
    r"资料中没有|资料中并没有|资料中未|资料没有|没有相关信息|没有提供|未提供|未提及|没有提及|没有提到|"
    r"无法(?:根据资料)?回答|无法确定|不包含|"
    r"sources? (?:do|does) not (?:contain|mention|say|provide|answer|include)|"
    r"sources? (?:don't|doesn't)|no (?:relevant )?information|not (?:mentioned|provided|"
    r"specified|stated)|cannot (?:be )?answer|can't answer|i don't know|i do not know",
    re.IGNORECASE,
)

WeighFn = Callable[[list[str]], TermWeights]


@dataclass(frozen=True)
class GroundedAnswer:
    """What is left of the answer, how many sentences went, and whether it still answers."""

    text: str
    unsupported_removed: int
    answers: bool
    refused: bool


def is_refusal(sentence: str) -> bool:
    """True when the sentence says the sources do not answer (Chinese or English)."""
    return _REFUSAL.search(strip_markers(sentence)) is not None


def ground_answer(
    answer: str,
    sources: Sequence[str],
    source_vectors: SourceVectors,
    embed: EmbedFn,
    weigh: WeighFn,
    question: str,
) -> GroundedAnswer:
    """Drop the sentences that the source they cite does not support.

    ``answer`` is the citation check's output (markers verified); ``sources[i]`` is source
    i+1 and ``source_vectors[i]`` its stored chunk vectors. ``weigh`` weights a sentence's
    keywords by their rarity in the index. A sentence too short to judge (under two
    keywords) is kept as it is, but does not by itself count as answering. ``question``
    names the terms whose absence from the wiki makes a sentence repeating them suspect.
    """
    unknown_in_question = weigh(keyword_tokens(question)).absent
    sentences = split_answer(answer)
    judged = [i for i, s in enumerate(sentences) if _judgeable(s) and not is_refusal(s)]
    vectors = embed([strip_markers(sentences[i]).strip() for i in judged]) if judged else None
    source_terms = [set(keyword_tokens(s)) for s in sources]
    source_languages = [detect_language(s) for s in sources]
    crossing = _CrossLanguageSupport(sources, source_vectors, embed)
    kept: list[str] = []
    removed = 0
    supported = 0
    refused = False
    for i, sentence in enumerate(sentences):
        if is_refusal(sentence):
            refused = True
            kept.append(sentence)
            continue
        if i not in judged:
            kept.append(sentence)
            continue
        assert vectors is not None
        vector = vectors[judged.index(i)]
        cited = [n for n in marker_numbers(sentence) if 1 <= n <= len(sources)]
        # A sentence the model left without a marker (small models often do) is judged
        # against every source rather than dropped for want of one.
        cited = cited or list(range(1, len(sources) + 1))
        language = detect_language(sentence)
        if cited and any(
            _supports(
                sentence,
                source_terms[n - 1],
                source_vectors[n - 1],
                vector,
                weigh,
                unknown_in_question,
            )
            if source_languages[n - 1] == language
            else crossing.supports(n - 1, vector)
            for n in cited
        ):
            kept.append(sentence)
            supported += 1
        else:
            removed += 1
    text = _tidy("".join(kept))
    answers = supported > 0
    return GroundedAnswer(text, removed, answers, refused and not answers)


class _CrossLanguageSupport:
    """Judges sentences against sources in the other language: the source's chunks first,
    then its own sentences, embedded on first need (once per source). A sentence its chunk
    already supports, and an answer in its sources' language, cost no extra embedding."""

    def __init__(
        self, sources: Sequence[str], source_vectors: SourceVectors, embed: EmbedFn
    ) -> None:
        self._sources = sources
        self._chunks = source_vectors
        self._embed = embed
        self._sentences: dict[int, np.ndarray] = {}

    def supports(self, i: int, sentence_vector: np.ndarray) -> bool:
        """Whether source ``i`` (0-based) supports the sentence with this vector."""
        if _closest(self._chunks[i], sentence_vector) >= CROSS_LANGUAGE_COSINE:
            return True
        if i not in self._sentences:
            pieces = source_sentences(self._sources[i])
            self._sentences[i] = self._embed(pieces) if pieces else self._chunks[i][:0]
        return _closest(self._sentences[i], sentence_vector) >= CROSS_LANGUAGE_COSINE


def _closest(vectors: np.ndarray, vector: np.ndarray) -> float:
    return float((vectors @ vector).max()) if len(vectors) else 0.0


def source_sentences(source: str) -> list[str]:
    """The sentences of a source worth comparing with an answer sentence (two keywords+).

    A source of several lines starts with its heading path (``Chunk.search_text``): it names
    the topic, which any sentence on the topic matches, so it is left out.
    """
    head, _, body = source.partition("\n")
    return [s for s in split_sentences(body or head) if _judgeable(s)]


def _judgeable(sentence: str) -> bool:
    return len(keyword_tokens(strip_markers(sentence))) >= 2


def _supports(
    sentence: str,
    source_terms: set[str],
    chunk_vectors: np.ndarray,
    sentence_vector: np.ndarray,
    weigh: WeighFn,
    unknown_in_question: frozenset[str],
) -> bool:
    """Same-language support: the source's rare words, or fewer of them and closeness."""
    cosine = _closest(chunk_vectors, sentence_vector)
    terms = weigh(keyword_tokens(strip_markers(sentence)))
    lexical = terms.coverage(source_terms)
    if lexical >= LEXICAL_SUPPORT:
        return True
    if terms.absent & unknown_in_question:
        return False
    return lexical >= LEXICAL_WITH_COSINE and cosine >= COSINE_SUPPORT


def _tidy(text: str) -> str:
    return re.sub(r"\n{3,}", "\n\n", text).strip()
