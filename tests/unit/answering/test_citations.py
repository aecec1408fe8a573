import pytest

from askwiki.answering.citations import (
    check_citations,
    marker_numbers,
    split_answer,
    strip_markers,
)
from askwiki.testing.fake_embedder import fake_embedder

EMBED = fake_embedder().embed_passages
SOURCES = [
    "知识蒸馏由 Hinton 等人在 2015 年提出，学生模型学习教师模型的软标签。",
    "LoRA was introduced by Hu et al. in 2021 and freezes the pretrained weights.",
]
VECTORS = [EMBED([source]) for source in SOURCES]  # one chunk per source, as indexed


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        ("a [1] b [2]", [1, 2]),
        ("x [1, 2]", [1, 2]),
        ("【3】", [3]),
        ("[^4]", [4]),
        ("[来源 2]", [2]),
        ("[n]", []),
    ],
)
def test_marker_forms_are_recognised(text: str, numbers: list[int]) -> None:
    assert marker_numbers(text) == numbers


def test_split_answer_keeps_marker_after_full_stop_with_its_sentence() -> None:
    assert split_answer("It was Hinton. [1] Then LoRA [2].") == [
        "It was Hinton. [1]",
        " Then LoRA [2].",
    ]


@pytest.mark.parametrize(
    ("answer", "expected", "cited"),
    [
        # swapped markers are corrected (observed with the default model)
        ("知识蒸馏由Hinton在2015年提出[2]。", "知识蒸馏由Hinton在2015年提出[1]。", [1]),
        # a missing marker is attached before the closing punctuation
        (
            "LoRA was introduced by Hu et al. in 2021.",
            "LoRA was introduced by Hu et al. in 2021 [2].",
            [2],
        ),
        # a marker pointing to no source is removed, the right one attached
        (
            "LoRA freezes the pretrained weights [7].",
            "LoRA freezes the pretrained weights [2].",
            [2],
        ),
        # an unsupported sentence loses its marker and cites nothing
        ("Bananas are yellow fruit [1].", "Bananas are yellow fruit.", []),
        # a correct marker is kept as it is
        ("学生模型学习教师模型的软标签[1]。", "学生模型学习教师模型的软标签[1]。", [1]),
    ],
)
def test_markers_are_verified_against_sources(answer: str, expected: str, cited: list[int]) -> None:
    checked = check_citations(answer, SOURCES, VECTORS, EMBED)
    assert (checked.text, checked.cited) == (expected, cited)


def test_no_sources_strips_every_marker() -> None:
    checked = check_citations("Something [1].", [], [], EMBED)
    assert (checked.text, checked.cited, checked.corrections) == ("Something.", [], 1)


def test_a_merged_source_supports_a_sentence_through_its_closest_chunk() -> None:
    answer = "Its parameter k1 controls saturation [1]."
    plain = strip_markers(answer).strip()
    # The fake embedder only gives identical texts a high cosine, and the source text shares
    # no keyword with the sentence: only the stored vector of its second chunk can support it.
    source = ["Unrelated opening words here."]

    second_chunk = check_citations(answer, source, [EMBED(["Opening chunk.", plain])], EMBED)
    first_chunk = check_citations(answer, source, [EMBED(["Opening chunk."])], EMBED)

    assert second_chunk.cited == [1]
    assert first_chunk.cited == []
