"""The opt-in standout rule of the relevance floor (ASKWIKI_MIN_STANDOUT)."""

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from askwiki.documents import Chunk
from askwiki.embedding.embedder import Embedder
from askwiki.passages import page_key
from askwiki.retrieval import Retriever
from askwiki.retrieval_options import RetrievalOptions
from askwiki.standout import page_standout, pages_standing_out, standing_out, standout
from askwiki.store.index import open_index
from askwiki.testing.fake_embedder import FakeSentenceModel
from tests.support.index_builder import WIKI_PAGES, build_index, page


def test_standout_is_each_score_minus_the_mean() -> None:
    assert standout([0.9, 0.8, 0.7]) == pytest.approx([0.1, 0.0, -0.1])
    assert standout([]) == []


@pytest.mark.parametrize(
    ("scores", "leaders"),
    [
        # Cosines of the kind bench/floor.py records: the page that answers sits above the
        # rest of the candidates...
        ({"gold": 0.93, "a": 0.87, "b": 0.86, "c": 0.86, "d": 0.85}, {"gold"}),
        # ...while with the page taken out every candidate is about as close (Chinese pairs
        # reach 0.88-0.90 on style alone: the cosine floor would pass them).
        ({"a": 0.90, "b": 0.89, "c": 0.89, "d": 0.88, "e": 0.88}, set()),
        # Two chunks of the page that answers both lead.
        ({"g1": 0.86, "g2": 0.85, "a": 0.80, "b": 0.79, "c": 0.79}, {"g1", "g2"}),
        ({}, set()),
    ],
)
def test_only_scores_a_margin_above_the_mean_stand_out(
    scores: dict[str, float], leaders: set[str]
) -> None:
    assert standing_out(scores, 0.025) == leaders


class TopicModel(FakeSentenceModel):
    """Vectors by topic word, so that cosines are known: 1 on topic, 0 off it."""

    TOPICS = (("蒸馏", "distillation"), ("lora",), ("bm25",))

    def encode(self, texts: list[str], prompt: str | None = None, **kwargs: Any) -> np.ndarray:
        vectors = np.zeros((len(texts), self.get_sentence_embedding_dimension()), np.float32)
        for row, text in enumerate(texts):
            hit = [
                i for i, words in enumerate(self.TOPICS) if any(w in text.lower() for w in words)
            ]
            vectors[row, hit[0] if hit else len(self.TOPICS)] = 1.0
        return vectors


def topic_retriever(tmp_path: Path, margin: float) -> Retriever:
    embedder = Embedder("topic-embedding", TopicModel(8))
    build_index(tmp_path / "ix", WIKI_PAGES, embedder)
    # The cosine and keyword floor let everything through: only the standout rule decides.
    options = RetrievalOptions(min_dense_score=-1.0, min_standout=margin)
    return Retriever(open_index(tmp_path / "ix"), embedder, options)


@pytest.mark.parametrize(
    ("question", "page"),
    [
        ("知识蒸馏的温度参数有什么用？", "models/distillation.md"),
        ("What does LoRA freeze?", "models/lora.md"),
    ],
)
def test_a_passage_that_stands_out_passes(tmp_path: Path, question: str, page: str) -> None:
    result = topic_retriever(tmp_path, 0.3).search(question)
    assert result.relevant
    assert {p.chunk.doc_id for p in result.passages} == {page}


@pytest.mark.parametrize("question", ["联邦学习是什么？", "What is federated learning?"])
def test_when_no_candidate_stands_out_nothing_passes(tmp_path: Path, question: str) -> None:
    result = topic_retriever(tmp_path, 0.3).search(question)
    assert not result.relevant and result.passages == []
    assert result.closest  # the reader still gets the closest pages


@pytest.mark.parametrize("question", ["联邦学习是什么？", "What is federated learning?"])
def test_with_the_rule_off_the_same_search_passes(tmp_path: Path, question: str) -> None:
    assert topic_retriever(tmp_path, 0.0).search(question).relevant


@pytest.mark.parametrize(
    ("scores", "pages", "leaders"),
    [
        # Sibling chunks of the page that answers no longer lift the baseline: its chunks
        # are 4 of 7 here, and the chunk mean (0.8857) would leave the best one 0.0143 above.
        (
            {"g1": 0.90, "g2": 0.90, "g3": 0.89, "g4": 0.89, "a": 0.86, "b": 0.86, "c": 0.86},
            {"g1": "Gold", "g2": "Gold", "g3": "Gold", "g4": "Gold", "a": "A", "b": "B", "c": "C"},
            {"g1", "g2", "g3", "g4"},
        ),
        # An absent page: every page about as close, none leads.
        (
            {"a": 0.90, "b": 0.89, "c": 0.89, "d": 0.88},
            {"a": "A", "b": "B", "c": "C", "d": "D"},
            set(),
        ),
        # The baseline is the mean of the 5 best other pages, not of all of them: a long
        # tail of distant pages does not make an ordinary one stand out.
        (
            {"a": 0.90, **dict.fromkeys("bcdef", 0.89), "y": 0.5, "z": 0.5},
            {k: k.upper() for k in "abcdefyz"},
            set(),
        ),
        # All candidates one page: nothing to stand out from, so it is kept.
        ({"g1": 0.80, "g2": 0.70}, {"g1": "Gold", "g2": "Gold"}, {"g1", "g2"}),
        ({}, {}, set()),
    ],
)
def test_only_pages_leading_the_best_other_pages_stand_out(
    scores: dict[str, float], pages: dict[str, str], leaders: set[str]
) -> None:
    assert pages_standing_out(scores, pages, 0.02) == leaders


def test_page_standout_is_the_page_best_minus_the_best_other_pages_mean() -> None:
    lifts = page_standout(
        {"g1": 0.95, "g2": 0.80, "a": 0.90, "b": 0.85}, {"g1": "G", "g2": "G", "a": "A", "b": "B"}
    )
    # Every chunk of a page gets its page's lead, judged on the page's best chunk.
    assert lifts == pytest.approx({"g1": 0.075, "g2": 0.075, "a": 0.0, "b": -0.075})


# A long page: every section's chunk is on the question's topic (the title is part of each
# chunk's search text), so siblings fill most of the candidates.
LONG_PAGE = page(
    "models/distillation-guide.md",
    "知识蒸馏",
    "\n".join(f"## 第{n}节\n蒸馏的第{n}个要点。" for n in range(1, 9)),
)


def long_page_retriever(tmp_path: Path, chunk_margin: float, page_margin: float) -> Retriever:
    embedder = Embedder("topic-embedding", TopicModel(8))
    build_index(tmp_path / "ix", [LONG_PAGE, *WIKI_PAGES[1:]], embedder)
    options = RetrievalOptions(
        min_dense_score=-1.0, min_standout=chunk_margin, min_page_standout=page_margin
    )
    return Retriever(open_index(tmp_path / "ix"), embedder, options)


def test_a_long_page_that_answers_is_refused_per_chunk_and_kept_per_page(tmp_path: Path) -> None:
    question = "知识蒸馏的温度参数有什么用？"
    per_chunk = long_page_retriever(tmp_path / "chunk", 0.3, 0.0).search(question)
    per_page = long_page_retriever(tmp_path / "page", 0.0, 0.3).search(question)
    assert not per_chunk.relevant  # its own sibling chunks lift the mean it must exceed
    assert per_page.relevant
    assert {p.chunk.doc_id for p in per_page.passages} == {LONG_PAGE.doc_id}


@pytest.mark.parametrize("question", ["联邦学习是什么？", "What is federated learning?"])
def test_when_no_page_stands_out_nothing_passes(tmp_path: Path, question: str) -> None:
    result = long_page_retriever(tmp_path, 0.0, 0.3).search(question)
    assert not result.relevant and result.passages == []
    assert result.closest


def test_pages_sharing_a_title_are_one_page() -> None:
    one = Chunk("Warsaw-0#0", "Warsaw-0", 0, "Warsaw", "Warsaw", "", None, None, "…", "h", 1)
    assert page_key(one) == "Warsaw"
    assert page_key(replace(one, doc_id="Warsaw-1")) == page_key(one)
    assert page_key(replace(one, title="")) == "Warsaw-0"
