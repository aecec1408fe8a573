"""The relevance floor on the translated form of a question (ASKWIKI_TRANSLATE_QUESTIONS)."""

from pathlib import Path

import pytest

from askwiki.embedding.embedder import Embedder
from askwiki.retrieval import Retriever
from askwiki.retrieval_options import RetrievalOptions
from askwiki.store.index import open_index
from askwiki.testing.fake_embedder import fake_embedder
from tests.support.index_builder import WIKI_PAGES, build_index
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
