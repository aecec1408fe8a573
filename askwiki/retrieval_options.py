"""The knobs of a search, and their values from the settings."""

from __future__ import annotations

from dataclasses import dataclass

from askwiki.settings import Settings


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
    # Searched with its translation, a passage is also ranked by the question's and the
    # translation's words its headings hold, a leg of this weight (``heading_leg``; 0: off).
    heading_weight: float = 1.0
    # A passage judged against the translation also passes the hybrid rule on the reader's
    # own words: pages in the other language write them in headings (重叠（overlap）).
    translated_reader_words: bool = True


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
