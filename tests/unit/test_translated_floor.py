"""The relevance floor on the translated form of a question (ASKWIKI_TRANSLATE_QUESTIONS)."""

from dataclasses import replace
from pathlib import Path

import pytest

from askwiki.documents import Document
from askwiki.embedding.embedder import Embedder
from askwiki.retrieval import Retriever
from askwiki.retrieval_options import RetrievalOptions
from askwiki.store.index import open_index
from askwiki.testing.fake_embedder import fake_embedder
from tests.support.index_builder import WIKI_PAGES, build_index, page
from tests.unit.test_standout import TopicModel

# Fake cosines are near 0 and random: keyword coverage alone decides (no page-lead rule).
KEYWORDS_DECIDE = RetrievalOptions(
    min_dense_score=0.99, keyword_weight=10.0, min_hybrid_score=3.0, translated_page_lead=0.0
)
# The BM25 page's words, and two the wiki never holds (a loose translation's).
LOOSE = "Which zorblax quuxes BM25 saturation parameters?"
# The reader's question: every word of it is in the wiki.
QUESTION = "BM25 的参数是什么？"


def keyword_retriever(tmp_path: Path, options: RetrievalOptions) -> Retriever:
    embedder = fake_embedder()
    build_index(tmp_path / "ix", WIKI_PAGES, embedder)
    return Retriever(open_index(tmp_path / "ix"), embedder, options)


def test_words_of_the_translation_no_chunk_holds_do_not_refuse_it(tmp_path: Path) -> None:
    retriever = keyword_retriever(tmp_path, KEYWORDS_DECIDE)
    assert retriever.terms.weights(LOOSE).absent_share() > KEYWORDS_DECIDE.max_absent_share
    assert retriever.terms.weights(QUESTION).absent_share() == 0
    result = retriever.search(QUESTION, 5, translation=LOOSE)
    assert result.relevant and result.passages[0].chunk.doc_id == "retrieval/bm25.md"


def test_the_absent_word_check_still_judges_the_readers_own_words(tmp_path: Path) -> None:
    retriever = keyword_retriever(tmp_path, KEYWORDS_DECIDE)
    assert not retriever.search(LOOSE, 5).relevant
    translated = retriever.search(LOOSE, 5, translation="饱和度由哪个参数控制？")
    languages = retriever.index.languages.languages
    assert all(languages[p.row_id] == "zh" for p in translated.passages)


def test_a_translation_is_refused_for_absent_words_the_readers_lack_too(tmp_path: Path) -> None:
    retriever = keyword_retriever(tmp_path, KEYWORDS_DECIDE)
    question = "zorblax 和 quux 是什么？"
    assert retriever.terms.weights(question).absent_share() > KEYWORDS_DECIDE.max_absent_share
    assert not retriever.search(question, 5, translation=LOOSE).relevant


def topic_retriever(tmp_path: Path, lead: float) -> Retriever:
    """Cosine 1 on the question's topic page, 0 elsewhere; the cosine and keyword floor
    refuse everything, so only the page-lead rule can pass a passage."""
    embedder = Embedder("topic-embedding", TopicModel(8))
    build_index(tmp_path / "ix", WIKI_PAGES, embedder)
    options = RetrievalOptions(min_dense_score=2.0, min_hybrid_score=9.0, translated_page_lead=lead)
    return Retriever(open_index(tmp_path / "ix"), embedder, options)


def test_a_page_leading_for_the_translation_passes(tmp_path: Path) -> None:
    result = topic_retriever(tmp_path, 0.3).search(
        "它冻结了什么？", translation="What does LoRA freeze?"
    )
    assert result.relevant
    assert {p.chunk.doc_id for p in result.passages} == {"models/lora.md"}


@pytest.mark.parametrize(
    ("question", "translation"),
    [
        # The lead rule is for the translation: the reader's own words meet the floor.
        ("What does LoRA freeze?", None),
        ("What does LoRA freeze?", "它冻结了什么？"),
    ],
)
def test_the_question_itself_gets_no_lead_rule(
    tmp_path: Path, question: str, translation: str | None
) -> None:
    assert not topic_retriever(tmp_path, 0.3).search(question, translation=translation).relevant


def test_with_the_lead_rule_off_the_translation_meets_the_floor_alone(tmp_path: Path) -> None:
    result = topic_retriever(tmp_path, 0.0).search(
        "它冻结了什么？", translation="What does LoRA freeze?"
    )
    assert not result.relevant


# A Chinese page that writes the English term in its headings, and English pages around it.
HEADED_PAGES = [
    *WIKI_PAGES,
    page(
        "rag/chunking.md",
        "文本切分（Chunking）",
        "## 重叠（Overlap）\n相邻的片段共享一两句话，答案就不会被切断在边界上。",
    ),
    page(
        "rag/overview.md",
        "Retrieval-Augmented Generation",
        "## Overview\nThe retriever finds passages, then the model answers from them.",
    ),
]
READER = "Why should chunks overlap?"
# A loose translation: none of its words is in the page (分块 for 切分, 交叠 for 重叠).
LOOSE_ZH = "为什么分块应该交叠？"


def headed_retriever(
    tmp_path: Path, pages: list[Document] = HEADED_PAGES, **options: object
) -> Retriever:
    embedder = fake_embedder()
    build_index(tmp_path / "ix", pages, embedder)
    return Retriever(
        open_index(tmp_path / "ix"),
        embedder,
        replace(KEYWORDS_DECIDE, **{"heading_weight": 0.0, **options}),  # type: ignore[arg-type]
    )


def test_a_passage_holding_the_readers_own_words_passes_against_a_loose_translation(
    tmp_path: Path,
) -> None:
    retriever = headed_retriever(tmp_path)
    result = retriever.search(READER, 5, translation=LOOSE_ZH)
    assert result.relevant and result.passages[0].chunk.doc_id == "rag/chunking.md"


def test_with_the_reader_words_rule_off_the_loose_translation_is_refused(tmp_path: Path) -> None:
    retriever = headed_retriever(tmp_path, translated_reader_words=False)
    assert not retriever.search(READER, 5, translation=LOOSE_ZH).relevant


def test_the_heading_leg_ranks_the_page_whose_heading_names_the_question_first(
    tmp_path: Path,
) -> None:
    # An English page whose body, not its heading, holds the reader's words: first in the
    # English form's BM25 leg, which the loose translation's leg cannot match in Chinese.
    faq = page("faq.md", "FAQ", "Chunks overlap so that no answer is cut at a chunk boundary.")
    plain = headed_retriever(tmp_path / "plain", [*HEADED_PAGES, faq])
    assert plain.search(READER, 5, translation=LOOSE_ZH).candidates[0].chunk.doc_id == "faq.md"
    # A weight that outruns the other legs: only headings decide.
    headed = headed_retriever(tmp_path / "headed", [*HEADED_PAGES, faq], heading_weight=100.0)
    result = headed.search(READER, 5, translation=LOOSE_ZH)
    assert result.candidates[0].chunk.doc_id == "rag/chunking.md"
