from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from askwiki.testing.fake_embedder import fake_embedder
from askwiki.testing.fake_llm import FakeLLM
from tests.support.index_builder import WIKI_PAGES, build_index
from tests.support.wiki_app import wiki_app

ClientFactory = Callable[..., TestClient]


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[ClientFactory]:
    """``make_client(llm=FakeLLM(...), **settings)`` -> a TestClient over a 3-page wiki."""
    clients: list[TestClient] = []
    embedder = fake_embedder()
    build_index(tmp_path / "indexes" / "default", WIKI_PAGES, embedder)

    def make(llm: FakeLLM | None = None, **overrides: Any) -> TestClient:
        app = wiki_app(tmp_path, embedder, llm, **{"index_poll_s": 0.2, **overrides})
        client = TestClient(app)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)
