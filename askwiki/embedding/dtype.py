"""Which number type the embedding model computes in: bfloat16 only where the CPU does it natively.

On CPUs with AMX or AVX512-BF16, torch runs a bfloat16 model two to three times faster than
fp32 with the same vectors (cosine 1.000, issue 18): measured on an Intel Xeon with AMX and
on an AMD Zen 5, which has AVX512-BF16 but no AMX. Elsewhere bfloat16 is emulated and
slower than fp32, so ``auto`` keeps fp32. The model always runs on the CPU (the embedder
loads it with ``device="cpu"``), so the CPU's flags are the whole decision.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

logger = logging.getLogger(__name__)

EmbeddingDtype = Literal["float32", "bfloat16"]
DtypeSetting = Literal["auto", "float32", "bfloat16"]
CPUINFO = Path("/proc/cpuinfo")
# Either flag means matrix products in bfloat16 run in hardware (oneDNN uses them).
NATIVE_BF16_FLAGS = frozenset({"amx_bf16", "avx512_bf16"})


def cpu_flags(cpuinfo: Path = CPUINFO) -> frozenset[str]:
    """The CPU feature flags the kernel reports; empty where it does not (macOS, Windows)."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in {"flags", "Features"}:
            return frozenset(value.split())
    return frozenset()


def resolve_dtype(setting: DtypeSetting, flags: frozenset[str] | None = None) -> EmbeddingDtype:
    """``ASKWIKI_EMBEDDING_DTYPE`` made concrete: ``auto`` picks bfloat16 only on native support."""
    if setting != "auto":
        return setting
    native = sorted(NATIVE_BF16_FLAGS & (cpu_flags() if flags is None else flags))
    chosen: EmbeddingDtype = "bfloat16" if native else "float32"
    logger.debug("Embedding dtype auto: %s (native bfloat16 flags: %s)", chosen, native or "none")
    return chosen
