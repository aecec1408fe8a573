"""Refusal on a real wiki with the real embedder: absent concepts of the same domain.

The example wiki is an AI wiki in Chinese and English. It has pages on knowledge
distillation and LoRA, none on federated learning, diffusion models or mixture of experts:
questions about those share its generic words (模型, 学习) and reached the old floor.
"""

from __future__ import annotations

import pytest

from askwiki.answering.grounding import ground_answer
from askwiki.embedding.embedder import Embedder
from askwiki.evidence import TermWeights, term_weights
from askwiki.live_index import LiveIndex
from askwiki.passages import Passage
from askwiki.retrieval import Retriever
from askwiki.retrieval_options import retrieval_options
from askwiki.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def retriever(example_index: Settings, real_embedder: Embedder) -> Retriever:
    live = LiveIndex(example_index.index_path, real_embedder, retrieval_options(example_index))
    live.load()
    return live.retriever()


@pytest.mark.parametrize(
    "question",
    [
        "联邦学习是什么？",
        "扩散模型是怎么生成图片的？",
        "什么是混合专家模型 MoE？",
        "What is federated learning?",
        "How do diffusion models generate images?",
    ],
)
def test_a_same_domain_question_about_an_absent_concept_is_refused(
    retriever: Retriever, question: str
) -> None:
    result = retriever.search(question)
    assert not result.relevant, [(p.chunk.doc_id, round(p.dense_score, 3)) for p in result.passages]
    assert result.closest  # the reader still gets somewhere to look


# The embedded LLM's translations (qwen2.5-coder-1.5b, temperature 0): the translation's
# words are not checked for absence (the reader's are), so the floor and the page-lead rule
# must refuse these on their own.
@pytest.mark.parametrize(
    ("question", "translation"),
    [
        ("联邦学习是什么？", "What is federated learning?"),
        ("扩散模型是怎么生成图片的？", "How does diffusion model generate images?"),
        ("什么是混合专家模型 MoE？", "What is a mixed expert model MoE?"),
        ("What is federated learning?", "什么是联邦学习？"),
        ("How do diffusion models generate images?", "扩散模型如何生成图像？"),
    ],
)
def test_an_absent_concept_asked_with_its_translation_is_refused(
    retriever: Retriever, question: str, translation: str
) -> None:
    result = retriever.search(question, translation=translation)
    assert not result.relevant, [(p.chunk.doc_id, round(p.dense_score, 3)) for p in result.passages]


@pytest.mark.parametrize(
    ("question", "page"),
    [
        ("知识蒸馏是什么？", "知识蒸馏"),
        ("What does LoRA freeze during fine-tuning?", "LoRA"),
    ],
)
def test_a_question_about_a_concept_the_wiki_has_is_kept(
    retriever: Retriever, question: str, page: str
) -> None:
    result = retriever.search(question)
    best = result.passages[0].chunk
    assert result.relevant and page.lower() in f"{best.doc_id} {best.title}".lower()


def _ground(
    retriever: Retriever, answer: str, source: Passage, question: str
) -> tuple[str, int, bool]:
    keyword = retriever.index.keyword

    def weigh(words: list[str]) -> TermWeights:
        return term_weights(words, keyword.document_frequency, len(keyword))

    grounded = ground_answer(
        answer,
        [source.chunk.search_text],
        retriever.stored_vectors([source]),
        retriever.embedder.embed_passages,
        weigh,
        question,
    )
    return grounded.text, grounded.unsupported_removed, grounded.answers


def test_grounding_with_real_vectors_keeps_the_wikis_fact_and_drops_an_invented_one(
    retriever: Retriever,
) -> None:
    source = retriever.search("知识蒸馏是谁提出的？").passages[0]
    assert "蒸馏" in source.chunk.text
    supported = "知识蒸馏由 Hinton 等人在 2015 年提出[1]。"
    invented = "知识蒸馏是通过压缩和优化知识库数据来提高检索效率的方法[1]。"

    text, removed, answers = _ground(
        retriever, supported + invented, source, "知识蒸馏是谁提出的？"
    )

    assert (text, removed, answers) == (supported, 1, True)
    assert _ground(retriever, invented, source, "知识蒸馏是谁提出的？")[1:] == (1, False)
