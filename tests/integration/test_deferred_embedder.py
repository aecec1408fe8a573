"""The default model read from its folder without its weights until something is embedded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from askwiki.embedding.deferred import DeferredModel, read_folder_config
from askwiki.embedding.embedder import Embedder, load_embedder
from askwiki.ingest.pipeline import run_ingest
from askwiki.settings import Settings
from tests.conftest import EXAMPLE_WIKI

pytestmark = pytest.mark.integration

TEXTS = [
    "知识蒸馏（Knowledge Distillation）把大模型的知识迁移到小模型。",
    "LoRA freezes the base model and trains two low-rank matrices per layer.",
    "混合检索：BM25 与向量检索用 RRF 融合，k=60。 Ｆｕｌｌ－ｗｉｄｔｈ ～ text\tand\ncontrol\x07 chars",
]


@pytest.fixture(scope="module")
def deferred() -> Embedder:
    return load_embedder(Settings(_env_file=None))  # type: ignore[call-arg]


def model_of(embedder: Embedder) -> DeferredModel:
    model = embedder._model
    assert isinstance(model, DeferredModel)
    return model


def test_the_default_folder_is_plain_and_declares_its_dimension_prompts_and_length(
    deferred: Embedder,
) -> None:
    config = read_folder_config(model_of(deferred).folder)
    assert config is not None
    assert (config.dimension, config.max_seq_length) == (384, 512)
    assert config.prompts == {"query": "query: ", "passage": "passage: "}


def test_tokens_are_counted_and_split_exactly_as_the_loaded_model_does(
    deferred: Embedder, real_embedder: Embedder
) -> None:
    assert deferred.count_tokens(TEXTS) == real_embedder.count_tokens(TEXTS)
    long_text = " ".join(TEXTS * 20)
    assert deferred.split_by_tokens(long_text, 50) == real_embedder.split_by_tokens(long_text, 50)
    assert deferred.info == real_embedder.info


def test_an_unchanged_reingest_never_loads_the_weights(tmp_path: Path) -> None:
    settings = Settings(index_dir=tmp_path, index="t", _env_file=None)  # type: ignore[call-arg]
    first = load_embedder(settings)
    run_ingest([EXAMPLE_WIKI / "retrieval"], settings, first)
    assert model_of(first).loaded  # new pages were embedded

    again = load_embedder(settings)
    report = run_ingest([EXAMPLE_WIKI / "retrieval"], settings, again)
    assert report.chunks_embedded == 0 and report.documents > 0
    assert not model_of(again).loaded


def test_the_first_embedding_loads_the_model_and_matches_it(
    deferred: Embedder, real_embedder: Embedder
) -> None:
    vectors = deferred.embed_queries(TEXTS[:2])
    assert model_of(deferred).loaded
    np.testing.assert_allclose(vectors, real_embedder.embed_queries(TEXTS[:2]), atol=1e-5)
