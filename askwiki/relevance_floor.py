"""The relevance floor: which retrieved passages are about the question at all.

Cosine alone cannot tell an off-topic question from a real one: multilingual-e5 scores
Chinese pairs ~0.05 higher than English ones, so an unrelated Chinese Wikipedia question
reaches 0.86-0.88 against another Chinese corpus while a real English question's best page
can sit at 0.83. Keyword coverage separates them, once weighted by rarity: "知识蒸馏是什么？"
finds "知识" in every page of an AI wiki, never "蒸馏". ``bench/floor.py`` measures the trade
and chose the defaults.
"""

from __future__ import annotations

import logging
import math

from askwiki.evidence import TermWeights
from askwiki.passages import Passage, page_key
from askwiki.query_terms import QueryTerms
from askwiki.retrieval_options import RetrievalOptions
from askwiki.standout import page_standout, pages_standing_out, standing_out
from askwiki.store.index import WikiIndex
from askwiki.text import Language, detect_language, keyword_tokens

logger = logging.getLogger(__name__)


class RelevanceFloor:
    """Judges candidates of one index version against a question; safe to share."""

    def __init__(self, index: WikiIndex, options: RetrievalOptions, terms: QueryTerms) -> None:
        self.index = index
        self.options = options
        self.terms = terms

    def with_terms(self, terms: QueryTerms) -> RelevanceFloor:
        return self if terms is self.terms else RelevanceFloor(self.index, self.options, terms)

    def passing(
        self, query: str, candidates: list[Passage], translated_from: str | None = None
    ) -> list[Passage]:
        """The candidates that pass the floor for ``query``; ``translated_from`` is the
        question when ``query`` is the LLM's translation of it."""
        opts = self.options
        terms = self.terms.weights(query)
        # The reader's own words, when ``query`` is the model's translation of them.
        own = self.terms.weights(translated_from) if translated_from is not None else None
        absent = self.absent_share(query, terms, translated_from, own)
        # A cosine floor of -1 lets every passage through: the floor is off, this check too.
        if absent > opts.max_absent_share and opts.min_dense_score > -1.0:
            # The terms are the reader's words: not at INFO (ASKWIKI_LOG_QUESTIONS).
            logger.info(
                "No relevant page: %.0f%% of the question's terms are in no chunk", absent * 100
            )
            logger.debug("Terms in no chunk: %s", ", ".join(sorted(terms.absent)))
            return []
        language = detect_language(query)
        # A passage in the translation's language may still write the reader's own words
        # (重叠（overlap）): its coverage is the better of the two.
        reader = own if opts.translated_reader_words else None
        passing = [p for p in candidates if self._relevant(p, terms, language, reader)]
        if translated_from is not None and opts.translated_page_lead > 0:
            kept = {p.row_id for p in passing}
            kept |= self._leading_pages(candidates, language, opts.translated_page_lead)
            passing = [p for p in candidates if p.row_id in kept]
        return self._standing_out(passing, candidates, language)

    def absent_share(
        self,
        query: str,
        terms: TermWeights,
        translated_from: str | None = None,
        own: TermWeights | None = None,
    ) -> float:
        """Share of the question's IDF mass carried by words no chunk holds; ``terms`` are
        ``query``'s weights, ``own`` those of ``translated_from`` (the reader's question when
        ``query`` is the LLM's translation of it)."""
        # Judged on the question's own words: glossary translations the wiki does contain
        # would otherwise dilute the weight of a concept it never mentions.
        absent = terms.absent_share(keyword_tokens(query))
        if translated_from is not None and own is not None:
            # A translation's words are the model's ("the middle man problem" for 迷失在中间):
            # words of it no chunk holds refuse it only if the reader's own words are also
            # missing, as they are for a concept the wiki lacks in both languages (联邦学习).
            absent = min(absent, own.absent_share(keyword_tokens(translated_from)))
        return absent

    def cosine(self, passage: Passage, language: Language) -> float:
        """The cosine the floor judges: cross-language pairs get the index's offset."""
        if not self.terms.crossing:
            return passage.dense_score
        return passage.dense_score + self.index.languages.offset(language, passage.row_id)

    def _relevant(
        self,
        passage: Passage,
        terms: TermWeights,
        language: Language,
        reader: TermWeights | None = None,
    ) -> bool:
        """Similar enough alone, or similar and on-topic in words.

        A passage in the other language is judged on the same footing: its cosine gets the
        index's cross-language offset, and the question's keywords include their glossary
        translations (names, numbers and Latin terms match as they are). ``reader`` are the
        reader's own words when ``terms`` are the LLM translation's: the better coverage
        counts.
        """
        dense = self.cosine(passage, language)
        if dense >= self.options.min_dense_score:
            return True  # skips the keyword tokenizing below
        words = keyword_tokens(passage.chunk.search_text)
        covered = terms.coverage(words)
        if reader is not None:
            covered = max(covered, reader.coverage(words))
        return passes_floor(self.options, dense, covered)

    def _leading_pages(
        self, candidates: list[Passage], language: Language, margin: float
    ) -> set[int]:
        """The candidates whose page's best cosine leads the best other pages' by
        ``margin`` (``standout.page_standout``). Candidates all of one page lead nothing
        here: a wiki with one page in the translation's language would pass it for any
        question."""
        cosines = {p.row_id: self.cosine(p, language) for p in candidates}
        pages = {p.row_id: page_key(p.chunk) for p in candidates}
        leads = page_standout(cosines, pages)
        return {row for row, lead in leads.items() if margin <= lead < math.inf}

    def _standing_out(
        self, passing: list[Passage], candidates: list[Passage], language: Language
    ) -> list[Passage]:
        """The passing passages that stand out from the candidates (``askwiki/standout.py``):
        their cosine exceeds the candidates' mean by ``min_standout``, and their page's
        best cosine the best other pages' mean by ``min_page_standout`` (each rule at 0:
        off)."""
        opts = self.options
        if (opts.min_standout <= 0 and opts.min_page_standout <= 0) or not passing:
            return passing
        cosines = {p.row_id: self.cosine(p, language) for p in candidates}
        leaders: set[int] = set(cosines)
        if opts.min_standout > 0:
            chunks: set[int] = standing_out(cosines, opts.min_standout)
            leaders &= chunks
        if opts.min_page_standout > 0:
            pages = {p.row_id: page_key(p.chunk) for p in candidates}
            on_pages: set[int] = pages_standing_out(cosines, pages, opts.min_page_standout)
            leaders &= on_pages
        return [p for p in passing if p.row_id in leaders]


def passes_floor(opts: RetrievalOptions, dense_score: float, coverage: float) -> bool:
    """The relevance floor on a passage's cosine and its keyword coverage (0-1).

    ``RelevanceFloor`` passes the IDF-weighted coverage (``TermWeights.coverage``).
    """
    if dense_score >= opts.min_dense_score:
        return True
    return dense_score + opts.keyword_weight * coverage >= opts.min_hybrid_score
