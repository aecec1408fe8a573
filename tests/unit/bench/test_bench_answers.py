import pytest

from bench.answers import OURS, THEIRS, runs


@pytest.mark.parametrize(
    ("only", "asked"),
    [(None, {OURS, THEIRS}), ("askwiki", {OURS}), ("tutorial", {THEIRS})],
)
def test_only_runs_the_system_it_names(only: str | None, asked: set[str]) -> None:
    assert {system for system in (OURS, THEIRS) if runs(system, only)} == asked
