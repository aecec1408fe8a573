import numpy as np
import pytest

from askwiki.language_legs import (
    LanguageRanking,
    QueryForm,
    keyword_standard_scores,
    margins,
    owning_form,
    rank_by_language,
)
from askwiki.text import Language

# Rows 1-2 are English, 3-4 Chinese; row 9 was added after the profile was built.
LANGUAGES: dict[int, Language] = {1: "en", 2: "en", 3: "zh", 4: "zh"}
EN = QueryForm("What controls saturation?", np.array([1.0, 0.0], dtype=np.float32), "en")
ZH = QueryForm("什么控制饱和？", np.array([0.0, 1.0], dtype=np.float32), "zh")


def fake_search(
    by_form: dict[str, list[tuple[int, float]]],
) -> tuple[object, object]:
    """Dense and keyword searches answering from fixed lists per form (keyed by language)."""

    def dense(vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        return by_form["en" if vector[0] else "zh"][:k]

    def keyword(text: str, k: int) -> list[tuple[int, float]]:
        return by_form["en" if text.isascii() else "zh"][:k]

    return dense, keyword


def ranking(by_form: dict[str, list[tuple[int, float]]]) -> LanguageRanking:
    dense, keyword = fake_search(by_form)
    return rank_by_language(
        [EN, ZH],
        LANGUAGES,
        dense,
        keyword,
        10,
        (1.0, 1.0),
        60,  # type: ignore[arg-type]
    )


def rank(by_form: dict[str, list[tuple[int, float]]]) -> list[int]:
    return ranking(by_form).order


@pytest.mark.parametrize(("row_id", "expected"), [(1, 0), (2, 0), (3, 1), (4, 1), (9, 0)])
def test_each_row_belongs_to_the_form_in_its_language_unknown_rows_to_the_question(
    row_id: int, expected: int
) -> None:
    assert owning_form(row_id, [EN, ZH], LANGUAGES) == expected


def test_a_form_never_ranks_passages_of_the_other_language() -> None:
    # The Chinese translation's raw cosines put English row 2 first; it is not its to rank.
    ranked = ranking(
        {"en": [(1, 0.84), (3, 0.83), (2, 0.80)], "zh": [(2, 0.95), (4, 0.90), (3, 0.80)]}
    )
    assert ranked.cosines == {1: 0.84, 2: 0.80, 4: 0.90, 3: 0.80}
    assert ranked.owner == {1: 0, 2: 0, 3: 1, 4: 1}


def test_a_passage_standing_out_for_its_form_beats_a_higher_cosine_that_does_not() -> None:
    # Chinese cosines run higher for any text, but English row 1 stands out from its peers.
    order = rank({"en": [(1, 0.86), (2, 0.78)], "zh": [(3, 0.88), (4, 0.87)]})
    assert order[0] == 1


def test_the_question_alone_in_its_language_keeps_its_order() -> None:
    order = rank({"en": [(2, 0.9), (1, 0.8)], "zh": []})
    assert order == [2, 1]


@pytest.mark.parametrize(
    ("dense", "expected"),
    [([], []), ([(1, 0.8)], [(1, 0.0)]), ([(1, 0.9), (2, 0.7)], [(1, 0.1), (2, -0.1)])],
)
def test_margins_are_cosines_over_the_lists_mean(
    dense: list[tuple[int, float]], expected: list[tuple[int, float]]
) -> None:
    found = margins(dense)
    assert [r for r, _ in found] == [r for r, _ in expected]
    assert [m for _, m in found] == pytest.approx([m for _, m in expected])


@pytest.mark.parametrize(
    ("keyword", "expected"),
    [
        ([], []),
        ([(1, 7.0)], [(1, 0.0)]),
        ([(1, 9.0), (2, 3.0)], [(1, 1.0), (2, -1.0)]),
        ([(1, 9.0), (2, 6.0), (3, 3.0)], [(1, 1.2247), (2, 0.0), (3, -1.2247)]),
    ],
)
def test_keyword_standard_scores_are_taken_within_the_list(
    keyword: list[tuple[int, float]], expected: list[tuple[int, float]]
) -> None:
    found = keyword_standard_scores(keyword)
    assert [r for r, _ in found] == [r for r, _ in expected]
    assert [m for _, m in found] == pytest.approx([m for _, m in expected], abs=1e-4)


def test_a_page_standing_out_in_words_beats_the_other_forms_first_among_equals() -> None:
    # The Chinese question's page 3 stands out in BM25 but is second by cosine; its English
    # translation's first, row 1, scores about as well as rows 2 and 6. Counted within
    # each language, both BM25 firsts would tie and the cosines would put 4 and 1 ahead.
    def dense(vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        return [(1, 0.83), (2, 0.80), (6, 0.77)] if vector[0] else [(4, 0.89), (3, 0.88), (5, 0.8)]

    def keyword(text: str, k: int) -> list[tuple[int, float]]:
        return [(1, 6.2), (2, 6.0), (6, 5.8)] if text.isascii() else [(3, 14.0), (4, 2.0), (5, 1.0)]

    languages: dict[int, Language] = {1: "en", 2: "en", 6: "en", 3: "zh", 4: "zh", 5: "zh"}
    ranked = rank_by_language([EN, ZH], languages, dense, keyword, 10, (1.0, 1.0), 60)

    assert ranked.order[0] == 3
