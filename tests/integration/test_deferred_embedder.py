"""The default model read from its folder without its weights until something is embedded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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
    # Nothing changed, so nothing was split either: the tokenizer stays unread.
    assert model_of(again)._tokenizer is None


# The unchanged re-run as a user runs it: a fresh `askwiki ingest` process.
RERUN = r"""
import json, sys
from askwiki.cli.main import main
sys.argv = ["askwiki", "ingest", sys.argv[1], "--json"]
try:
    main()
finally:
    heavy = ("torch", "sentence_transformers", "transformers", "sqlalchemy", "alembic")
    sys.stderr.write("MODULES " + json.dumps([m for m in heavy if m in sys.modules]) + "\n")
"""


def test_an_unchanged_reingest_process_imports_no_model_stack_and_keeps_the_version(
    tmp_path: Path, real_embedder: Embedder
) -> None:
    settings = Settings(index_dir=tmp_path, index="default", _env_file=None)  # type: ignore[call-arg]
    first = run_ingest([EXAMPLE_WIKI / "retrieval"], settings, real_embedder)
    assert first.version is not None and first.chunks_embedded > 0

    env = {**os.environ, "ASKWIKI_INDEX_DIR": str(tmp_path), "ASKWIKI_INDEX": "default"}
    env.pop("ASKWIKI_DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", RERUN, str(EXAMPLE_WIKI / "retrieval")],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["version"] == first.version
    assert report["unchanged"] == first.documents and report["chunks_embedded"] == 0
    imported = json.loads(done.stderr.rsplit("MODULES ", 1)[1])
    assert imported == []


def test_the_first_embedding_loads_the_model_and_matches_it(
    deferred: Embedder, real_embedder: Embedder
) -> None:
    vectors = deferred.embed_queries(TEXTS[:2])
    assert model_of(deferred).loaded
    np.testing.assert_allclose(vectors, real_embedder.embed_queries(TEXTS[:2]), atol=1e-5)
