"""Hybrid retrieval: FAISS dense leg + BM25 keyword leg, fused by reciprocal rank."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np
import numpy.typing as npt

from askwiki.embedding.embedder import Embedder
from askwiki.evidence import term_weights
from askwiki.heading_leg import (
    fuse_heading_ranks,
    heading_ranks,
    heading_tokens,
    heading_weights,
)
from askwiki.language_legs import LanguageRanking, QueryForm, rank_by_language
from askwiki.passages import Passage, best_per_page, chunk_passage, merge_neighbours
from askwiki.query_terms import QueryTerms
from askwiki.relevance_floor import RelevanceFloor
from askwiki.retrieval_options import RetrievalOptions
from askwiki.store.dense import search_dense
from askwiki.store.docstore import StoredChunk
from askwiki.store.index import WikiIndex
from askwiki.text import detect_language, keyword_tokens

# Pages offered when nothing passes the floor: of the 45 GitLab Handbook questions the floor
# refuses, 40 have the answer's page among these (bench/answers.py --retrieval-only).
CLOSEST_PAGES = 3


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

    def refused(self) -> RetrievalResult:
        """This search with nothing passing: its closest pages offered, as the floor does."""
        closest = closest_pages(self.candidates or self.passages)
        return replace(self, passages=[], relevant=False, closest=closest)


def closest_pages(candidates: list[Passage]) -> list[Passage]:
    """The best candidate of each of the first ``CLOSEST_PAGES`` pages: a refusal's offer."""
    return best_per_page(candidates)[:CLOSEST_PAGES]


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
        self.terms = QueryTerms(index, options)
        self.floor = RelevanceFloor(index, options, self.terms)

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
            candidates, passages = self._search_by_language(forms, max(k * 3, k))
            searched = time.perf_counter()
        else:
            per_query = self._ranked(queries, max(k * 3, k))
            searched = time.perf_counter()
            candidates = per_query[0]
            relevant: dict[int, Passage] = {}
            for (text, _), ranked in zip(queries, per_query, strict=True):
                for passage in self.floor.passing(text, ranked):
                    kept = relevant.get(passage.row_id)
                    if kept is None or passage.dense_score > kept.dense_score:
                        relevant[passage.row_id] = passage
            # In fused order; a passage keeps the cosine of the query it passed best with.
            passages = [relevant[p.row_id] for p in candidates if p.row_id in relevant]
        best = max((p.dense_score for p in candidates), default=0.0)
        closest = [] if passages else closest_pages(candidates)
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
        # Each passage meets the question in its own language: nothing to translate.
        terms = self.terms.without_dictionary()
        ranking = rank_by_language(
            forms,
            self.index.languages.languages,
            lambda vector, k: search_dense(self.index.dense, vector, k),
            lambda text, k: self.index.keyword.search_tokens(terms.keywords(text), k),
            opts.candidates,
            (opts.dense_weight, opts.bm25_weight),
            opts.rrf_k,
        )
        read: dict[int, StoredChunk] = {}
        if opts.heading_weight > 0:
            read = self._fuse_headings(forms, ranking)
        ranked = ranking.order[:limit]
        # The heading leg has read the chunks it ranked: fetch only the others.
        stored_chunks = read | self.index.docstore.chunks_by_rows(
            [r for r in ranked if r not in read]
        )
        candidates: list[Passage] = []
        for row_id in ranked:
            if row_id not in stored_chunks:
                continue
            cosine = ranking.cosines.get(row_id)
            if cosine is None:
                cosine = self._stored_cosine(row_id, forms[ranking.owner[row_id]].vector)
            candidates.append(
                chunk_passage(
                    stored_chunks[row_id].chunk,
                    row_id,
                    ranking.fused[row_id],
                    cosine,
                    ranking.bm25.get(row_id),
                )
            )
        floor = self.floor.with_terms(terms)
        passing: set[int] = set()
        for i, form in enumerate(forms):
            own = [p for p in candidates if ranking.owner[p.row_id] == i]
            translated_from = forms[0].text if i > 0 else None
            passing.update(p.row_id for p in floor.passing(form.text, own, translated_from))
        return candidates, [p for p in candidates if p.row_id in passing]

    def _fuse_headings(
        self, forms: list[QueryForm], ranking: LanguageRanking
    ) -> dict[int, StoredChunk]:
        """Fuse the heading leg (``heading_leg``) over the best ``candidates`` of ``ranking``:
        both forms' keywords, weighted by rarity, against each passage's heading path.
        Returns the chunks it read."""
        opts = self.options
        pool = ranking.order[: opts.candidates]
        stored = self.index.docstore.chunks_by_rows(pool)
        keyword = self.index.keyword
        words = [t for form in forms for t in keyword_tokens(form.text)]
        terms = term_weights(words, keyword.document_frequency, len(keyword))
        headings = {r: heading_tokens(stored[r].chunk.section) for r in pool if r in stored}
        ranks = heading_ranks(heading_weights(terms.weights, headings))
        fuse_heading_ranks(ranking, ranks, opts.heading_weight, opts.rrf_k)
        return stored

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
                chunk_passage(stored_chunks[r].chunk, r, fused[r], scores[r], bm25_scores.get(r))
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
        if self.terms.crossing:
            dense = self._calibrated_dense(query, vector)
            keyword = self.index.keyword.search_tokens(self.terms.keywords(query), opts.candidates)
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
        if self.terms.crossing:
            keyword_ranks = self.index.languages.ranks_within_language(keyword)
        fused: dict[int, float] = {}
        for weight, ranks in (
            (opts.dense_weight, _ranks(dense)),
            (opts.bm25_weight, keyword_ranks),
        ):
            for row_id, rank in ranks:
                fused[row_id] = fused.get(row_id, 0.0) + weight / (opts.rrf_k + rank)
        return fused

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


def _ranks(ranking: list[tuple[int, float]]) -> list[tuple[int, int]]:
    return [(row_id, rank) for rank, (row_id, _) in enumerate(ranking, start=1)]
