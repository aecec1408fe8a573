"""One short text through BERT's packed bfloat16 layers, without the frameworks around them.

A question is 10-40 tokens. For so few rows the products are cheap and what a query costs
is mostly around them: sentence-transformers' ``encode`` (sorting, collating, a padding
mask, the unused pooler) and transformers' BERT (module calls, mask handling, dropout and a
separate GELU in every one of 12 layers). ``PackedBert`` runs the same layers on the same
packed weights (``packing.py``) as a plain loop for one unpadded text: no mask is needed,
GELU is fused into its linear layer, and mean pooling is a mean. On an AMD Zen 5
(AVX512-BF16, no AMX) that made one question's embedding 1.4-1.7x faster in CPU time than
``encode`` on the same packed bfloat16 model (3.1-3.4x float32 ``encode``), with the same
vector (cosine >= 0.99996; README "Embedding dtype").

``single_text_model`` wraps a loaded sentence-transformers model so that an ``encode`` of
one text takes this path. Anything more keeps ``encode``: for two texts (a question and its
translation) one batch costs what two loops do, and from three on the batch is cheaper.
The wrapper is built only when the model is a plain BERT with mean pooling whose every
encoder linear layer is packed, and only when it reproduces the model's own vector for a
probe text; otherwise, or when it fails later, the model is used as it is (logged).
Imports torch: load it only where the model is loaded.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from askwiki.embedding.packing import PackedLinear, packed_linear

logger = logging.getLogger(__name__)

PROBE_TEXT = "知识蒸馏把大模型的知识迁移到小模型。 LoRA trains two low-rank matrices."
MIN_PROBE_COSINE = 0.9999


@dataclass(frozen=True)
class _Layer:
    query: PackedLinear
    key: PackedLinear
    value: PackedLinear
    attention_out: PackedLinear
    attention_norm: torch.nn.LayerNorm
    intermediate: PackedLinear
    out: PackedLinear
    out_norm: torch.nn.LayerNorm


class PackedBert:
    """A ``BertModel``'s forward pass for one unpadded text, sharing the model's tensors.

    Raises ``ValueError`` when the model is not one it reproduces: another activation or
    position scheme, or an encoder linear layer left unpacked.
    """

    def __init__(self, bert: Any) -> None:
        config = bert.config
        if config.hidden_act != "gelu":
            raise ValueError(f"activation {config.hidden_act!r}, not BERT's exact GELU")
        if getattr(config, "position_embedding_type", "absolute") != "absolute":
            raise ValueError(f"position embeddings {config.position_embedding_type!r}")
        embeddings = bert.embeddings
        self._words: torch.Tensor = embeddings.word_embeddings.weight
        self._positions: torch.Tensor = embeddings.position_embeddings.weight
        self._segment: torch.Tensor = embeddings.token_type_embeddings.weight[0]
        self._embedding_norm: torch.nn.LayerNorm = embeddings.LayerNorm
        self._heads = int(config.num_attention_heads)
        self._layers = [
            _Layer(
                _packed(layer.attention.self.query),
                _packed(layer.attention.self.key),
                _packed(layer.attention.self.value),
                _packed(layer.attention.output.dense),
                layer.attention.output.LayerNorm,
                _packed(layer.intermediate.dense),
                _packed(layer.output.dense),
                layer.output.LayerNorm,
            )
            for layer in bert.encoder.layer
        ]

    def __call__(self, ids: torch.Tensor) -> torch.Tensor:
        """Hidden states (tokens x width) of the token ids of one text (1-D)."""
        tokens, width = ids.shape[0], self._words.shape[1]
        # Each projection is viewed as (tokens, heads, head width), then transposed to the
        # (heads, tokens, head width) that scaled_dot_product_attention takes.
        heads = (tokens, self._heads, width // self._heads)
        x = self._words[ids] + self._positions[:tokens] + self._segment
        x = _norm(x, self._embedding_norm)
        for layer in self._layers:
            query = packed_linear(x, layer.query).view(heads).transpose(0, 1)
            key = packed_linear(x, layer.key).view(heads).transpose(0, 1)
            value = packed_linear(x, layer.value).view(heads).transpose(0, 1)
            attended = F.scaled_dot_product_attention(query, key, value)
            attended = attended.transpose(0, 1).reshape(tokens, width)
            x = _norm(packed_linear(attended, layer.attention_out) + x, layer.attention_norm)
            inner = packed_linear(x, layer.intermediate, gelu=True)
            x = _norm(packed_linear(inner, layer.out) + x, layer.out_norm)
        return x


def _packed(module: Any) -> PackedLinear:
    if not isinstance(module, PackedLinear):
        raise ValueError(f"a linear layer is not packed ({type(module).__name__})")
    return module


def _norm(x: torch.Tensor, norm: torch.nn.LayerNorm) -> torch.Tensor:
    return F.layer_norm(x, norm.normalized_shape, norm.weight, norm.bias, norm.eps)


class SingleTextModel:
    """A sentence-transformers model whose ``encode`` of one text runs ``PackedBert``.

    Everything else (attributes, larger ``encode`` calls) is the wrapped model's.
    """

    def __init__(self, model: Any, encoder: PackedBert) -> None:
        self.model = model
        self._encoder: PackedBert | None = encoder

    def __getattr__(self, name: str) -> Any:
        if name == "model":  # not set yet (a copy under construction): no recursion
            raise AttributeError(name)
        return getattr(self.model, name)

    def encode(
        self,
        texts: Sequence[str],
        prompt: str | None = None,
        normalize_embeddings: bool = False,
        **kwargs: Any,
    ) -> Any:
        encoder = self._encoder
        # Only what ``Embedder`` asks for: numpy, unit vectors, no other options.
        plain = set(kwargs) <= {"batch_size", "show_progress_bar", "convert_to_numpy"}
        if (
            encoder is not None
            and normalize_embeddings
            and plain
            and kwargs.get("convert_to_numpy", True)
            and isinstance(texts, list)
            and len(texts) == 1
        ):
            # Tokenising fails (or not) as it would in ``encode``; only the pass itself
            # failing turns this path off.
            ids = self.token_ids(texts[0], prompt)
            try:
                return _unit_vector(encoder, ids)[None]
            except (RuntimeError, ValueError) as exc:
                self._encoder = None
                logger.warning("Packed BERT path failed (%s); using sentence-transformers", exc)
        return self.model.encode(
            texts, prompt=prompt, normalize_embeddings=normalize_embeddings, **kwargs
        )

    def token_ids(self, text: str, prompt: str | None) -> torch.Tensor:
        """The ids ``encode`` would feed the model for ``text`` (prompt, truncation)."""
        ids: torch.Tensor = self.model.preprocess([text], prompt=prompt)["input_ids"][0]
        return ids


def _unit_vector(encoder: PackedBert, ids: torch.Tensor) -> np.ndarray:
    """Mean of the hidden states (one unpadded text: every token counts), normalised."""
    with torch.inference_mode():
        vector = F.normalize(encoder(ids).float().mean(dim=0), dim=0)
    result: np.ndarray = vector.numpy()
    return result


def single_text_model(model: Any) -> Any:
    """``model`` with ``PackedBert`` for calls of one text, or ``model`` itself when that
    path does not reproduce it (logged)."""
    try:
        encoder = PackedBert(_plain_bert(model))
        wrapped = SingleTextModel(model, encoder)
        [reference] = model.encode([PROBE_TEXT], normalize_embeddings=True, show_progress_bar=False)
        # In bfloat16 the model's own "unit" vector is off by up to ~0.5% in norm.
        reference = reference.astype(np.float64) / np.linalg.norm(reference)
        cosine = float(
            np.dot(_unit_vector(encoder, wrapped.token_ids(PROBE_TEXT, None)), reference)
        )
    except (AttributeError, IndexError, KeyError, TypeError, ValueError, RuntimeError) as exc:
        logger.warning("Single texts will use sentence-transformers' encode: %s", exc)
        return model
    if cosine < MIN_PROBE_COSINE:
        logger.warning(
            "Single texts will use sentence-transformers' encode: the packed BERT path "
            "gave cosine %.6f against it on a probe text",
            cosine,
        )
        return model
    logger.debug("Single texts run through packed BERT (probe cosine %.6f)", cosine)
    return wrapped


def _plain_bert(model: Any) -> Any:
    """The BERT model inside a Transformer + mean Pooling (+ Normalize) pipeline."""
    kinds = [type(module).__name__ for module in model]
    if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
        raise ValueError(f"modules {kinds}, not Transformer + Pooling (+ Normalize)")
    pooling = model[1]
    if pooling.pooling_mode != "mean" or not pooling.include_prompt:
        raise ValueError(f"pooling {pooling.pooling_mode!r} (prompt: {pooling.include_prompt})")
    bert = model[0].auto_model
    if type(bert).__name__ != "BertModel":
        raise ValueError(f"model {type(bert).__name__}, not BertModel")
    return bert
