"""Cross-language questions on the example wiki and citations across languages, real model."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType

import pytest

from askwiki.answering.citations import check_citations
from askwiki.answering.grounding import ground_answer
from askwiki.embedding.embedder import Embedder
from askwiki.evidence import TermWeights
from askwiki.retrieval import Retriever
from askwiki.retrieval_options import retrieval_options
from askwiki.settings import Settings
from askwiki.store.index import open_index

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).parents[1] / "fixtures" / "crosslingual"
QUESTIONS = FIXTURES / "example_wiki_questions.jsonl"
# What the embedded LLM (qwen2.5-coder-1.5b Q4_K_M, temperature 0) replied to
# answering.translation's prompt for each question (None: unusable), kept so that the test
# measures retrieval and the floor, not the model.
TRANSLATIONS = FIXTURES / "example_wiki_translations.json"


def load_questions() -> list[dict[str, str]]:
    with QUESTIONS.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def doc_hit_at_1(
    retriever: Retriever,
    items: list[dict[str, str]],
    translations: Mapping[str, str | None] = MappingProxyType({}),
) -> tuple[float, list[str]]:
    missed: list[str] = []
    for item in items:
        translation = translations.get(item["question"])
        passages = retriever.search(item["question"], 5, translation=translation).passages
        if not passages or passages[0].chunk.doc_id != item["doc_id"]:
            missed.append(f"{item['question']} -> {[p.chunk.doc_id for p in passages[:3]]}")
    return 1 - len(missed) / len(items), missed


def cross_language_hits(
    settings: Settings, embedder: Embedder, direction: str
) -> tuple[float, float]:
    items = [q for q in load_questions() if q["direction"] == direction]
    assert len(items) >= 20
    index = open_index(settings.index_path)
    try:
        options = replace(retrieval_options(settings), cross_language=True)
        hit, _ = doc_hit_at_1(Retriever(index, embedder, options), items)
        before, _ = doc_hit_at_1(
            Retriever(index, embedder, replace(options, cross_language=False)), items
        )
    finally:
        index.close()
    return hit, before


# Measured 2026-12-02 on this fixture with issue 12's floor (rarity-weighted coverage,
# absent-word refusal): zh→en 12/24 (2/24 with cross-language off), en→zh 15/24 (9/24 off)
# on an Intel Xeon in bfloat16. On an AMD Zen 5 in bfloat16 the same code gives en→zh 15/24
# against 10/24 with 2 threads (17 against 11 with 1): each ingest is bitwise repeatable,
# but bfloat16 sums differ with the CPU's kernels and the thread count, and a question or
# two near a tie flips. Hence a margin of 5 questions in 24, not the 6 seen once.
# Before that floor: 15/24 and 16/24. The target, 0.85, is the xfail test below.
# With ASKWIKI_TRANSLATE_QUESTIONS (LLM translation, each page judged against the question in
# its own language; bench/example_cross_language.py): 17/24 each way then, 21/24 and 18/24
# since the floor judges translations on their own footing (the test after next).
@pytest.mark.parametrize(("direction", "at_least"), [("zh→en", 0.5), ("en→zh", 0.6)])
def test_questions_in_the_other_language_find_their_page_first_more_often(
    example_index: Settings, real_embedder: Embedder, direction: str, at_least: float
) -> None:
    hit, before = cross_language_hits(example_index, real_embedder, direction)
    assert hit >= at_least and hit >= before + 0.2, (hit, before)


@pytest.mark.xfail(
    strict=True,
    reason="issue 13 (blocked): without translation the embedder does not reach 0.85; "
    "with it the next test's bound holds (22/24 and 21/24 measured)",
)
@pytest.mark.parametrize("direction", ["zh→en", "en→zh"])
def test_cross_language_doc_hit_at_1_reaches_the_target(
    example_index: Settings, real_embedder: Embedder, direction: str
) -> None:
    hit, _ = cross_language_hits(example_index, real_embedder, direction)
    assert hit >= 0.85


# With the LLM's translations (ASKWIKI_TRANSLATE_QUESTIONS, cross-language off), measured
# 2026-12-03 on an Intel Xeon in float32 (bench/example_cross_language.py): zh→en 21/24 and
# en→zh 18/24 once the floor stopped refusing a translation for its own words that no chunk
# holds and let a page leading the translation's candidates pass; 16/24 each way before.
# With the heading leg and the reader's-words rule (AMD EPYC in bfloat16, same day): 22/24
# and 21/24 (21/24 and 18/24 without them in the same run). Bounds 3 and 2 questions under
# that: near-ties move with the CPU and dtype.
@pytest.mark.parametrize(("direction", "at_least"), [("zh→en", 0.79), ("en→zh", 0.79)])
def test_questions_with_their_translation_find_their_page_first(
    example_index: Settings, real_embedder: Embedder, direction: str, at_least: float
) -> None:
    items = [q for q in load_questions() if q["direction"] == direction]
    translations = json.loads(TRANSLATIONS.read_text(encoding="utf-8"))
    index = open_index(example_index.index_path)
    try:
        retriever = Retriever(index, real_embedder, retrieval_options(example_index))
        hit, missed = doc_hit_at_1(retriever, items, translations)
    finally:
        index.close()
    assert hit >= at_least, missed


@pytest.mark.parametrize(
    ("question", "translation"),
    [
        # Refused before: its page first for the translation, hybrid 0.946 < 0.95, leading
        # the other pages by 0.038.
        ("缩放点积注意力的公式是什么？", "What is the formula for scaling pointwise attention?"),
        # Refused before for the translation's own words: "man", "problem" (75% absent).
        ("什么是“迷失在中间”问题？", 'What is the "middle man" problem?'),
    ],
)
def test_answerable_questions_with_a_loose_translation_pass_the_floor(
    example_index: Settings, real_embedder: Embedder, question: str, translation: str
) -> None:
    index = open_index(example_index.index_path)
    try:
        retriever = Retriever(index, real_embedder, retrieval_options(example_index))
        result = retriever.search(question, translation=translation)
    finally:
        index.close()
    assert result.relevant, [p.chunk.doc_id for p in result.closest]


@pytest.mark.parametrize(
    ("question", "translation", "page"),
    [
        # Came second to papers/model-compression-notes.pdf (English, same field): the
        # heading leg puts the page titled 知识蒸馏 first.
        (
            "What does the temperature do in knowledge distillation?",
            "知识蒸馏中温度如何影响？",
            "kd-001",
        ),
        (
            "Why is Chinese word segmentation ambiguous?",
            "为什么中文分词有歧义？",
            "zh-segmentation",
        ),
        # Refused before: the translation's 块 is not the page's word; its heading writes the
        # reader's "overlap" and "Chunking".
        ("Why should chunks overlap?", "为什么块应该重叠？", "rag-chunking"),
    ],
)
def test_headings_and_the_readers_words_put_the_right_page_first(
    example_index: Settings, real_embedder: Embedder, question: str, translation: str, page: str
) -> None:
    index = open_index(example_index.index_path)
    try:
        retriever = Retriever(index, real_embedder, retrieval_options(example_index))
        passages = retriever.search(question, 5, translation=translation).passages
    finally:
        index.close()
    assert passages and passages[0].chunk.doc_id == page, [p.chunk.doc_id for p in passages]


def test_traditional_chinese_questions_find_simplified_and_english_pages(
    example_index: Settings, real_embedder: Embedder
) -> None:
    items = [q for q in load_questions() if q["direction"].startswith("zh-Hant")]
    index = open_index(example_index.index_path)
    try:
        retriever = Retriever(
            index, real_embedder, replace(retrieval_options(example_index), cross_language=True)
        )
        hit, missed = doc_hit_at_1(retriever, items)
    finally:
        index.close()
    assert hit == 1.0, missed


@pytest.mark.parametrize(
    "question",
    [
        "BM25 里的 k1 和 b 参数是什么意思？",
        "QLoRA 把基础模型量化成几位？",
        "What is model pruning?",
    ],
)
def test_answerable_cross_language_questions_pass_the_relevance_floor(
    example_index: Settings, real_embedder: Embedder, question: str
) -> None:
    """These were refused as "no relevant page" before cross-language calibration."""
    index = open_index(example_index.index_path)
    try:
        options = replace(retrieval_options(example_index), cross_language=True)
        crossing = Retriever(index, real_embedder, options).search(question)
        assert crossing.relevant, [p.chunk.doc_id for p in crossing.closest]
    finally:
        index.close()


SOURCES_ZH = [
    "知识蒸馏 › 起源\n“知识蒸馏”这一名称来自 Hinton、Vinyals 和 Dean 于 2015 年发表的论文"
    "《Distilling the Knowledge in a Neural Network》。在此之前，Buciluǎ、Caruana 和 "
    "Niculescu-Mizil 在 2006 年的《Model Compression》中已经提出用小模型模仿大模型集成的思路。",
    "模型剪枝 › 彩票假说\nFrankle 和 Carbin 的《The Lottery Ticket Hypothesis》获得 ICLR 2019 "
    "最佳论文奖。它指出：随机初始化的稠密网络中包含一个子网络（“中奖彩票”），如果把它恢复到原始"
    "初始化并单独训练，可以达到与完整网络相当的精度。",
    "模型剪枝 › 结构化剪枝\n整块删除通道、神经元或注意力头，剪完仍是普通的稠密模型，在任何硬件上都能"
    "直接加速。Michel 等人 2019 年的论文《Are Sixteen Heads Really Better than One?》发现，测试时"
    "去掉 Transformer 中的许多注意力头，效果几乎不受影响。",
]
SOURCES_EN = [
    "LoRA and QLoRA › LoRA\nLoRA (Low-Rank Adaptation) was introduced by Hu et al. at Microsoft "
    "in 2021. It freezes the pre-trained weight matrix W0 and learns the update as the product "
    "of two small matrices.",
    "LoRA and QLoRA › QLoRA\nQLoRA (Dettmers et al., 2023) quantises the frozen base model to "
    "4-bit NormalFloat and trains LoRA adapters on top, so a 65B model can be fine-tuned on a "
    "single 48 GB GPU.",
    "BM25 › Parameters k1 and b\nk1 controls how quickly the contribution of a repeated term "
    "saturates; b controls how strongly scores are normalised by document length.",
]


@pytest.mark.parametrize(
    ("answer", "sources", "expected"),
    [
        (
            "The name knowledge distillation comes from a 2015 paper by Hinton, Vinyals and "
            "Dean. The lottery ticket hypothesis says a randomly initialised dense network "
            "contains a subnetwork that can match the full network when trained alone. "
            "Structured pruning removes whole channels, neurons or attention heads, so the "
            "model stays dense and runs faster on any hardware.",
            SOURCES_ZH,
            [1, 2, 3],
        ),
        (
            "LoRA 冻结预训练的权重矩阵，只学习两个小矩阵的乘积作为更新。QLoRA 把冻结的基础模型量化为"
            "4 位，再在其上训练 LoRA 适配器。b 参数控制按文档长度归一化的强度。",
            SOURCES_EN,
            [1, 2, 3],
        ),
    ],
)
def test_answers_in_one_language_keep_citations_to_sources_in_the_other(
    real_embedder: Embedder, answer: str, sources: list[str], expected: list[int]
) -> None:
    vectors = [real_embedder.embed_passages([s]) for s in sources]
    checked = check_citations(answer, sources, vectors, real_embedder.embed_passages)
    assert checked.cited == expected, checked.text


def test_an_unrelated_sentence_gets_no_citation_across_languages(real_embedder: Embedder) -> None:
    vectors = [real_embedder.embed_passages([s]) for s in SOURCES_ZH]
    checked = check_citations(
        "Paris is the capital of France and has many museums [2].",
        SOURCES_ZH,
        vectors,
        real_embedder.embed_passages,
    )
    assert checked.cited == [] and "[" not in checked.text


def _no_rarity(words: list[str]) -> TermWeights:
    """Grounding weighs words only for same-language sentences; none is judged here."""
    return TermWeights({}, frozenset())


# Cosines to the closest source sentence with the real model (CROSS_LANGUAGE_COSINE 0.82):
# supported 0.85-0.88, invented 0.78-0.80. An invented sentence that reuses the source's
# Latin-script term (QLoRA, k1) against a one-sentence English source can reach 0.83-0.84
# and is kept: the calibration's limit, not tested as dropped.
@pytest.mark.parametrize(
    ("supported", "invented", "sources"),
    [
        (
            "The name knowledge distillation comes from a 2015 paper by Hinton, Vinyals and "
            "Dean [1].",
            "Structured pruning needs special sparse kernels to run faster [3].",
            SOURCES_ZH,
        ),
        (
            "Structured pruning removes whole channels, neurons or attention heads, so the "
            "model stays dense and runs faster on any hardware [3].",
            "Distillation needs the teacher and student to share the same architecture [1].",
            SOURCES_ZH,
        ),
        (
            "QLoRA 把冻结的基础模型量化为 4 位，再在其上训练 LoRA 适配器[2]。",
            "BM25 是一种基于神经网络的稠密检索模型[3]。",
            SOURCES_EN,
        ),
        ("b 参数控制按文档长度归一化的强度[3]。", "BM25 由谷歌在 2018 年提出[3]。", SOURCES_EN),
    ],
)
def test_grounding_keeps_a_supported_sentence_across_languages_and_drops_an_invented_one(
    real_embedder: Embedder, supported: str, invented: str, sources: list[str]
) -> None:
    vectors = [real_embedder.embed_passages([s]) for s in sources]
    grounded = ground_answer(
        f"{supported} {invented}", sources, vectors, real_embedder.embed_passages, _no_rarity, ""
    )
    assert (grounded.text, grounded.unsupported_removed) == (supported, 1)
    assert grounded.answers
