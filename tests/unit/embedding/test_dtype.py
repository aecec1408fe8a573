from pathlib import Path
from typing import Any

import numpy as np
import pytest

from askwiki.embedding.dtype import DtypeSetting, EmbeddingDtype, cpu_flags, resolve_dtype
from askwiki.embedding.embedder import Embedder
from askwiki.settings import Settings
from askwiki.testing.fake_embedder import FakeSentenceModel

EPYC_AVX2 = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma\n"
SAPPHIRE_RAPIDS = "flags\t\t: avx2 avx512f avx512_bf16 avx512_vnni amx_tile amx_bf16 amx_int8\n"
ARM = "processor\t: 0\nFeatures\t: fp asimd bf16 i8mm\n"


def write_cpuinfo(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cpuinfo"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (EPYC_AVX2, {"fpu", "sse2", "avx", "avx2", "fma"}),
        (ARM, {"fp", "asimd", "bf16", "i8mm"}),
        ("processor\t: 0\n", set()),
    ],
)
def test_cpu_flags_reads_the_flags_line(tmp_path: Path, text: str, expected: set[str]) -> None:
    assert cpu_flags(write_cpuinfo(tmp_path, text)) == expected


def test_cpu_flags_without_cpuinfo_is_empty(tmp_path: Path) -> None:
    assert cpu_flags(tmp_path / "absent") == frozenset()


@pytest.mark.parametrize(
    ("setting", "flags", "expected"),
    [
        ("auto", {"avx2", "fma"}, "float32"),
        ("auto", {"avx512f", "avx512_bf16"}, "bfloat16"),
        # AMD Zen 4/5: AVX512-BF16 and VNNI, no AMX; bfloat16 measured 2.1-2.7x on a Zen 5.
        ("auto", {"avx512f", "avx512_bf16", "avx512_vnni", "avx512_vp2intersect"}, "bfloat16"),
        ("auto", {"amx_tile", "amx_bf16"}, "bfloat16"),
        # avx512f alone converts bfloat16 in software: slower than float32.
        ("auto", {"avx512f", "avx512_vnni"}, "float32"),
        # ARM's bf16 flag is not one torch's CPU kernels are known to use natively here.
        ("auto", {"asimd", "bf16"}, "float32"),
        ("auto", set(), "float32"),
        ("float32", {"amx_bf16"}, "float32"),
        ("bfloat16", {"avx2"}, "bfloat16"),
    ],
)
def test_resolve_dtype(setting: DtypeSetting, flags: set[str], expected: EmbeddingDtype) -> None:
    assert resolve_dtype(setting, frozenset(flags)) == expected


def test_auto_reads_the_real_cpu_when_no_flags_are_given(tmp_path: Path) -> None:
    native = {"amx_bf16", "avx512_bf16"} & cpu_flags()
    assert resolve_dtype("auto") == ("bfloat16" if native else "float32")


def test_dtype_setting_rejects_other_values() -> None:
    with pytest.raises(ValueError, match="embedding_dtype"):
        Settings(embedding_dtype="float16")  # type: ignore[arg-type]


class OffNormModel(FakeSentenceModel):
    """Vectors as a bfloat16 model returns them: normalised, then rounded to 8 bits."""

    def encode(self, texts: list[str], prompt: str | None = None, **kwargs: Any) -> np.ndarray:
        vectors = super().encode(texts, prompt, **kwargs)
        return (vectors * 1.004).astype(np.float64)


def test_bfloat16_vectors_are_stored_as_unit_float32() -> None:
    embedder = Embedder("fake-embedding", OffNormModel(), dtype="bfloat16")
    vectors = embedder.embed_passages(["alpha", "beta"])
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-6)
    assert embedder.info.dtype == "bfloat16"
