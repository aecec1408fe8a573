"""Cross-language retrieval: a bilingual glossary mined from the wiki and dense calibration.

multilingual-e5 scores a question against a passage in its own language about 0.05 higher
than against an equally relevant passage in the other language, and the BM25 leg cannot
match across languages at all. Both are corrected with what the index itself holds:

- a **language profile**: each chunk's language, and per query language the offset to add
  to a cross-language cosine, estimated at ingest time as the mean cosine between unrelated
  chunks of the same language minus that between unrelated chunks of different languages;
- a **glossary** of term pairs the wiki writes itself, such as 知识蒸馏（Knowledge
  Distillation） or Retrieval-Augmented Generation (检索增强生成), used to add the other
  language's keywords to the BM25 query and to the relevance floor's keyword coverage.

Both are saved in the index version (``crosslingual.json``) and recorded in its manifest.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import numpy.typing as npt
import rjieba

from askwiki.text import Language, detect_language, keyword_tokens, to_simplified

logger = logging.getLogger(__name__)

PROFILE_FILE = "crosslingual.json"
# Changes whenever mining or calibration changes what they produce.
PROFILE_VERSION = 1
# Below this many chunks of either language the wiki is taken as monolingual: no offsets.
MIN_CHUNKS_PER_LANGUAGE = 5
# Random pairs of chunks sampled to estimate the offsets (enough for ±0.005 on 384-d e5).
OFFSET_SAMPLE = 4000
# What a cross-language pair gets back when the index cannot measure it (a wiki in one
# language asked in the other). Measured with multilingual-e5-small: 0.038 (en) / 0.076 (zh)
# on examples/wiki, 0.048 / 0.122 on the corpus of bench/retrieval.py --cross-language.
DEFAULT_OFFSET = 0.05
# A Chinese term is at most this many jieba words before its parenthesised English.
MAX_ZH_WORDS = 3

_CJK = "\u3400-\u4dbf\u4e00-\u9fff"
# 知识蒸馏（Knowledge Distillation） / 知识蒸馏 (Knowledge Distillation, KD)
_ZH_THEN_EN = re.compile(
    rf"([{_CJK}]{{1,16}})\s*[（(]\s*(?:英语|英文|英語|English)?[:：]?\s*"
    rf"([A-Za-z][A-Za-z0-9 .,，;；'’/&+\-]{{0,80}}?)\s*[）)]"
)
# Retrieval-Augmented Generation (检索增强生成)
_EN_THEN_ZH = re.compile(
    rf"([A-Za-z][A-Za-z0-9.'\-]*(?:[ \-][A-Za-z0-9.'\-]+){{0,5}})\s*[（(]\s*([{_CJK}]{{2,12}})\s*[）)]"
)
_EN_PART = re.compile(r"^[A-Za-z][A-Za-z0-9 .'/&+\-]*$")


@dataclass
class LanguageProfile:
    """What the index knows about its languages: per-chunk language, offsets, glossary.

    ``offsets[lang]`` is added to the cosine of a passage not in ``lang`` for a question in
    ``lang``; ``glossary`` holds (Chinese, English) term pairs, Chinese in simplified form
    and English lowercased.
    """

    languages: dict[int, Language] = field(default_factory=dict)
    offsets: dict[str, float] = field(default_factory=dict)
    glossary: list[tuple[str, str]] = field(default_factory=list)

    @property
    def bilingual(self) -> bool:
        return bool(self.offsets)

    @cached_property
    def present(self) -> frozenset[Language]:
        """The languages of the index's chunks."""
        return frozenset(self.languages.values())

    def holds_other_than(self, language: Language) -> bool:
        """Whether some chunk is in another language than ``language``: a question in it
        meets those chunks on the same footing only through a translation."""
        return bool(self.present - {language})

    def language_of(self, row_id: int) -> Language | None:
        return self.languages.get(row_id)

    def offset(self, query_language: Language, row_id: int) -> float:
        """What to add to a passage's cosine so both languages compete on one scale."""
        passage_language = self.languages.get(row_id)
        if passage_language is None or passage_language == query_language:
            return 0.0
        return self.offsets.get(query_language, DEFAULT_OFFSET)

    def ranks_within_language(self, ranking: list[tuple[int, float]]) -> list[tuple[int, int]]:
        """BM25 ranks counted within each passage's language.

        Keywords match within a language (glossary terms, names and numbers aside), so a
        Chinese question's BM25 list is headed by Chinese passages however good the English
        ones are; ranked among their own language, the best passage of each language gets
        the same keyword credit and the calibrated dense leg decides between them.
        """
        seen: dict[str | None, int] = {}
        ranks: list[tuple[int, int]] = []
        for row_id, _ in ranking:
            language = self.languages.get(row_id)
            seen[language] = seen.get(language, 0) + 1
            ranks.append((row_id, seen[language]))
        return ranks

    def translations(self, query: str) -> list[str]:
        """Glossary terms of the other language for the terms the query contains."""
        text = to_simplified(query).lower()
        found: list[str] = []
        for zh, en in self.glossary:
            if zh in text and en not in found:
                found.append(en)
            elif _has_phrase(text, en) and zh not in found:
                found.append(zh)
        return found

    def expanded_keywords(self, query: str) -> list[str]:
        """The query's keyword tokens plus those of its glossary translations."""
        tokens = keyword_tokens(query)
        for term in self.translations(query):
            tokens.extend(t for t in keyword_tokens(term) if t not in tokens)
        return tokens

    def summary(self) -> dict[str, object]:
        """What the manifest records."""
        counts: dict[str, int] = {}
        for lang in self.languages.values():
            counts[lang] = counts.get(lang, 0) + 1
        return {
            "version": PROFILE_VERSION,
            "chunks_by_language": counts,
            "offsets": {k: round(v, 4) for k, v in self.offsets.items()},
            "glossary_terms": len(self.glossary),
        }

    def save(self, folder: Path) -> None:
        payload = {
            "version": PROFILE_VERSION,
            "offsets": self.offsets,
            "glossary": self.glossary,
            "rows": sorted(self.languages),
            "languages": "".join(
                "z" if self.languages[r] == "zh" else "e" for r in sorted(self.languages)
            ),
        }
        (folder / PROFILE_FILE).write_text(json.dumps(payload, ensure_ascii=False), "utf-8")

    @classmethod
    def load(cls, folder: Path) -> LanguageProfile:
        """The saved profile; an empty one (cross-language logic off) for older versions."""
        path = folder / PROFILE_FILE
        if not path.is_file():
            logger.info("%s has no %s: cross-language calibration off", folder, PROFILE_FILE)
            return cls()
        raw = json.loads(path.read_text("utf-8"))
        languages: dict[int, Language] = {
            int(r): ("zh" if c == "z" else "en")
            for r, c in zip(raw["rows"], raw["languages"], strict=True)
        }
        glossary = [(str(zh), str(en)) for zh, en in raw["glossary"]]
        return cls(languages, {str(k): float(v) for k, v in raw["offsets"].items()}, glossary)


def _has_phrase(text: str, phrase: str) -> bool:
    """``phrase`` occurs in ``text`` as whole words (English terms) or at all (Chinese)."""
    start = text.find(phrase)
    while start >= 0:
        end = start + len(phrase)
        before = text[start - 1] if start else " "
        after = text[end] if end < len(text) else " "
        if not (before.isascii() and before.isalnum()) and not (
            after.isascii() and after.isalnum()
        ):
            return True
        start = text.find(phrase, start + 1)
    return False


def mine_glossary(texts: Iterable[str]) -> list[tuple[str, str]]:
    """(Chinese, English) term pairs the texts write side by side, most frequent first.

    The Chinese side of 「…使用知识蒸馏（Knowledge Distillation）」 is ambiguous (where does
    the term start?), so each of its last one to ``MAX_ZH_WORDS`` jieba words is kept as a
    candidate: an over-long candidate never occurs in a question and costs nothing.
    """
    counts: dict[tuple[str, str], int] = {}
    for raw in texts:
        text = to_simplified(raw)
        for zh_run, en_run in _ZH_THEN_EN.findall(text):
            for en in _english_parts(en_run):
                for zh in _chinese_suffixes(zh_run):
                    counts[(zh, en)] = counts.get((zh, en), 0) + 1
        for en_run, zh in _EN_THEN_ZH.findall(text):
            for en in _english_suffixes(en_run):
                counts[(zh, en)] = counts.get((zh, en), 0) + 1
    return sorted(counts, key=lambda pair: (-counts[pair], pair))


def _english_parts(run: str) -> list[str]:
    """ "Reciprocal Rank Fusion，RRF" -> both; citations ("Wang 等人，2022") are not terms."""
    parts: list[str] = []
    for piece in re.split(r"[,，;；]", run):
        term = piece.strip().lower()
        if len(term) >= 2 and _EN_PART.match(term) and not term.isdigit() and keyword_tokens(term):
            parts.append(term)
    return parts


def _english_suffixes(run: str) -> list[str]:
    words = run.lower().split()
    return [
        " ".join(words[-n:])
        for n in range(1, min(len(words), 4) + 1)
        if keyword_tokens(" ".join(words[-n:]))
    ]


def _chinese_suffixes(run: str) -> list[str]:
    words = [w for w in rjieba.cut(run) if w.strip()]
    suffixes = ["".join(words[-n:]) for n in range(1, min(len(words), MAX_ZH_WORDS) + 1)]
    return [s for s in suffixes if len(s) >= 2 and keyword_tokens(s)]


def chunk_languages(rows: Iterable[tuple[int, str]]) -> dict[int, Language]:
    return {row_id: detect_language(text) for row_id, text in rows}


def estimate_offsets(
    row_ids: npt.NDArray[np.int64],
    vectors: npt.NDArray[np.float32],
    languages: dict[int, Language],
    seed: int = 13,
) -> dict[str, float]:
    """Per language L, mean cosine of random L-L chunk pairs minus that of L-other pairs.

    Random pairs are unrelated in content whatever their language, so the difference is
    the model's preference for its own language. Empty unless both languages are present.
    """
    by_language: dict[str, npt.NDArray[np.float32]] = {}
    for lang in ("zh", "en"):
        mask = np.array([languages.get(int(r)) == lang for r in row_ids], dtype=bool)
        by_language[lang] = vectors[mask] if len(row_ids) else vectors[:0]
    if min(len(v) for v in by_language.values()) < MIN_CHUNKS_PER_LANGUAGE:
        return {}
    rng = np.random.default_rng(seed)
    offsets: dict[str, float] = {}
    for lang, other in (("zh", "en"), ("en", "zh")):
        own = by_language[lang]
        same = _mean_pair_cosine(rng, own, own, distinct=True)
        cross = _mean_pair_cosine(rng, own, by_language[other], distinct=False)
        offsets[lang] = max(0.0, same - cross)
    return offsets


def _mean_pair_cosine(
    rng: np.random.Generator,
    left: npt.NDArray[np.float32],
    right: npt.NDArray[np.float32],
    distinct: bool,
) -> float:
    i = rng.integers(0, len(left), OFFSET_SAMPLE)
    j = rng.integers(0, len(right), OFFSET_SAMPLE)
    if distinct:
        keep = i != j
        i, j = i[keep], j[keep]
    return float(np.mean(np.sum(left[i] * right[j], axis=1)))


def build_profile(
    rows: Sequence[tuple[int, str]],
    row_ids: npt.NDArray[np.int64],
    vectors: npt.NDArray[np.float32],
) -> LanguageProfile:
    """The profile of one index version from its chunk texts and stored vectors."""
    languages = chunk_languages(rows)
    offsets = estimate_offsets(row_ids, vectors, languages)
    glossary = mine_glossary(text for _, text in rows)
    return LanguageProfile(languages, offsets, glossary)
