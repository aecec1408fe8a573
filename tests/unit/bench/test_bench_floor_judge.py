"""bench/floor_judge.py: kept and refused with the judge, as the service maps its verdicts."""

import pytest

from bench.floor_judge import JudgedRow, in_band, shares


def judged(
    answerable: bool,
    answering: tuple[int, ...] | None,
    named_gold: bool = False,
    lead: float = 0.01,
    floor_passes: bool = True,
) -> JudgedRow:
    return JudgedRow(
        set_name="cmrc2018",
        group="kept cmrc2018" if answerable else "refused absent cmrc2018",
        question="q",
        floor_passes=floor_passes,
        floor_keeps=answerable and floor_passes,
        answerable=answerable,
        lead=lead,
        shown=["A"],
        answering=answering,
        named_gold=named_gold,
    )


@pytest.mark.parametrize(
    ("row", "kept", "refused"),
    [
        (judged(True, (1,), named_gold=True), True, False),
        (judged(True, (2,), named_gold=False), False, False),  # only a wrong passage kept
        (judged(True, ()), False, True),
        (judged(True, None), True, False),  # unreadable: the floor's decision
        (judged(False, ()), False, True),
        (judged(False, (1,)), False, False),
        (judged(False, None, floor_passes=False), False, True),
    ],
)
def test_a_verdict_keeps_or_refuses_as_the_service_does(
    row: JudgedRow, kept: bool, refused: bool
) -> None:
    assert row.kept(True) is kept and row.refused(True) is refused


def test_outside_the_band_the_floors_decision_stands() -> None:
    leading = judged(True, (), lead=0.05)
    assert in_band(leading, 0.03).kept(True) and not in_band(leading, 0.1).kept(True)
    assert not in_band(judged(True, (), lead=float("inf")), float("inf")).kept(True)


def test_shares_count_kept_answerable_and_refused_absent_questions() -> None:
    rows = [judged(True, (1,), named_gold=True), judged(True, ()), judged(False, ())]
    assert shares(rows, True) == {"kept cmrc2018": 0.5, "refused absent cmrc2018": 1.0}
    assert shares(rows, False) == {"kept cmrc2018": 1.0, "refused absent cmrc2018": 0.0}
