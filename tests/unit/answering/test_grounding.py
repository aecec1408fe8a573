"""The grounding step: sentences their cited source does not say are dropped.

Sources, sentences and the index are real text; the embedder is the fake one, whose cosines
are near 0, so these cases are decided by the lexical evidence (IDF-weighted over the
index's chunks), as they would be for a real embedder on text that shares few words.
"""

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from askwiki.answering.citations import EmbedFn, strip_markers
from askwiki.answering.grounding import (
    GroundedAnswer,
    ground_answer,
    is_refusal,
    source_sentences,
)
from askwiki.answering.service import AnswerService
from askwiki.embedding.embedder import Embedder
from askwiki.evidence import TermWeights
from askwiki.live_index import LiveIndex
from askwiki.retrieval import Retriever
from askwiki.retrieval_options import RetrievalOptions, retrieval_options
from askwiki.settings import Settings
from askwiki.store.index import open_index
from askwiki.testing.fake_llm import FakeLLM
from tests.support.index_builder import WIKI_PAGES, build_index, page

COOKING = page(
    "kitchen/recipes.md",
    "菜谱知识库",
    "## 简介\n菜谱知识库收录了家常菜的做法、配料和火候数据，厨师可以按菜系检索。",
)
PAGES = [*WIKI_PAGES, COOKING]


@pytest.fixture
def retriever(tmp_path: Path, embedder: Embedder) -> Retriever:
    build_index(tmp_path / "ix", PAGES, embedder)
    return Retriever(open_index(tmp_path / "ix"), embedder, RetrievalOptions())


def ground(
    retriever: Retriever,
    answer: str,
    doc_ids: list[str],
    question: str = "",
    embed: EmbedFn | None = None,
) -> GroundedAnswer:
    """Ground ``answer`` against the pages ``doc_ids`` (source n = doc_ids[n-1])."""
    docstore = retriever.index.docstore
    rows = [[c.row_id for c in docstore.chunks_of(d)] for d in doc_ids]
    texts = [" ".join(c.chunk.search_text for c in docstore.chunks_of(d)) for d in doc_ids]
    dense = retriever.index.dense
    vectors = [np.vstack([dense.reconstruct(r) for r in page_rows]) for page_rows in rows]
    return ground_answer(
        answer,
        texts,
        vectors,
        embed or retriever.embedder.embed_passages,
        lambda words: retriever.terms.weights(" ".join(words)),
        question,
    )


@pytest.mark.parametrize(
    ("answer", "doc_id"),
    [
        ("知识蒸馏由 Hinton 等人在 2015 年提出[1]。", "models/distillation.md"),
        ("学生模型学习教师模型的软标签[1]。", "models/distillation.md"),
        ("LoRA was introduced by Hu et al. in 2021 [1].", "models/lora.md"),
        (
            "It freezes the pretrained weights and trains two low-rank matrices [1].",
            "models/lora.md",
        ),
    ],
)
def test_a_supported_sentence_keeps_its_citation(
    retriever: Retriever, answer: str, doc_id: str
) -> None:
    grounded = ground(retriever, answer, [doc_id])
    assert grounded.text == answer
    assert grounded.unsupported_removed == 0
    assert grounded.answers and not grounded.refused


@pytest.mark.parametrize(
    ("supported", "invented", "doc_id"),
    [
        (
            "知识蒸馏由 Hinton 等人在 2015 年提出[1]。",
            "知识蒸馏常用于把大型语言模型部署到手机和边缘设备上[1]。",
            "models/distillation.md",
        ),
        (
            "The rank r is usually between 4 and 64 [1].",
            "LoRA was developed at Google to compress images for mobile phones [1].",
            "models/lora.md",
        ),
    ],
)
def test_an_invented_sentence_is_dropped_and_the_supported_one_stays(
    retriever: Retriever, supported: str, invented: str, doc_id: str
) -> None:
    grounded = ground(retriever, f"{supported} {invented}", [doc_id])
    assert grounded.text == supported
    assert grounded.unsupported_removed == 1
    assert grounded.answers


@pytest.mark.parametrize(
    "invented",
    [
        # The case: a definition from the model's own knowledge, "cited" to a cooking
        # knowledge base that shares only the generic words 知识库 and 数据 with it.
        "知识蒸馏是通过压缩和优化知识库数据来提高模型效率的方法[1]。它可以减少存储空间[1]。",
        "Knowledge distillation compresses a knowledge base to speed up search [1]. "
        "It was proposed by Google researchers [1].",
    ],
)
def test_an_answer_made_only_of_invented_sentences_answers_nothing(
    retriever: Retriever, invented: str
) -> None:
    grounded = ground(retriever, invented, ["kitchen/recipes.md"])
    assert grounded.unsupported_removed == 2
    assert not grounded.answers
    assert grounded.text == ""


def test_a_sentence_without_any_citation_is_unsupported(retriever: Retriever) -> None:
    grounded = ground(retriever, "知识蒸馏可以把模型压缩十倍。", ["models/distillation.md"])
    assert grounded.unsupported_removed == 1 and not grounded.answers


@pytest.mark.parametrize(
    "reply",
    [
        "资料中没有相关信息。",
        "资料中没有提到模型剪枝的方法。",
        "The sources do not contain this.",
        "The sources don't mention federated learning.",
    ],
)
def test_the_models_own_refusal_is_recognised(retriever: Retriever, reply: str) -> None:
    assert is_refusal(reply)
    grounded = ground(retriever, reply, ["models/lora.md"])
    assert grounded.refused and not grounded.answers and grounded.unsupported_removed == 0


@pytest.mark.parametrize(
    "sentence",
    ["知识蒸馏由 Hinton 等人在 2015 年提出。", "LoRA freezes the pretrained weights."],
)
def test_an_ordinary_sentence_is_not_a_refusal(sentence: str) -> None:
    assert not is_refusal(sentence)


def _service(tmp_path: Path, embedder: Embedder, reply: str) -> AnswerService:
    settings = Settings(
        index_dir=tmp_path / "indexes",
        data_dir=tmp_path / "data",
        chunk_tokens=64,
        chunk_overlap_tokens=8,
        # The fake embedder's cosines are near 0: let every passage through the floor,
        # so that only grounding can refuse.
        min_dense_score=-1.0,
        _env_file=None,  # type: ignore[call-arg]
    )
    build_index(settings.index_path, PAGES, embedder)
    live = LiveIndex(settings.index_path, embedder, retrieval_options(settings))
    return AnswerService(settings, live, embedder, lambda: FakeLLM([reply]))


@pytest.mark.parametrize(
    ("question", "reply", "language"),
    [
        ("知识蒸馏是什么？", "知识蒸馏是通过压缩和优化知识库数据来提高模型效率的方法[1]。", "zh"),
        ("知识蒸馏是什么？", "资料中没有相关信息。", "zh"),
        ("What is knowledge distillation?", "The sources do not contain this.", "en"),
    ],
)
def test_an_answer_with_nothing_supported_becomes_no_answer_with_the_closest_pages(
    tmp_path: Path, embedder: Embedder, question: str, reply: str, language: str
) -> None:
    answer = _service(tmp_path, embedder, reply).ask(question)
    assert answer.status == "no_answer"
    assert answer.language == language
    assert answer.sources == [] and answer.closest
    assert all(not s.cited for s in answer.closest)
    assert len({s.doc_id for s in answer.closest}) == len(answer.closest)
    assert answer.unsupported_removed == (0 if "资料中没有" in reply or "sources" in reply else 1)


def test_a_grounded_answer_reports_the_sentences_it_lost(
    tmp_path: Path, embedder: Embedder
) -> None:
    reply = (
        "LoRA was introduced by Hu et al. in 2021 [1]. "
        "It was designed at Google to compress images for phones [1]."
    )
    answer = _service(tmp_path, embedder, reply).ask("Who introduced LoRA?")
    assert answer.status == "answered"
    assert answer.unsupported_removed == 1
    assert "Hu et al." in answer.answer and "Google" not in answer.answer
    cited = [s for s in answer.sources if s.cited]
    assert cited and all(s.doc_id == "models/lora.md" for s in cited)


def _as_close_as_the_page(retriever: Retriever, doc_id: str) -> EmbedFn:
    """An embedder that puts every sentence on the page's first chunk: cosine 1 to it."""
    docstore = retriever.index.docstore
    row = docstore.chunks_of(doc_id)[0].row_id
    vector = retriever.index.dense.reconstruct(row)
    return lambda texts: np.vstack([vector] * len(texts))


@pytest.mark.parametrize(
    ("sentence", "doc_id", "unknown"),
    [
        # IDF-weighted coverage 0.53 and 0.46 of their page: only the looser test can pass them.
        ("珠江频道的学生模型学习教师[1]。", "models/distillation.md", "珠江频道"),
        ("Hogwarts trains low-rank matrices for wizards [1].", "models/lora.md", "Hogwarts"),
    ],
)
def test_a_sentence_repeating_a_name_the_wiki_lacks_needs_the_pages_words_not_closeness(
    retriever: Retriever, sentence: str, doc_id: str, unknown: str
) -> None:
    close = _as_close_as_the_page(retriever, doc_id)

    asked_about_it = ground(retriever, sentence, [doc_id], f"What is {unknown}?", close)
    asked_otherwise = ground(retriever, sentence, [doc_id], "What does the page say?", close)

    assert (asked_about_it.text, asked_about_it.unsupported_removed) == ("", 1)
    assert not asked_about_it.answers
    # The same sentence, as close in meaning, passes when the question named nothing unknown.
    assert (asked_otherwise.text, asked_otherwise.unsupported_removed) == (sentence, 0)


# Across languages: a sentence is compared with the source's own sentences as well as its
# chunk. These vectors are made by hand, so each case is decided by the geometry it states.
SOURCE_ZH = (
    "知识蒸馏 › 起源\n“知识蒸馏”这一名称来自 Hinton、Vinyals 和 Dean 于 2015 年发表的论文。"
    "在此之前，Buciluǎ 等人在 2006 年已经提出用小模型模仿大模型集成的思路。"
)


def test_source_sentences_leave_out_the_heading_path() -> None:
    assert source_sentences(SOURCE_ZH) == [
        "“知识蒸馏”这一名称来自 Hinton、Vinyals 和 Dean 于 2015 年发表的论文。",
        "在此之前，Buciluǎ 等人在 2006 年已经提出用小模型模仿大模型集成的思路。",
    ]


def _unit(*values: float) -> np.ndarray:
    vector = np.array(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


class _Geometry:
    """An embedder giving chosen texts chosen vectors; it records what it was asked."""

    def __init__(self, vectors: dict[str, np.ndarray]) -> None:
        self.vectors = vectors
        self.asked: list[str] = []

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        self.asked.extend(texts)
        return np.vstack([self.vectors[t] for t in texts])


NAMED = "The name comes from a 2015 paper by Hinton, Vinyals and Dean [1]."
OLDER = "Buciluǎ and colleagues had a small model imitate an ensemble in 2006 [2]."


def _plain(sentence: str) -> str:
    """The text of an answer sentence as grounding embeds it."""
    return strip_markers(sentence).strip()


def _no_weights(words: list[str]) -> TermWeights:
    return TermWeights({}, frozenset())


def _zh_sentences(named: np.ndarray, older: np.ndarray) -> dict[str, np.ndarray]:
    first, second = source_sentences(SOURCE_ZH)
    return {first: named, second: older}


@pytest.mark.parametrize(
    ("closest_sentence", "kept"),
    [
        # The chunk is far (cosine 0.5) but one of its sentences says it (cosine 0.9).
        (_unit(0.9, np.sqrt(1 - 0.81), 0.0), True),
        # Neither the chunk nor any of its sentences is as close as CROSS_LANGUAGE_COSINE.
        (_unit(0.8, 0.6, 0.0), False),
    ],
)
def test_a_sentence_in_the_other_language_is_judged_by_the_sources_closest_sentence(
    closest_sentence: np.ndarray, kept: bool
) -> None:
    answer = _unit(1.0, 0.0, 0.0)
    chunk = _unit(0.5, 0.0, np.sqrt(0.75))
    vectors = {_plain(NAMED): answer, **_zh_sentences(closest_sentence, _unit(0.0, 0.0, 1.0))}

    grounded = ground_answer(
        NAMED, [SOURCE_ZH], [chunk[None, :]], _Geometry(vectors), _no_weights, ""
    )

    assert grounded.answers is kept
    assert grounded.unsupported_removed == (0 if kept else 1)


def test_only_sources_in_the_other_language_have_their_sentences_embedded() -> None:
    source_en = "Distillation › Origin\nHinton, Vinyals and Dean named it in 2015."
    answer = _unit(1.0, 0.0, 0.0)
    vectors = {_plain(NAMED): answer, _plain(OLDER): answer}
    embed = _Geometry(vectors | _zh_sentences(answer, answer))

    # NAMED cites the Chinese source, OLDER the English one.
    ground_answer(
        f"{NAMED} {OLDER}",
        [SOURCE_ZH, source_en],
        [_unit(0.0, 1.0, 0.0)[None, :], _unit(0.0, 0.0, 1.0)[None, :]],
        embed,
        _no_weights,
        "",
    )

    assert embed.asked == [_plain(NAMED), _plain(OLDER), *source_sentences(SOURCE_ZH)]


def test_a_sentence_its_chunk_supports_across_languages_embeds_no_source_sentence() -> None:
    answer = _unit(1.0, 0.0, 0.0)
    embed = _Geometry({_plain(NAMED): answer})

    grounded = ground_answer(NAMED, [SOURCE_ZH], [answer[None, :]], embed, _no_weights, "")

    assert grounded.answers and embed.asked == [_plain(NAMED)]
