"""The opt-in standout rule of the relevance floor (ASKWIKI_MIN_STANDOUT)."""

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from askwiki.embedding.embedder import Embedder
from askwiki.retrieval import RetrievalOptions, Retriever
from askwiki.standout import standing_out, standout
from askwiki.store.index import open_index
from askwiki.testing.fake_embedder import FakeSentenceModel
from tests.support.index_builder import WIKI_PAGES, build_index


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
