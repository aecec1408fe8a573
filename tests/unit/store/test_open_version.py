"""Opening a version survives CPython 3.11's cross-thread AST race but still reports damage."""

from __future__ import annotations

from pathlib import Path

import pytest

from askwiki.embedding.embedder import Embedder
from askwiki.errors import IndexCorruptError
from askwiki.store import index as index_module
from askwiki.store.index import open_version
from askwiki.store.keyword import KeywordIndex
from tests.support.index_builder import WIKI_PAGES, build_index

RACE = SystemError("AST constructor recursion depth mismatch (before=54, after=171)")


def _keyword_load_failing(monkeypatch: pytest.MonkeyPatch, failures: list[Exception]) -> list[int]:
    real_load = KeywordIndex.load
    calls: list[int] = []

    def load(folder: Path) -> KeywordIndex:
        calls.append(1)
        if failures:
            raise failures.pop(0)
        return real_load(folder)

    monkeypatch.setattr(index_module.KeywordIndex, "load", staticmethod(load))
    return calls


def test_a_read_that_raced_another_threads_ast_use_is_retried(
    tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    version = build_index(tmp_path / "wiki", WIKI_PAGES, embedder)
    calls = _keyword_load_failing(monkeypatch, [RACE, RACE])

    index = open_version(tmp_path / "wiki", version)

    assert len(calls) == 3
    assert index.version == version
    assert len(index.keyword) == index.manifest.chunks > 0
    index.close()


def test_a_race_that_persists_is_reported_as_unreadable(
    tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    version = build_index(tmp_path / "wiki", WIKI_PAGES, embedder)
    calls = _keyword_load_failing(monkeypatch, [RACE, RACE, RACE])

    with pytest.raises(IndexCorruptError, match=r"cannot be read .*recursion depth mismatch"):
        open_version(tmp_path / "wiki", version)
    assert len(calls) == 3


def test_other_system_errors_are_not_retried(
    tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    version = build_index(tmp_path / "wiki", WIKI_PAGES, embedder)
    calls = _keyword_load_failing(monkeypatch, [SystemError("bad file descriptor")])

    with pytest.raises(IndexCorruptError, match="bad file descriptor"):
        open_version(tmp_path / "wiki", version)
    assert len(calls) == 1
