from pathlib import Path

import numpy as np
import pytest

from askwiki.crosslingual import (
    DEFAULT_OFFSET,
    LanguageProfile,
    build_profile,
    estimate_offsets,
    mine_glossary,
)
from askwiki.store.index import open_index
from askwiki.testing.fake_embedder import fake_embedder
from askwiki.text import keyword_tokens, to_simplified
from tests.support.index_builder import WIKI_PAGES, build_index, page


@pytest.mark.parametrize(
    ("text", "pair"),
    [
        ("# 知识蒸馏（Knowledge Distillation）\n", ("知识蒸馏", "knowledge distillation")),
        ("通常使用知识蒸馏（Knowledge Distillation）压缩", ("知识蒸馏", "knowledge distillation")),
        ("倒数排名融合（Reciprocal Rank Fusion，RRF）", ("倒数排名融合", "rrf")),
        ("倒数排名融合（Reciprocal Rank Fusion，RRF）", ("倒数排名融合", "reciprocal rank fusion")),
        ("超级碗（英语：Super Bowl）是", ("超级碗", "super bowl")),
        (
            "Retrieval-Augmented Generation (检索增强生成) joins",
            ("检索增强生成", "retrieval-augmented generation"),
        ),
        ("模型剪枝 (Pruning) 删除", ("模型剪枝", "pruning")),
        ("模型剪枝（Pruning）", ("剪枝", "pruning")),
    ],
)
def test_glossary_pairs_are_mined_from_the_text(text: str, pair: tuple[str, str]) -> None:
    assert pair in mine_glossary([text])


@pytest.mark.parametrize(
    "text",
    [
        "思维树（Tree of Thoughts，Yao 等人，2023）",  # "Yao 等人" is a citation, not a term
        "在 2015 年（2015）提出",
        "没有括号的句子 Knowledge Distillation",
    ],
)
def test_citations_and_numbers_are_not_glossary_terms(text: str) -> None:
    terms = {en for _, en in mine_glossary([text])}
    assert not terms & {"yao", "2023", "2015", "knowledge distillation"}


def test_traditional_glossary_text_is_stored_simplified() -> None:
    assert ("知识蒸馏", "knowledge distillation") in mine_glossary(
        ["知識蒸餾（Knowledge Distillation）"]
    )


@pytest.mark.parametrize(
    ("traditional", "simplified"),
    [
        ("什麼是知識蒸餾？", "什么是知识蒸馏？"),
        ("語言模型的參數", "语言模型的参数"),
        ("LoRA 2021", "LoRA 2021"),
    ],
)
def test_traditional_chinese_becomes_simplified(traditional: str, simplified: str) -> None:
    assert to_simplified(traditional) == simplified


def test_traditional_and_simplified_questions_share_keywords() -> None:
    assert (
        keyword_tokens("什麼是知識蒸餾？") == keyword_tokens("什么是知识蒸馏？") == ["知识", "蒸馏"]
    )


GLOSSARY = LanguageProfile(
    languages={0: "zh", 1: "en"},
    offsets={"zh": 0.05, "en": 0.04},
    glossary=[("知识蒸馏", "knowledge distillation"), ("剪枝", "pruning"), ("微调", "fine-tuning")],
)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("What is knowledge distillation?", ["知识蒸馏"]),
        ("什么是知识蒸馏？", ["knowledge distillation"]),
        ("什麼是知識蒸餾？", ["knowledge distillation"]),
        ("How does model pruning work?", ["剪枝"]),
        ("什么是 LoRA 微调？", ["fine-tuning"]),
        ("Is sprunings a word?", []),  # whole words only
        ("What is BM25?", []),
    ],
)
def test_queries_are_translated_through_the_glossary(query: str, expected: list[str]) -> None:
    assert GLOSSARY.translations(query) == expected


def test_expanded_keywords_add_the_translation_tokens() -> None:
    assert GLOSSARY.expanded_keywords("什么是知识蒸馏？") == [
        "知识",
        "蒸馏",
        "knowledg",
        "distillation",
    ]


@pytest.mark.parametrize(
    ("query_language", "row_id", "offset"),
    [("zh", 0, 0.0), ("zh", 1, 0.05), ("en", 0, 0.04), ("en", 1, 0.0), ("en", 7, 0.0)],
)
def test_only_cross_language_passages_get_the_offset(
    query_language: str, row_id: int, offset: float
) -> None:
    assert GLOSSARY.offset(query_language, row_id) == offset  # type: ignore[arg-type]


def test_offsets_measure_the_models_preference_for_its_own_language() -> None:
    # Two "languages" whose vectors lean on different axes: same-language pairs are more
    # similar than cross-language ones by construction.
    rng = np.random.default_rng(0)
    zh = rng.normal(size=(50, 8)) + np.array([3, 0, 0, 0, 0, 0, 0, 0])
    en = rng.normal(size=(50, 8)) + np.array([0, 3, 0, 0, 0, 0, 0, 0])
    vectors = np.vstack([zh, en]).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    languages = {i: ("zh" if i < 50 else "en") for i in range(100)}
    offsets = estimate_offsets(np.arange(100), vectors, languages)  # type: ignore[arg-type]
    assert 0.3 < offsets["zh"] < 0.8 and 0.3 < offsets["en"] < 0.8


def test_a_monolingual_wiki_gets_the_default_offset_and_its_glossary() -> None:
    vectors = np.eye(10, dtype=np.float32)
    rows = [(i, f"知识蒸馏（Knowledge Distillation）第{i}段") for i in range(10)]
    profile = build_profile(rows, np.arange(10), vectors)
    assert not profile.bilingual
    assert ("知识蒸馏", "knowledge distillation") in profile.glossary
    assert profile.offset("en", 0) == DEFAULT_OFFSET and profile.offset("zh", 0) == 0.0


def test_the_profile_is_saved_with_the_index_version_and_in_its_manifest(tmp_path: Path) -> None:
    pages = [
        *WIKI_PAGES,
        *(
            page(f"en{i}.md", f"English {i}", f"Plain English page number {i} about models.")
            for i in range(6)
        ),
        *(
            page(f"zh{i}.md", f"中文 {i}", f"第{i}页：模型剪枝（Pruning）删除不重要的权重。")
            for i in range(6)
        ),
    ]
    build_index(tmp_path / "ix", pages, fake_embedder())
    index = open_index(tmp_path / "ix")
    try:
        assert index.languages.bilingual
        assert ("模型剪枝", "pruning") in index.languages.glossary
        recorded = index.manifest.extra["crosslingual"]
        assert recorded["glossary_terms"] == len(index.languages.glossary)
        assert set(recorded["offsets"]) == {"zh", "en"}
        assert sum(recorded["chunks_by_language"].values()) == index.manifest.chunks
    finally:
        index.close()


def test_an_index_without_a_profile_still_opens(tmp_path: Path) -> None:
    build_index(tmp_path / "ix", WIKI_PAGES, fake_embedder())
    index = open_index(tmp_path / "ix")
    (index.path / "crosslingual.json").unlink()
    index.close()
    reopened = open_index(tmp_path / "ix")
    try:
        assert not reopened.languages.bilingual
    finally:
        reopened.close()


def test_bm25_ranks_count_within_each_language() -> None:
    profile = LanguageProfile(languages={1: "zh", 2: "zh", 3: "en", 4: "zh", 5: "en"})
    ranking = [(1, 9.0), (2, 8.0), (3, 3.0), (4, 2.0), (5, 1.0)]
    assert profile.ranks_within_language(ranking) == [(1, 1), (2, 2), (3, 1), (4, 3), (5, 2)]


@pytest.mark.parametrize(
    ("languages", "question", "expected"),
    [
        ({1: "zh", 2: "zh"}, "zh", False),
        ({1: "zh", 2: "zh"}, "en", True),
        ({1: "zh", 2: "en"}, "zh", True),
        ({}, "en", False),  # a version built before profiles: nothing known
    ],
)
def test_a_profile_says_whether_it_holds_another_language_than_the_questions(
    languages: dict, question: str, expected: bool
) -> None:
    assert LanguageProfile(languages).holds_other_than(question) is expected  # type: ignore[arg-type]
