"""The askwiki app (or its settings) over a test wiki indexed in ``tmp_path/indexes/default``.

Every server-level test builds it the same way; a fixture adds only what it needs
(another embedder, a slower LLM, rate limits off).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI

from askwiki.embedding.embedder import Embedder
from askwiki.server.app import create_app
from askwiki.settings import Settings
from askwiki.testing.fake_llm import FakeLLM

LORA_ANSWER = "LoRA was introduced by Hu et al. in 2021 [1]."


def wiki_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Settings for the index and data under ``tmp_path``, with the relevance floor off (the
    fake embedder's cosines mean nothing)."""
    values: dict[str, Any] = {
        "index_dir": tmp_path / "indexes",
        "data_dir": tmp_path / "data",
        "min_dense_score": -1.0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def wiki_app(
    tmp_path: Path, embedder: Embedder, llm: FakeLLM | None = None, **overrides: Any
) -> FastAPI:
    """``create_app`` over ``wiki_settings``; the LLM answers ``LORA_ANSWER`` unless given."""
    backend = llm or FakeLLM([LORA_ANSWER])
    return create_app(
        wiki_settings(tmp_path, **overrides), embedder=embedder, llm_factory=lambda: backend
    )
