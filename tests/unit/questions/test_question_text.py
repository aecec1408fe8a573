from __future__ import annotations

import pytest

from askwiki.questions.text import answer_snippet, normalize_question, question_path, text_overlap


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("What is LoRA?", "whatislora"),
        ("  what is   lora ", "whatislora"),
        ("WHAT IS LORA!!!", "whatislora"),
        ("什么是LoRA？", "什么是lora"),
        ("什么是 ＬｏＲＡ", "什么是lora"),  # full-width letters fold under NFKC
        ("什么是知识蒸馏?", "什么是知识蒸馏"),
        ("C++ vs C#?", "c++vsc"),  # symbols stay, punctuation goes
        ("Straße", "strasse"),
    ],
)
def test_normalize_question(text: str, key: str) -> None:
    assert normalize_question(text) == key


@pytest.mark.parametrize(
    ("answer", "snippet"),
    [
        ("LoRA trains low-rank matrices [1].", "LoRA trains low-rank matrices."),
        (
            "## Overview\n**LoRA** is [a method](https://x.org/a_(b)) [1][2]",
            "Overview LoRA is a method",
        ),
        ("- one\n- two", "one two"),
        ("x" * 200, "x" * 119 + "…"),
    ],
)
def test_answer_snippet_is_plain_text(answer: str, snippet: str) -> None:
    assert answer_snippet(answer) == snippet


@pytest.mark.parametrize(
    ("question", "path"),
    [
        ("What is LoRA?", "/q/abc/what-is-lora"),
        ("什么是 知识蒸馏？", "/q/abc/什么是-知识蒸馏"),
        ("???", "/q/abc"),
    ],
)
def test_question_path_has_a_readable_slug(question: str, path: str) -> None:
    assert question_path("abc", question) == path


@pytest.mark.parametrize(
    ("first", "second", "overlap"),
    [
        ("whointroducedlora", "whointroducedlora", 1.0),
        ("whointroducedlora", "whoinventedlora", 0.67),
        ("whointroducedlora", "whatislora", 0.32),
        ("知识蒸馏是谁提出的", "谁提出了知识蒸馏", 0.67),
        ("什么是知识蒸馏", "知识蒸馏是谁提出的", 0.43),
        ("a", "a", 1.0),
        ("a", "b", 0.0),
    ],
)
def test_text_overlap_is_shared_character_bigrams(first: str, second: str, overlap: float) -> None:
    assert text_overlap(first, second) == pytest.approx(overlap, abs=0.005)
