"""The default model in bfloat16 (packed weights, packed BERT for single texts) against
float32 and against sentence-transformers' own bfloat16 pass: the same vectors."""

from __future__ import annotations

import numpy as np
import pytest

from askwiki.embedding.embedder import Embedder, load_embedder
from askwiki.embedding.packed_bert import SingleTextModel
from askwiki.embedding.packing import PackedLinear
from askwiki.settings import Settings
from tests.integration.test_deferred_embedder import TEXTS

pytestmark = pytest.mark.integration


def loaded(dtype: str) -> Embedder:
    settings = Settings(embedding_dtype=dtype, _env_file=None)  # type: ignore[call-arg]
    return load_embedder(settings, defer=False)


def test_bfloat16_vectors_match_float32_and_its_weights_are_packed() -> None:
    fp32, bf16 = loaded("float32"), loaded("bfloat16")
    assert (fp32.info.dtype, bf16.info.dtype) == ("float32", "bfloat16")
    # Every linear layer of the transformer runs on weights laid out once for oneDNN.
    modules = list(bf16._model.modules())
    assert any(isinstance(m, PackedLinear) for m in modules)
    assert not any(type(m).__name__ == "Linear" for m in modules)
    for embed in ("embed_passages", "embed_queries"):
        a, b = getattr(fp32, embed)(TEXTS), getattr(bf16, embed)(TEXTS)
        assert b.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(b, axis=1), 1.0, rtol=1e-5)
        assert np.min(np.sum(a * b, axis=1)) > 0.999


def test_a_single_question_takes_the_packed_bert_path_with_the_same_vector() -> None:
    fp32, bf16 = loaded("float32"), loaded("bfloat16")
    assert isinstance(bf16._model, SingleTextModel)
    plain = Embedder(bf16.name, bf16._model.model, dtype="bfloat16")
    single = np.stack([bf16.embed_queries([text])[0] for text in TEXTS])
    np.testing.assert_allclose(np.linalg.norm(single, axis=1), 1.0, rtol=1e-5)
    assert np.min(np.sum(single * plain.embed_queries(TEXTS), axis=1)) > 0.9999
    assert np.min(np.sum(single * fp32.embed_queries(TEXTS), axis=1)) > 0.999
