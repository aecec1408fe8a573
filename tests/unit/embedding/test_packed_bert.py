from pathlib import Path
from typing import Any
from unittest.mock import Mock

import numpy as np
import pytest
import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.base.modules import Transformer
from sentence_transformers.sentence_transformer.modules import Normalize, Pooling
from tokenizers import Tokenizer, models, pre_tokenizers, processors
from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

from askwiki.embedding.packed_bert import PackedBert, SingleTextModel, single_text_model
from askwiki.embedding.packing import pack_linear_layers

WORDS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "query", ":"] + [f"w{i}" for i in range(40)]
WIDTH = 32
TEXTS = ["w1 w2 w3", "w4 w5 w6 w7 w8 w9 w10 w11", "w12"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random BERT with a word-level tokenizer, saved like a hub model (offline)."""
    path = tmp_path_factory.mktemp("tiny-bert")
    tokenizer = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
    ).save_pretrained(path)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(WORDS),
        hidden_size=WIDTH,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    BertModel(config).save_pretrained(path)
    return path


def sentence_model(folder: Path, *, pooling: str = "mean", packed: bool = True) -> Any:
    model = SentenceTransformer(
        modules=[Transformer(str(folder)), Pooling(WIDTH, pooling), Normalize()], device="cpu"
    )
    if packed:
        pack_linear_layers(model.to(torch.bfloat16))
    return model


def reference(model: Any, texts: list[str], prompt: str | None = None) -> np.ndarray:
    vectors: np.ndarray = model.encode(
        texts, prompt=prompt, normalize_embeddings=True, show_progress_bar=False
    )
    return vectors


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosines; a bfloat16 model's "unit" vectors are off by up to ~0.5%."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    return np.sum(a * b, axis=1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def test_packed_bert_gives_the_models_own_hidden_states(folder: Path) -> None:
    bert = sentence_model(folder)[0].auto_model
    ids = torch.tensor([2, 7, 8, 9, 10, 3])
    with torch.inference_mode():
        expected = bert(input_ids=ids[None]).last_hidden_state[0].float()
        actual = PackedBert(bert)(ids).float()
    assert actual.shape == (6, WIDTH)
    torch.testing.assert_close(actual, expected, rtol=0.05, atol=0.05)


@pytest.mark.parametrize("text", TEXTS)
def test_one_text_takes_the_packed_path_with_the_models_vector(
    folder: Path, text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = sentence_model(folder)
    expected = reference(model, [text], prompt="query: ")
    wrapped = single_text_model(model)
    assert isinstance(wrapped, SingleTextModel)
    monkeypatch.setattr(model, "encode", lambda *a, **k: pytest.fail("encode was called"))
    vectors = wrapped.encode([text], prompt="query: ", normalize_embeddings=True)
    assert vectors.shape == (1, WIDTH)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    assert np.min(cosines(vectors, expected)) > 0.9999


@pytest.mark.parametrize(
    ("texts", "options"),
    [
        (TEXTS[:2], {"normalize_embeddings": True}),  # a batch
        (TEXTS[:1], {"normalize_embeddings": False}),
        (TEXTS[:1], {"normalize_embeddings": True, "convert_to_tensor": True}),
    ],
)
def test_other_calls_go_to_sentence_transformers(
    folder: Path, texts: list[str], options: dict[str, Any]
) -> None:
    wrapped = single_text_model(sentence_model(folder))
    calls: list[int] = []
    model = wrapped.model
    original = model.encode

    def counted(batch: list[str], **kwargs: Any) -> Any:
        calls.append(len(batch))
        return original(batch, **kwargs)

    model.encode = counted
    wrapped.encode(texts, **options)
    assert calls == [len(texts)]


def test_the_wrapper_answers_for_the_model(folder: Path) -> None:
    model = sentence_model(folder)
    wrapped = single_text_model(model)
    assert wrapped.get_embedding_dimension() == WIDTH
    assert wrapped.tokenizer is model.tokenizer


def test_a_failure_falls_back_to_sentence_transformers_for_good(
    folder: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    model = sentence_model(folder)
    expected = reference(model, TEXTS[:1])
    wrapped = single_text_model(model)

    def broken(self: PackedBert, ids: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("no oneDNN kernel for this CPU")

    monkeypatch.setattr(PackedBert, "__call__", broken)
    for _ in range(2):
        vectors = wrapped.encode(TEXTS[:1], normalize_embeddings=True, show_progress_bar=False)
        np.testing.assert_array_equal(vectors, expected)
    assert [r.message for r in caplog.records].count(
        "Packed BERT path failed (no oneDNN kernel for this CPU); using sentence-transformers"
    ) == 1


def test_a_tokenizer_error_is_raised_and_leaves_the_packed_path_on(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrapped = single_text_model(sentence_model(folder))
    model = wrapped.model
    tokenize = model.preprocess
    # The transformers tokenizer raises this when two threads reconfigure it at once.
    monkeypatch.setattr(model, "preprocess", Mock(side_effect=RuntimeError("Already borrowed")))
    with pytest.raises(RuntimeError, match="Already borrowed"):
        wrapped.encode(TEXTS[:1], normalize_embeddings=True)
    monkeypatch.setattr(model, "preprocess", tokenize)
    monkeypatch.setattr(model, "encode", lambda *a, **k: pytest.fail("encode was called"))
    assert wrapped.encode(TEXTS[:1], normalize_embeddings=True).shape == (1, WIDTH)


@pytest.mark.parametrize(
    ("case", "build"),
    [
        ("float32 weights, not packed", lambda folder: sentence_model(folder, packed=False)),
        ("CLS pooling", lambda folder: sentence_model(folder, pooling="cls")),
    ],
)
def test_a_model_it_does_not_reproduce_is_returned_as_it_is(
    folder: Path, case: str, build: Any, caplog: pytest.LogCaptureFixture
) -> None:
    model = build(folder)
    assert single_text_model(model) is model, case
    assert "Single texts will use sentence-transformers' encode" in caplog.text


def test_a_wiring_the_probe_disagrees_with_is_not_used(
    folder: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Positions shifted by two (RoBERTa's scheme): close vectors, but not the model's.
    shifted = PackedBert.__call__

    def roberta_positions(self: PackedBert, ids: torch.Tensor) -> torch.Tensor:
        positions = self._positions
        self._positions = positions[2:]
        try:
            return shifted(self, ids)
        finally:
            self._positions = positions

    monkeypatch.setattr(PackedBert, "__call__", roberta_positions)
    model = sentence_model(folder)
    assert single_text_model(model) is model
    assert "probe text" in caplog.text
