import pytest

from askwiki.heading_leg import fuse_heading_ranks, heading_ranks, heading_weights
from askwiki.language_legs import LanguageRanking
from askwiki.text import keyword_tokens

QUESTION = "What does the temperature do in knowledge distillation?"
TRANSLATION = "知识蒸馏中温度如何影响？"
# The keywords of both with made-up rarities: the concept words rare, 知识 and 影响 common.
RARITY = {"知识": 0.5, "影响": 0.2}
WEIGHTS = {t: RARITY.get(t, 2.0) for t in keyword_tokens(QUESTION) + keyword_tokens(TRANSLATION)}


def test_a_chinese_heading_named_by_the_translation_outweighs_an_unrelated_english_title() -> None:
    headings = {
        1: keyword_tokens("Model Compression Notes"),
        2: keyword_tokens("知识蒸馏 › 知识蒸馏（Knowledge Distillation） › 温度"),
        3: keyword_tokens("知识图谱 › 知识图谱（Knowledge Graph）"),
    }
    weights = heading_weights(WEIGHTS, headings)
    assert 1 not in weights
    assert weights[2] > weights[3] > 0
    assert heading_ranks(weights) == {2: 1, 3: 2}


def test_a_word_repeated_in_the_heading_path_counts_once() -> None:
    weights = heading_weights(WEIGHTS, {7: ["蒸馏", "蒸馏", "蒸馏"]})
    assert weights == {7: pytest.approx(WEIGHTS["蒸馏"])}


@pytest.mark.parametrize(
    ("weights", "ranks"),
    [
        ({}, {}),
        ({4: 1.0}, {4: 1}),
        # An article's paragraphs share its title: one rank, and the next weight comes second.
        ({1: 3.0, 2: 3.0, 3: 1.0}, {1: 1, 2: 1, 3: 2}),
        ({1: 0.5, 2: 2.0, 3: 1.0}, {2: 1, 3: 2, 1: 3}),
    ],
)
def test_equal_weights_share_a_rank(weights: dict[int, float], ranks: dict[int, int]) -> None:
    assert heading_ranks(weights) == ranks


def test_the_heading_leg_puts_the_page_it_names_first_when_the_other_legs_tie() -> None:
    # Each first in its language's legs (language_legs): the English notes and the Chinese
    # page whose title the translation names; only the latter's heading holds its words.
    fused = {1: 1 / 61 + 1 / 61, 2: 1 / 62 + 1 / 61, 3: 1 / 61 + 1 / 62}
    ranking = LanguageRanking([1, 3, 2], fused, {1: 0, 2: 1, 3: 1}, {}, {})
    fuse_heading_ranks(ranking, heading_ranks({3: 4.5, 2: 0.5}), 1.0, 60)
    assert ranking.order == [3, 2, 1]


def test_rows_the_other_legs_did_not_find_are_not_added() -> None:
    ranking = LanguageRanking([1], {1: 1 / 61}, {1: 0}, {}, {})
    fuse_heading_ranks(ranking, {9: 1}, 1.0, 60)
    assert ranking.order == [1] and 9 not in ranking.fused
