"""Fixtures for the question log: a store on each database, stored answers, steerable embeddings."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from askwiki.answering.types import Answer, Source
from askwiki.embedding.embedder import Embedder
from askwiki.questions import SQLQuestionStore
from askwiki.testing.fake_embedder import FakeSentenceModel
from askwiki.testing.fake_llm import FakeLLM
from tests.support.index_builder import WIKI_PAGES, build_index
from tests.support.wiki_app import wiki_app

DIMENSION = 32


@pytest.fixture
def store(database_url: str) -> Iterator[SQLQuestionStore]:
    """The question log, once on SQLite and once on PostgreSQL (one suite for both)."""
    store = SQLQuestionStore.open(database_url)
    yield store
    store.close()


def make_answer(question: str = "What is LoRA?", **fields: Any) -> Answer:
    values: dict[str, Any] = {
        "id": uuid.uuid4().hex[:16],
        "question": question,
        "answer": "LoRA trains low-rank matrices [1].",
        "language": "en",
        "sources": [
            Source(
                1,
                "lora#0",
                "models/lora.md",
                "LoRA",
                "LoRA › Overview",
                "https://wiki.example.com/models/lora#overview",
                "LoRA was introduced...",
                0.91,
                cited=True,
                chunk_ids=["lora#0"],
            ),
            Source(
                2,
                "bm25#0",
                "retrieval/bm25.md",
                "BM25",
                "BM25 › Parameters",
                None,
                "BM25 has two parameters",
                0.5,
                page=3,
            ),
        ],
        "created_at": "2025-06-01T10:00:00+00:00",
        "model": "fake:fake-llm",
        "timings": {"retrieve_ms": 1.5, "generate_ms": 20.0, "total_ms": 21.5},
        "index_version": "v1",
    }
    values.update(fields)
    return Answer(**values)


def unit(*values: float) -> np.ndarray:
    """A normalised vector of DIMENSION whose first components are ``values``."""
    vector = np.zeros(DIMENSION, dtype=np.float32)
    vector[: len(values)] = values
    return vector / np.linalg.norm(vector)


class SteeredModel(FakeSentenceModel):
    """The fake model, except for the query texts given fixed vectors in ``steer``."""

    def __init__(self) -> None:
        super().__init__(DIMENSION)
        self.steer: dict[str, np.ndarray] = {}

    def encode(self, texts: list[str], prompt: str | None = None, **kwargs: Any) -> np.ndarray:
        vectors = super().encode(texts, prompt, **kwargs)
        for row, text in enumerate(texts):
            if text in self.steer:
                vectors[row] = self.steer[text]
        return vectors


Client = Callable[..., TestClient]


@pytest.fixture
def steered() -> SteeredModel:
    """The fake embedding model with steerable query vectors (``steered.steer[text] = v``)."""
    return SteeredModel()


@pytest.fixture
def client(tmp_path: Path, steered: SteeredModel) -> Iterator[Client]:
    """``client(llm=FakeLLM(...), **settings)``: a TestClient over the 3-page wiki whose
    embedder is ``steered``; the index is in ``tmp_path/indexes/default``."""
    embedder = Embedder("fake-embedding", steered)
    build_index(tmp_path / "indexes" / "default", WIKI_PAGES, embedder)
    opened: list[TestClient] = []

    def make(llm: FakeLLM | None = None, **overrides: Any) -> TestClient:
        defaults = {"index_poll_s": 0.2, "rate_limit_per_minute": 0}
        test_client = TestClient(wiki_app(tmp_path, embedder, llm, **{**defaults, **overrides}))
        test_client.__enter__()
        opened.append(test_client)
        return test_client

    yield make
    for test_client in opened:
        test_client.__exit__(None, None, None)
