from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from askwiki.server.app import create_app
from askwiki.settings import Settings
from askwiki.testing.fake_embedder import fake_embedder
from askwiki.testing.fake_llm import FakeLLM
from tests.support.index_builder import WIKI_PAGES, build_index

ClientFactory = Callable[..., TestClient]


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[ClientFactory]:
    """``make_client(llm=FakeLLM(...), **settings)`` -> a TestClient over a 3-page wiki."""
    clients: list[TestClient] = []
    embedder = fake_embedder()
    build_index(tmp_path / "indexes" / "default", WIKI_PAGES, embedder)

    def make(llm: FakeLLM | None = None, **overrides: Any) -> TestClient:
        values: dict[str, Any] = {
            "index_dir": tmp_path / "indexes",
            "data_dir": tmp_path / "data",
            "min_dense_score": -1.0,
            "index_poll_s": 0.2,
        }
        values.update(overrides)
        settings = Settings(_env_file=None, **values)  # type: ignore[call-arg]
        backend = llm or FakeLLM(["LoRA was introduced by Hu et al. in 2021 [1]."])
        client = TestClient(create_app(settings, embedder=embedder, llm_factory=lambda: backend))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)
