from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from askwiki import query_terms
from askwiki.bilingual_dictionary import BilingualDictionary, bilingual_dictionary
from askwiki.retrieval import Retriever
from askwiki.retrieval_options import RetrievalOptions
from askwiki.store.index import WikiIndex, open_index
from askwiki.testing.fake_embedder import fake_embedder
from tests.support.index_builder import WIKI_PAGES, build_index

OPTIONS = RetrievalOptions(min_dense_score=-1.0, cross_language=True, bilingual_dictionary=True)


class CountingDictionary:
    """The installed dictionary, counting the questions it is asked to translate."""

    def __init__(self, inner: BilingualDictionary) -> None:
        self.inner = inner
        self.asked: list[str] = []

    def synonyms(
        self, query: str, frequency: Callable[[list[str]], Mapping[str, int]] | None = None
    ) -> dict[str, frozenset[str]]:
        self.asked.append(query)
        return self.inner.synonyms(query, frequency)


@pytest.fixture
def index(tmp_path: Path) -> Iterator[WikiIndex]:
    build_index(tmp_path / "ix", WIKI_PAGES, fake_embedder())
    opened = open_index(tmp_path / "ix")
    yield opened
    opened.close()


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch) -> CountingDictionary:
    dictionary = CountingDictionary(bilingual_dictionary())
    monkeypatch.setattr(query_terms, "bilingual_dictionary", lambda: dictionary)
    return dictionary


def test_a_search_looks_its_question_up_in_the_dictionary_once(
    index: WikiIndex, counting: CountingDictionary
) -> None:
    # The keyword leg and the floor both need the translations: one look-up serves both.
    result = Retriever(index, fake_embedder(), OPTIONS).search("What does the temperature do?", 3)
    assert result.passages
    assert counting.asked == ["What does the temperature do?"]


def test_a_search_with_the_llms_translation_leaves_the_dictionary_out(
    index: WikiIndex, counting: CountingDictionary
) -> None:
    retriever = Retriever(index, fake_embedder(), OPTIONS)
    retriever.search("What does the temperature do?", 3, translation="温度有什么作用？")
    assert counting.asked == []


def test_keywords_and_weights_count_the_same_translations(index: WikiIndex) -> None:
    terms = query_terms.QueryTerms(index, OPTIONS)
    question = "What does the temperature do?"
    keywords = terms.keywords(question)
    assert "温度" in keywords  # CC-CEDICT's translation, which one page holds
    weights = terms.weights(question)
    assert "temperature" not in weights.absent  # found through its translation
    plain = terms.without_dictionary()
    assert "温度" not in plain.keywords(question)
    assert plain.without_dictionary() is plain
