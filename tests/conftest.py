"""Shared fixtures: isolated settings, a fake embedder, paths to fixtures and datasets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from askwiki.embedding.embedder import Embedder
from askwiki.settings import Settings
from askwiki.testing.fake_embedder import fake_embedder

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
EXAMPLE_WIKI = ROOT / "examples" / "wiki"
DATASETS = ROOT.parent / "shared" / "datasets"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No test reads the developer's .env or ASKWIKI_* variables."""
    import os

    for key in list(os.environ):
        if key.startswith("ASKWIKI_") or key == "OLLAMA_HOST":
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    yield


@pytest.fixture(autouse=True)
def _restore_root_logging() -> Iterator[None]:
    """CLI tests install a handler on the stream CliRunner closes afterwards; drop it.

    Left in place, every later log record prints a "Logging error" traceback, and those
    tracebacks run ast.parse in whatever thread logged (see askwiki.store.index).
    """
    import logging

    root = logging.getLogger()
    before, level = set(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in before and not type(handler).__module__.startswith("_pytest"):
            root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        index_dir=tmp_path / "indexes",
        data_dir=tmp_path / "data",
        chunk_tokens=64,
        chunk_overlap_tokens=8,
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture
def embedder() -> Embedder:
    return fake_embedder()


# Real PostgreSQL and Redis (the machine's, or throwaway ones): see tests/support/services.py.
from tests.support.services import (  # noqa: E402
    database_url,
    postgres_server,
    postgres_url,
    redis_server,
)

__all__ = ["database_url", "postgres_server", "postgres_url", "redis_server"]
