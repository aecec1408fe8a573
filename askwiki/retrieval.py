"""Hybrid retrieval: FAISS dense leg + BM25 keyword leg, fused by reciprocal rank."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np
import numpy.typing as npt

from askwiki.bilingual_dictionary import bilingual_dictionary, translated_term_weights
from askwiki.documents import Chunk
from askwiki.embedding.embedder import Embedder
from askwiki.evidence import TermWeights, term_weights
from askwiki.language_legs import QueryForm, rank_by_language
from askwiki.settings import Settings
from askwiki.standout import page_standout, pages_standing_out, standing_out
from askwiki.store.dense import search_dense
from askwiki.store.index import WikiIndex
from askwiki.text import Language, detect_language, keyword_tokens

logger = logging.getLogger(__name__)

# Shorter shared edges are coincidence ("." then "."), not the splitter's overlap.
MIN_OVERLAP_CHARS = 8
# Pages offered when nothing passes the floor: of the 45 GitLab Handbook questions the floor
# refuses, 40 have the answer's page among these (bench/answers.py --retrieval-only).
CLOSEST_PAGES = 3


@dataclass(frozen=True)
class RetrievalOptions:
    """Knobs of one search; defaults come from ``Settings``."""

    top_k: int = 5
    candidates: int = 40
    rrf_k: int = 60
    dense_weight: float = 1.0
    bm25_weight: float = 1.0
    min_dense_score: float = 0.91
    keyword_weight: float = 0.25
    min_hybrid_score: float = 0.95
    # Refuse when keywords no chunk contains carry more than this share of the question's
    # IDF mass (>= 1 turns the check off).
    max_absent_share: float = 0.5
    # Opt-in: a passage must also exceed the mean cosine of the candidates by this (0: off).
    min_standout: float = 0.0
    # Opt-in: a passage's page must lead the best other pages by this (0: off).
    min_page_standout: float = 0.0
    cross_language: bool = False
    # The LLM's translation of a question (``language_legs``) holds the model's words, not
    # the reader's: a passage judged against it also passes when its page leads the best
    # other pages by this (0: off). bench/floor.py --translate and
    # bench/example_cross_language.py chose it.
    translated_page_lead: float = 0.035
    # With cross_language: the question's keywords also get their CC-CEDICT translations.
    bilingual_dictionary: bool = False


@dataclass(frozen=True)
class Passage:
    """A retrieved passage (one chunk, or neighbouring chunks of a section merged).

    ``row_id`` is the first chunk's row; ``row_ids`` and ``chunk_ids`` list every chunk.
    """

    chunk: Chunk
    row_id: int
    score: float
    dense_score: float
    bm25_score: float | None
    chunk_ids: tuple[str, ...]
    row_ids: tuple[int, ...]

    @property
    def id(self) -> str:
        return self.chunk.chunk_id


@dataclass
class RetrievalResult:
    """Passages best first, and whether any passed the relevance floor.

    ``closest`` is only filled when none did: the best candidate of each of the first
    ``CLOSEST_PAGES`` pages, for readers to look at themselves (never for the LLM).
    ``candidates`` are the fused candidates the floor judged, best first (for diagnostics).
    """

    query: str
    passages: list[Passage]
    relevant: bool
    best_dense_score: float
    timings_ms: dict[str, float] = field(default_factory=dict)
    closest: list[Passage] = field(default_factory=list)
    candidates: list[Passage] = field(default_factory=list)


def retrieval_options(settings: Settings) -> RetrievalOptions:
    return RetrievalOptions(
        top_k=settings.top_k,
        candidates=settings.candidates,
        rrf_k=settings.rrf_k,
        dense_weight=settings.dense_weight,
        bm25_weight=settings.bm25_weight,
        min_dense_score=settings.min_dense_score,
        keyword_weight=settings.keyword_weight,
        min_hybrid_score=settings.min_hybrid_score,
        max_absent_share=settings.max_absent_share,
        min_standout=settings.min_standout,
        min_page_standout=settings.min_page_standout,
        cross_language=settings.cross_language,
        bilingual_dictionary=settings.bilingual_dictionary,
    )


class Reranker(Protocol):
    """An optional second stage; none ships offline, so the default is to skip it."""

    def rerank(self, query: str, passages: list[Passage]) -> list[Passage]: ...


class Retriever:
    """Searches one loaded index version; cheap to create, safe to share across threads."""

    def __init__(
        self,
        index: WikiIndex,
        embedder: Embedder,
        options: RetrievalOptions,
        reranker: Reranker | None = None,
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.options = options
        self.reranker = reranker

    def search(
        self,
        query: str,
        top_k: int | None = None,
        query_vector: np.ndarray | None = None,
        translation: str | None = None,
    ) -> RetrievalResult:
        """Best ``top_k`` passages for ``query``; irrelevant ones are filtered out.

        ``query_vector`` is the query already embedded by the caller (the answer cache
        embeds every question first), so it is not encoded twice. ``translation`` is the
        query in the wiki's other language (``answering.translation``): where the index
        knows each chunk's language, every passage is ranked and judged against the form
        of the question in its own language (``language_legs``); otherwise both queries'
        legs are fused into one ranking and a passage passes the floor for either.
        """
        opts = self.options
        k = top_k or opts.top_k
        started = time.perf_counter()
        queries = self._embedded(query, query_vector, translation)
        embedded = time.perf_counter()
        forms = self._forms(queries)
        if forms is not None:
            # Each passage meets the question in its own language: nothing to translate.
            by_language = self
            if opts.bilingual_dictionary:
                untranslated = replace(opts, bilingual_dictionary=False)
                by_language = Retriever(self.index, self.embedder, untranslated, self.reranker)
            candidates, passages = by_language._search_by_language(forms, max(k * 3, k))
            searched = time.perf_counter()
        else:
            per_query = self._ranked(queries, max(k * 3, k))
            searched = time.perf_counter()
            candidates = per_query[0]
            relevant: dict[int, Passage] = {}
            for (text, _), ranked in zip(queries, per_query, strict=True):
                for passage in self._passing(text, ranked):
                    kept = relevant.get(passage.row_id)
                    if kept is None or passage.dense_score > kept.dense_score:
                        relevant[passage.row_id] = passage
            # In fused order; a passage keeps the cosine of the query it passed best with.
            passages = [relevant[p.row_id] for p in candidates if p.row_id in relevant]
        best = max((p.dense_score for p in candidates), default=0.0)
        closest = [] if passages else best_per_page(candidates)[:CLOSEST_PAGES]
        if self.reranker is not None and passages:
            passages = self.reranker.rerank(query, passages)
        passages = merge_neighbours(passages)[:k]
        finished = time.perf_counter()
        return RetrievalResult(
            query=query,
            passages=passages,
            relevant=bool(passages),
            best_dense_score=best,
            timings_ms={
                "embed_ms": (embedded - started) * 1000,
                "search_ms": (searched - embedded) * 1000,
                "total_ms": (finished - started) * 1000,
            },
            closest=closest,
            candidates=candidates,
        )

    def _embedded(
        self, query: str, vector: np.ndarray | None, translation: str | None
    ) -> list[tuple[str, np.ndarray]]:
        """The query and its translation with their vectors, encoded in one call."""
        texts = [query] + ([translation] if translation else [])
        if vector is None:
            vectors = list(self.embedder.embed_queries(texts))
        else:
            vectors = [vector] + (
                list(self.embedder.embed_queries(texts[1:])) if translation else []
            )
        return list(zip(texts, vectors, strict=True))

    def _forms(self, queries: list[tuple[str, np.ndarray]]) -> list[QueryForm] | None:
        """The query and its translation as language forms, when the index knows each
        chunk's language and the two are in different languages (else None)."""
        if len(queries) < 2 or not self.index.languages.languages:
            return None
        forms = [QueryForm(text, vector, detect_language(text)) for text, vector in queries]
        return forms if len({f.language for f in forms}) == len(forms) else None

    def _search_by_language(
        self, forms: list[QueryForm], limit: int
    ) -> tuple[list[Passage], list[Passage]]:
        """Candidates in fused order and those passing the floor, every passage scored and
        judged against the form of the query in its own language (``language_legs``)."""
        opts = self.options
        ranking = rank_by_language(
            forms,
            self.index.languages.languages,
            lambda vector, k: search_dense(self.index.dense, vector, k),
            lambda text, k: self.index.keyword.search_tokens(self._query_keywords(text), k),
            opts.candidates,
            (opts.dense_weight, opts.bm25_weight),
            opts.rrf_k,
        )
        ranked = ranking.order[:limit]
        stored_chunks = self.index.docstore.chunks_by_rows(ranked)
        candidates: list[Passage] = []
        for row_id in ranked:
            if row_id not in stored_chunks:
                continue
            cosine = ranking.cosines.get(row_id)
            if cosine is None:
                cosine = self._stored_cosine(row_id, forms[ranking.owner[row_id]].vector)
            candidates.append(
                _passage(
                    stored_chunks[row_id].chunk,
                    row_id,
                    ranking.fused[row_id],
                    cosine,
                    ranking.bm25.get(row_id),
                )
            )
        return candidates, self._passing_by_language(forms, candidates, ranking.owner)

    def _passing_by_language(
        self, forms: list[QueryForm], candidates: list[Passage], owner: dict[int, int]
    ) -> list[Passage]:
        """The candidates passing the floor for the form of the query in their language."""
        passing: set[int] = set()
        for i, form in enumerate(forms):
            own = [p for p in candidates if owner[p.row_id] == i]
            translated_from = forms[0].text if i > 0 else None
            passing.update(p.row_id for p in self._passing(form.text, own, translated_from))
        return [p for p in candidates if p.row_id in passing]

    def _passing(
        self, query: str, candidates: list[Passage], translated_from: str | None = None
    ) -> list[Passage]:
        """The candidates that pass the relevance floor for ``query``; ``translated_from``
        is the question when ``query`` is the LLM's translation of it."""
        opts = self.options
        terms = self.term_weights(query)
        # Judged on the question's own words: glossary translations the wiki does contain
        # would otherwise dilute the weight of a concept it never mentions.
        absent = terms.absent_share(keyword_tokens(query))
        if translated_from is not None and absent > opts.max_absent_share:
            # A translation's words are the model's ("the middle man problem" for 迷失在中间):
            # words of it no chunk holds refuse it only if the reader's own words are also
            # missing, as they are for a concept the wiki lacks in both languages (联邦学习).
            own = self.term_weights(translated_from)
            absent = min(absent, own.absent_share(keyword_tokens(translated_from)))
        # A cosine floor of -1 lets every passage through: the floor is off, this check too.
        if absent > opts.max_absent_share and opts.min_dense_score > -1.0:
            # The terms are the reader's words: not at INFO (ASKWIKI_LOG_QUESTIONS).
            logger.info(
                "No relevant page: %.0f%% of the question's terms are in no chunk", absent * 100
            )
            logger.debug("Terms in no chunk: %s", ", ".join(sorted(terms.absent)))
            return []
        language = detect_language(query)
        passing = [p for p in candidates if self._relevant(p, terms, language)]
        if translated_from is not None and opts.translated_page_lead > 0:
            kept = {p.row_id for p in passing}
            kept |= self._leading_pages(candidates, language, opts.translated_page_lead)
            passing = [p for p in candidates if p.row_id in kept]
        return self._standing_out(passing, candidates, language)

    def _leading_pages(
        self, candidates: list[Passage], language: Language, margin: float
    ) -> set[int]:
        """The candidates whose page's best cosine leads the best other pages' by
        ``margin`` (``standout.page_standout``). Candidates all of one page lead nothing
        here: a wiki with one page in the translation's language would pass it for any
        question."""
        cosines = {p.row_id: self.floor_cosine(p, language) for p in candidates}
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
        cosines = {p.row_id: self.floor_cosine(p, language) for p in candidates}
        leaders: set[int] = set(cosines)
        if opts.min_standout > 0:
            chunks: set[int] = standing_out(cosines, opts.min_standout)
            leaders &= chunks
        if opts.min_page_standout > 0:
            pages = {p.row_id: page_key(p.chunk) for p in candidates}
            on_pages: set[int] = pages_standing_out(cosines, pages, opts.min_page_standout)
            leaders &= on_pages
        return [p for p in passing if p.row_id in leaders]

    def candidates(self, query: str, vector: np.ndarray, limit: int) -> list[Passage]:
        """The ``limit`` best chunks by fused rank, before the relevance floor and merging."""
        return self._ranked([(query, vector)], limit)[0]

    def _ranked(self, queries: Sequence[tuple[str, np.ndarray]], limit: int) -> list[list[Passage]]:
        """The ``limit`` best chunks by rank fused over every query's dense and BM25 legs.

        One list per query, the same chunks in the same order, each with its cosine to
        that query (the floor judges each query on its own).
        """
        fused: dict[int, float] = {}
        dense_scores: list[dict[int, float]] = []
        bm25_scores: dict[int, float] = {}
        for query, vector in queries:
            dense, keyword = self._legs(query, vector)
            for row_id, score in keyword:
                bm25_scores[row_id] = max(score, bm25_scores.get(row_id, score))
            for row_id, score in self._fused(dense, keyword).items():
                fused[row_id] = fused.get(row_id, 0.0) + score
            dense_scores.append(dict(dense))
        ranked = sorted(fused, key=lambda r: fused[r], reverse=True)[:limit]
        for (_, vector), scores in zip(queries, dense_scores, strict=True):
            for row_id in ranked:
                if row_id not in scores:
                    scores[row_id] = self._stored_cosine(row_id, vector)
        stored_chunks = self.index.docstore.chunks_by_rows(ranked)
        return [
            [
                _passage(stored_chunks[r].chunk, r, fused[r], scores[r], bm25_scores.get(r))
                for r in ranked
                if r in stored_chunks
            ]
            for scores in dense_scores
        ]

    def _stored_cosine(self, row_id: int, vector: np.ndarray) -> float:
        """Cosine of a query to a chunk its dense leg did not return, from the stored vector."""
        stored = np.asarray(self.index.dense.reconstruct(row_id), dtype=np.float32)
        return float(stored @ vector)

    def _legs(
        self, query: str, vector: np.ndarray
    ) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
        """The dense and BM25 rankings of one query."""
        opts = self.options
        if self._crossing():
            dense = self._calibrated_dense(query, vector)
            keyword = self.index.keyword.search_tokens(self._query_keywords(query), opts.candidates)
        else:
            dense = search_dense(self.index.dense, vector, opts.candidates)
            keyword = self.index.keyword.search(query, opts.candidates)
        return dense, keyword

    def _fused(
        self, dense: list[tuple[int, float]], keyword: list[tuple[int, float]]
    ) -> dict[int, float]:
        """Reciprocal rank fusion of one query's two legs."""
        opts = self.options
        keyword_ranks = _ranks(keyword)
        if self._crossing():
            keyword_ranks = self.index.languages.ranks_within_language(keyword)
        fused: dict[int, float] = {}
        for weight, ranks in (
            (opts.dense_weight, _ranks(dense)),
            (opts.bm25_weight, keyword_ranks),
        ):
            for row_id, rank in ranks:
                fused[row_id] = fused.get(row_id, 0.0) + weight / (opts.rrf_k + rank)
        return fused

    def _crossing(self) -> bool:
        """Cross-language logic applies (versions built before it have no profile: off)."""
        return self.options.cross_language and bool(self.index.languages.languages)

    def _query_keywords(self, query: str) -> list[str]:
        if not self._crossing():
            return keyword_tokens(query)
        tokens = self.index.languages.expanded_keywords(query)
        if self.options.bilingual_dictionary:
            translated = bilingual_dictionary().translated_keywords(
                query, self.index.keyword.document_frequency
            )
            tokens.extend(t for t in translated if t not in tokens)
        return tokens

    def _calibrated_dense(self, query: str, vector: np.ndarray) -> list[tuple[int, float]]:
        """The dense leg ranked with cross-language cosines lifted by the index's offset.

        Twice the candidates are read so that a passage in the other language that the
        offset lifts into the first ``candidates`` is there to be lifted.
        """
        profile, language = self.index.languages, detect_language(query)
        raw = search_dense(self.index.dense, vector, self.options.candidates * 2)
        lifted = [(r, s + profile.offset(language, r)) for r, s in raw]
        lifted.sort(key=lambda item: item[1], reverse=True)
        return [(r, s - profile.offset(language, r)) for r, s in lifted[: self.options.candidates]]

    def stored_vectors(self, passages: Sequence[Passage]) -> list[npt.NDArray[np.float32]]:
        """Each passage's chunk vectors as indexed, shape (chunks, dim): nothing re-embedded."""
        dense = self.index.dense
        return [
            np.vstack([dense.reconstruct(row_id) for row_id in p.row_ids]).astype(np.float32)
            for p in passages
        ]

    def term_weights(self, query: str) -> TermWeights:
        """The query's keywords (glossary translations included) weighted by how rare they
        are among the index's chunks; a word the dictionary translates counts once, found
        in a passage holding it or one of its translations."""
        keyword = self.index.keyword
        if self._crossing() and self.options.bilingual_dictionary:
            return translated_term_weights(
                self.index.languages.expanded_keywords(query),
                bilingual_dictionary().synonyms(query, keyword.document_frequency),
                keyword.document_frequency,
                len(keyword),
            )
        return term_weights(self._query_keywords(query), keyword.document_frequency, len(keyword))

    def _relevant(self, passage: Passage, terms: TermWeights, language: Language) -> bool:
        """The relevance floor: similar enough alone, or similar and on-topic in words.

        Cosine alone cannot tell an off-topic question from a real one: multilingual-e5
        scores Chinese pairs ~0.05 higher than English ones, so an unrelated Chinese
        Wikipedia question reaches 0.86-0.88 against another Chinese corpus while a real
        English question's best page can sit at 0.83. Keyword coverage separates them, once
        weighted by rarity: "知识蒸馏是什么？" finds "知识" in every page of an AI wiki, never
        "蒸馏". ``bench/floor.py`` measures the trade and chose the defaults.

        A passage in the other language is judged on the same footing: its cosine gets the
        index's cross-language offset, and the question's keywords include their glossary
        translations (names, numbers and Latin terms match as they are).
        """
        opts = self.options
        dense = self.floor_cosine(passage, language)
        if dense >= opts.min_dense_score:
            return True  # skips the keyword tokenizing below
        coverage = terms.coverage(keyword_tokens(passage.chunk.search_text))
        return passes_floor(opts, dense, coverage)

    def floor_cosine(self, passage: Passage, language: Language) -> float:
        """The cosine the floor judges: cross-language pairs get the index's offset."""
        if not self._crossing():
            return passage.dense_score
        return passage.dense_score + self.index.languages.offset(language, passage.row_id)

    def query_keywords(self, query: str) -> set[str]:
        """The keywords the floor's coverage counts (glossary translations included)."""
        return set(self._query_keywords(query))


def _passage(chunk: Chunk, row_id: int, score: float, cosine: float, bm25: float | None) -> Passage:
    """A search result of one chunk, before neighbours are merged."""
    return Passage(
        chunk=chunk,
        row_id=row_id,
        score=score,
        dense_score=cosine,
        bm25_score=bm25,
        chunk_ids=(chunk.chunk_id,),
        row_ids=(row_id,),
    )


def page_key(chunk: Chunk) -> str:
    """The page a chunk belongs to for the page standout rule: its title (a wiki that holds
    an article as several pages, e.g. one per paragraph, shares it), else its page id."""
    return chunk.title or chunk.doc_id


def _ranks(ranking: list[tuple[int, float]]) -> list[tuple[int, int]]:
    return [(row_id, rank) for rank, (row_id, _) in enumerate(ranking, start=1)]


def passes_floor(opts: RetrievalOptions, dense_score: float, coverage: float) -> bool:
    """The relevance floor on a passage's cosine and its keyword coverage (0-1).

    ``Retriever`` passes the IDF-weighted coverage (``TermWeights.coverage``).
    """
    if dense_score >= opts.min_dense_score:
        return True
    return dense_score + opts.keyword_weight * coverage >= opts.min_hybrid_score


def keyword_coverage(query_keywords: set[str], passage: Passage) -> float:
    """Share of the question's keywords that occur in the passage (0 without keywords)."""
    if not query_keywords:
        return 0.0
    found = query_keywords & set(keyword_tokens(passage.chunk.search_text))
    return len(found) / len(query_keywords)


def best_per_page(passages: list[Passage]) -> list[Passage]:
    """The first passage of each document, in the given order."""
    seen: set[str] = set()
    firsts: list[Passage] = []
    for passage in passages:
        if passage.chunk.doc_id not in seen:
            seen.add(passage.chunk.doc_id)
            firsts.append(passage)
    return firsts


def merge_neighbours(passages: list[Passage]) -> list[Passage]:
    """Join passages that are consecutive chunks of the same section into one.

    The merged passage keeps the better rank, the first chunk's id and every chunk id.
    """
    merged: list[Passage] = []
    for passage in passages:
        for i, kept in enumerate(merged):
            joined = _join_if_adjacent(kept, passage)
            if joined is not None:
                merged[i] = joined
                break
        else:
            merged.append(passage)
    return merged


def _join_if_adjacent(a: Passage, b: Passage) -> Passage | None:
    if a.chunk.doc_id != b.chunk.doc_id or a.chunk.section != b.chunk.section:
        return None
    first, second = (a, b) if a.chunk.position < b.chunk.position else (b, a)
    span = first.chunk.position + len(first.chunk_ids)
    if second.chunk.position != span:
        return None
    text = append_without_overlap(first.chunk.text, second.chunk.text)
    chunk = replace(
        first.chunk,
        text=text,
        token_count=first.chunk.token_count + second.chunk.token_count,
    )
    return Passage(
        chunk=chunk,
        row_id=first.row_id,
        score=max(a.score, b.score),
        dense_score=max(a.dense_score, b.dense_score),
        bm25_score=max((s for s in (a.bm25_score, b.bm25_score) if s is not None), default=None),
        chunk_ids=first.chunk_ids + second.chunk_ids,
        row_ids=first.row_ids + second.row_ids,
    )


def append_without_overlap(left: str, right: str) -> str:
    """Chunks share their overlap sentences; do not repeat them when joining."""
    for size in range(min(len(left), len(right)), MIN_OVERLAP_CHARS - 1, -1):
        if left.endswith(right[:size]):
            return left + right[size:]
    separator = "" if left and right and ord(left[-1]) > 0x2E80 else " "
    return left + separator + right
