"""A sentence-transformers folder that loads its weights only when something is encoded.

Ingesting splits every changed page by token counts before it embeds anything, and an
unchanged re-run embeds nothing at all: neither needs torch or the weights, only the
tokenizer and what the folder's configuration says (dimension, prompts, length limit);
the re-run does not even need the tokenizer, so it is read on first use too.
``DeferredModel`` offers exactly the part of ``SentenceTransformer`` that ``Embedder``
uses, answers it from those files, and loads the real model on the first ``encode``.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tokenizers import Tokenizer

logger = logging.getLogger(__name__)

# The layouts whose output dimension is the transformer's: no Dense layer after pooling.
PLAIN_LAYOUTS = (
    ["Transformer", "Pooling"],
    ["Transformer", "Pooling", "Normalize"],
)


@dataclass(frozen=True)
class FolderConfig:
    """What a plain sentence-transformers folder declares about itself."""

    dimension: int
    max_seq_length: int
    prompts: dict[str, str]


def read_folder_config(folder: Path) -> FolderConfig | None:
    """The folder's configuration, or None when it is not a plain local folder we can read.

    None means: load the model the ordinary way (a hub id, a Dense head, a slow tokenizer).
    """
    try:
        modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
        kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
        if kinds not in PLAIN_LAYOUTS or not (folder / "tokenizer.json").is_file():
            return None
        pooling_path = next(m["path"] for m in modules if m["type"].endswith("Pooling"))
        pooling = json.loads((folder / pooling_path / "config.json").read_text(encoding="utf-8"))
        bert = json.loads((folder / "sentence_bert_config.json").read_text(encoding="utf-8"))
        st_config = folder / "config_sentence_transformers.json"
        prompts = (
            json.loads(st_config.read_text(encoding="utf-8")).get("prompts") or {}
            if st_config.is_file()
            else {}
        )
        return FolderConfig(
            int(pooling["word_embedding_dimension"]), int(bert["max_seq_length"]), dict(prompts)
        )
    except (OSError, ValueError, KeyError, TypeError, StopIteration):
        return None


class FolderTokenizer:
    """The folder's ``tokenizer.json``, called the way ``Embedder`` calls a HF fast tokenizer."""

    def __init__(self, path: Path) -> None:
        self._tokenizer = Tokenizer.from_file(str(path))
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()

    def __call__(
        self,
        texts: str | Sequence[str],
        *,
        add_special_tokens: bool = True,
        return_offsets_mapping: bool = False,
        **_ignored: Any,
    ) -> dict[str, Any]:
        single = isinstance(texts, str)
        batch = [texts] if isinstance(texts, str) else list(texts)
        encodings = self._tokenizer.encode_batch(batch, add_special_tokens=add_special_tokens)
        result: dict[str, Any] = {"input_ids": [e.ids for e in encodings]}
        if return_offsets_mapping:
            result["offset_mapping"] = [e.offsets for e in encodings]
        return {k: v[0] for k, v in result.items()} if single else result


class DeferredModel:
    """Stands in for a ``SentenceTransformer`` until the first ``encode`` loads it."""

    def __init__(self, folder: Path, config: FolderConfig, load: Callable[[], Any]) -> None:
        self.folder = folder
        self.prompts = config.prompts
        self.max_seq_length = config.max_seq_length
        self._tokenizer: FolderTokenizer | None = None
        self._dimension = config.dimension
        self._load = load
        self._model: Any | None = None
        self._lock = threading.Lock()
        # Its own lock: the producer thread splits pages while the weights load.
        self._tokenizer_lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._model is not None

    @property
    def tokenizer(self) -> FolderTokenizer:
        """The folder's tokenizer, read on first use: its 250k-piece vocabulary takes
        about a second to load, which an unchanged re-run never needs."""
        with self._tokenizer_lock:
            if self._tokenizer is None:
                self._tokenizer = FolderTokenizer(self.folder / "tokenizer.json")
            return self._tokenizer

    def get_sentence_embedding_dimension(self) -> int:
        return self._dimension

    def encode(self, texts: list[str], **kwargs: Any) -> Any:
        return self.model().encode(texts, **kwargs)

    def model(self) -> Any:
        """The real model, loaded once (thread-safe)."""
        with self._lock:
            if self._model is None:
                logger.info("Loading embedding weights from %s", self.folder)
                self._model = self._load()
            return self._model
