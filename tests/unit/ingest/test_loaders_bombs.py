"""Decompression bombs inside documents: each costs its own file, quickly and in bounded memory."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from askwiki.documents import Document, SkippedFile
from askwiki.ingest.loaders import LoaderOptions, PdfWorker, SourceFile, load
from askwiki.ingest.loaders.pdf import INFLATES_TOO_MUCH, load_pdf
from tests.support.hostile_files import pdf_flate_bomb, pdf_with_text, yaml_alias_bomb

OPTIONS = LoaderOptions(max_file_bytes=50 << 20, pdf_timeout_s=30)


@pytest.fixture(scope="module")
def worker() -> Iterator[PdfWorker]:
    with PdfWorker() as pdf_worker:
        yield pdf_worker


def _load(path: Path) -> list[Document | SkippedFile]:
    return list(load(SourceFile(path, path.parent, from_folder=False), OPTIONS))


@pytest.mark.parametrize("suffix", [".md", ".txt"])
def test_yaml_alias_bomb_in_front_matter_is_skipped_at_once(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"laughs{suffix}"
    path.write_text(yaml_alias_bomb(), encoding="utf-8")
    started = time.monotonic()
    [item] = _load(path)
    assert isinstance(item, SkippedFile)
    assert "YAML alias" in item.reason and "bomb" in item.reason
    # Before the fix this expanded 9**9 list items and never finished.
    assert time.monotonic() - started < 2


def test_plain_front_matter_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "ok.md"
    path.write_text("---\ntitle: Fine\ntags: [a, b]\n---\n\nBody text.\n", encoding="utf-8")
    [item] = _load(path)
    assert isinstance(item, Document) and item.metadata["tags"] == "a, b"


def test_pdf_flate_bomb_is_skipped_by_the_inflate_limit(tmp_path: Path, worker: PdfWorker) -> None:
    path = tmp_path / "bomb.pdf"
    path.write_bytes(pdf_flate_bomb())
    assert path.stat().st_size < 2 << 20
    with pytest.raises(Exception, match="decompression bomb") as caught:
        load_pdf(SourceFile(path, tmp_path, from_folder=False), OPTIONS, worker)
    assert INFLATES_TOO_MUCH in str(caught.value)
    # The worker survived and still reads a good PDF.
    good = tmp_path / "good.pdf"
    good.write_bytes(pdf_with_text("Quokkas live on Rottnest Island."))
    document = load_pdf(SourceFile(good, tmp_path, from_folder=False), OPTIONS, worker)
    assert "Rottnest" in document.text
