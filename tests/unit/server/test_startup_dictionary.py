"""The server reads the bilingual dictionary at start when searches use it, not in a question."""

from __future__ import annotations

import pytest

from askwiki.server import app as app_module
from tests.unit.server.conftest import ClientFactory


@pytest.mark.parametrize(
    ("cross_language", "dictionary", "read_at_start"),
    [(True, True, True), (True, False, False), (False, True, False)],
)
def test_the_dictionary_is_read_at_start_only_when_searches_use_it(
    make_client: ClientFactory,
    monkeypatch: pytest.MonkeyPatch,
    cross_language: bool,
    dictionary: bool,
    read_at_start: bool,
) -> None:
    reads: list[bool] = []
    monkeypatch.setattr(app_module, "read_in_background", lambda: reads.append(True))
    make_client(cross_language=cross_language, bilingual_dictionary=dictionary)
    assert reads == ([True] if read_at_start else [])
