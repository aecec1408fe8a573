"""The scoring rules of ``askwiki eval``, as literal tables."""

from __future__ import annotations

import pytest

from askwiki.evaluation.metrics import (
    Gold,
    answer_tokens,
    best_f1,
    contains_answer,
    first_hit_rank,
    hit_at,
    mean,
    normalize_answer,
    reciprocal_rank,
    source_matches,
    token_f1,
    token_recall,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("LoRA", "lora"),
        ("ＬｏＲＡ", "lora"),  # full-width letters
        ("２０２１年", "2021年"),  # full-width digits
        ("k1 = 1.2", "k1=12"),  # spaces and the full stop go, "=" is a symbol and stays
        ("知识蒸馏，由 Hinton 提出。", "知识蒸馏由hinton提出"),
        ("「战史演武」&「争霸演武」", "战史演武争霸演武"),
        ("Straße", "strasse"),  # casefold, not lower
        ("proj_", "proj"),  # "_" is connector punctuation
        ("#cmo", "cmo"),
        ("$150", "$150"),
        ("a\u3000b\tc\n", "abc"),  # ideographic space, tab, newline
        ("", ""),
    ],
)
def test_normalize_answer(text: str, expected: str) -> None:
    assert normalize_answer(text) == expected


@pytest.mark.parametrize(
    ("text", "answers", "expected"),
    [
        ("LoRA was introduced in 2021 [1].", ["2021"], True),
        ("The rank is usually between 4 and 64.", ["4 and 64"], True),
        ("It cut trainable parameters by 10,000 times", ["10000 times"], True),
        ("由光荣和ω-force开发", ["光荣和ω-force"], True),
        ("由光荣和Ω-FORCE开发", ["光荣和ω-force"], True),  # case-folded Greek
        ("温度参数越高越平滑", ["温度"], True),
        ("The answer is 64", ["65B", "sixty-five"], False),
        ("[1] [2]", ["1"], False),  # citation markers are not the answer
        ("anything", [], False),
        ("anything", ["", "  ", "。"], False),  # golds that normalise to nothing never match
    ],
)
def test_contains_answer(text: str, answers: list[str], expected: bool) -> None:
    assert contains_answer(text, answers) is expected


@pytest.mark.parametrize(
    ("doc_id", "sources", "expected"),
    [
        ("rag/overview.md", ["rag/overview.md"], True),
        ("rag/overview.md", ["wiki/rag/overview.md"], True),
        ("rag/overview.md", ["/home/me/wiki/rag/overview.md"], True),
        ("rag/overview.md", ["./rag/overview.md"], True),
        ("rag/overview.md", ["overview.md"], True),  # a bare file name matches its page
        ("rag/overview.md", ["rag\\overview.md"], True),  # Windows separators
        ("rag/overview.md", ["other/overview.md"], False),
        ("rag/overview.md", ["ag/overview.md"], False),  # only on folder boundaries
        ("rag/overview.md", ["rag"], False),
        ("DEV_12", ["DEV_12"], True),
        ("DEV_12", ["DEV_1"], False),
        ("p1", [], False),
        ("p1", [""], False),
    ],
)
def test_source_matches(doc_id: str, sources: list[str], expected: bool) -> None:
    assert source_matches(doc_id, sources) is expected


@pytest.mark.parametrize(
    ("gold", "doc_id", "text", "expected"),
    [
        (Gold(("0.75",), ()), "x.md", "Typical values are k1 = 1.2 and b = 0.75.", True),
        (Gold(("0.75",), ()), "x.md", "b controls length normalisation.", False),
        (Gold((), ("retrieval/bm25.md",)), "retrieval/bm25.md", "unrelated text", True),
        (Gold(("0.75",), ("retrieval/bm25.md",)), "other.md", "b = 0.75", True),
        (Gold(), "any.md", "any text", False),
    ],
)
def test_gold_matches(gold: Gold, doc_id: str, text: str, expected: bool) -> None:
    assert gold.matches(doc_id, text) is expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/srv/wiki/rag/overview.md", True),  # front matter id "rag-overview", file path gold
        ("/srv/wiki/rag/other.md", False),
        (None, False),
    ],
)
def test_gold_matches_a_declared_id_page_by_its_file(path: str | None, expected: bool) -> None:
    assert Gold((), ("rag/overview.md",)).matches("rag-overview", "text", path) is expected


@pytest.mark.parametrize(
    ("gold", "answerable"),
    [
        (Gold(("x",), ()), True),
        (Gold((), ("a.md",)), True),
        (Gold(), False),
        (Gold(("。",), ()), False),
    ],
)
def test_gold_answerable(gold: Gold, answerable: bool) -> None:
    assert gold.answerable is answerable


@pytest.mark.parametrize(
    ("flags", "rank", "hit1", "hit5", "rr"),
    [
        ([True, False, False], 1, 1.0, 1.0, 1.0),
        ([False, True], 2, 0.0, 1.0, 0.5),
        ([False, False, False, False, True], 5, 0.0, 1.0, 0.2),
        ([False] * 5 + [True], 6, 0.0, 0.0, 1 / 6),
        ([False] * 10 + [True], 11, 0.0, 0.0, 0.0),  # beyond MRR@10
        ([False, False], None, 0.0, 0.0, 0.0),
        ([], None, 0.0, 0.0, 0.0),
    ],
)
def test_rank_metrics(
    flags: list[bool], rank: int | None, hit1: float, hit5: float, rr: float
) -> None:
    assert first_hit_rank(flags) == rank
    assert hit_at(rank, 1) == hit1
    assert hit_at(rank, 5) == hit5
    assert reciprocal_rank(rank, 10) == pytest.approx(rr)


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("The rank r is 4 [1].", ["rank", "r", "is", "4"]),
        ("知识蒸馏 2015", ["知", "识", "蒸", "馏", "2015"]),
        ("LoRA是低秩", ["lora", "是", "低", "秩"]),
        ("proj_ channels", ["proj", "channels"]),
    ],
)
def test_answer_tokens(text: str, tokens: list[str]) -> None:
    assert answer_tokens(text) == tokens


@pytest.mark.parametrize(
    ("prediction", "gold", "f1", "recall"),
    [
        ("14 days", "14 days", 1.0, 1.0),
        ("At least 14 days in advance", "14 days", 0.5, 1.0),  # 2 of 6 tokens, all gold
        ("The Total Rewards team", "Total Rewards", 0.8, 1.0),
        ("ten days", "14 days", 0.5, 0.5),
        ("光荣", "光荣和ω-force", 2 * 0.4 / 1.4, 0.4),  # gold: 光 荣 和 ω force
        ("nothing shared", "14 days", 0.0, 0.0),
        ("", "14 days", 0.0, 0.0),
    ],
)
def test_token_f1_and_recall(prediction: str, gold: str, f1: float, recall: float) -> None:
    assert token_f1(prediction, gold) == pytest.approx(f1)
    assert token_recall(prediction, gold) == pytest.approx(recall)


def test_best_f1_takes_the_best_gold() -> None:
    assert best_f1("Total Rewards", ["People", "Total Rewards"]) == 1.0
    assert best_f1("x", []) == 0.0


@pytest.mark.parametrize(("values", "expected"), [([1.0, 0.0, 0.5], 0.5), ([2.0], 2.0), ([], None)])
def test_mean(values: list[float], expected: float | None) -> None:
    assert mean(values) == expected
