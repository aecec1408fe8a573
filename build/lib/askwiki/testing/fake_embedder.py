"""A stand-in for a sentence-transformers model: deterministic vectors, a simple tokenizer.

Vectors come from langchain-core's ``DeterministicFakeEmbedding`` (same text, same
vector), normalised like the real model's. Tokens: one per CJK character, one per other
word, so token budgets in tests are easy to reason about.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
from langchain_core.embeddings import DeterministicFakeEmbedding

from askwiki.embedding.embedder import Embedder

_TOKEN = re.compile(r"[\u3400-\u9fff]|[^\s\u3400-\u9fff]+")


class FakeTokenizer:
    def __call__(self, texts: Any, **kwargs: Any) -> dict[str, Any]:
        if isinstance(texts, str):
            spans = [(m.start(), m.end()) for m in _TOKEN.finditer(texts)]
            return {"input_ids": list(range(len(spans))), "offset_mapping": spans}
        return {"input_ids": [[0] * len(_TOKEN.findall(t)) for t in texts]}


class FakeSentenceModel:
    max_seq_length = 512

    def __init__(self, dimension: int = 32) -> None:
        self.prompts = {"query": "query: ", "passage": "passage: "}
        self._fake = DeterministicFakeEmbedding(size=dimension)
        self._dimension = dimension
        self.tokenizer = FakeTokenizer()
        self.encoded: list[str] = []

    def get_sentence_embedding_dimension(self) -> int:
        return self._dimension

    def encode(self, texts: list[str], prompt: str | None = None, **kwargs: Any) -> np.ndarray:
        full = [(prompt or "") + t for t in texts]
        self.encoded.extend(full)
        vectors = np.asarray(self._fake.embed_documents(full), dtype=np.float32)
        normalized: np.ndarray = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        return normalized


def fake_embedder(name: str = "fake-embedding", dimension: int = 32) -> Embedder:
    return Embedder(name, FakeSentenceModel(dimension))
