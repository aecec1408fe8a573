"""The loaders over the shared fixtures (tests/fixtures) and the example wiki."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from askwiki.documents import Document, SkippedFile
from askwiki.ingest.loaders import LoaderOptions, discover, load, shutdown_pdf_worker
from tests.conftest import EXAMPLE_WIKI, FIXTURES

OPTIONS = LoaderOptions(max_file_bytes=50 * 1024 * 1024, pdf_timeout_s=60.0)


@pytest.fixture(autouse=True, scope="module")
def _stop_shared_worker() -> Iterator[None]:
    yield
    shutdown_pdf_worker()


def load_all(*paths: Path) -> tuple[dict[str, Document], dict[str, str]]:
    """Documents by doc id, and skip reasons by ``file name[:line]``."""
    documents: dict[str, Document] = {}
    skipped: dict[str, str] = {}
    for source in discover(list(paths)):
        for item in load(source, OPTIONS):
            if isinstance(item, SkippedFile):
                skipped[Path(item.source).name] = item.reason
            else:
                assert item.doc_id not in documents, item.doc_id
                documents[item.doc_id] = item
    return documents, skipped


def needs(path: Path) -> None:
    if not path.exists():
        pytest.skip(f"{path} is not there yet")


def test_broken_fixtures_are_skipped_with_precise_reasons() -> None:
    needs(FIXTURES / "broken")
    documents, skipped = load_all(FIXTURES / "broken")
    assert documents == {}
    assert skipped["encrypted.pdf"] == "encrypted PDF (needs a password)"
    assert skipped["not-a-pdf.pdf"] == (
        "not a PDF: content does not start with %PDF- (lying extension?)"
    )
    assert skipped["truncated.pdf"].startswith("broken PDF: ")
    assert skipped["binary.md"] == "binary content in a text file (NUL bytes in the first 8 KB)"
    assert skipped["empty.md"] == "empty file (0 bytes)"
    assert skipped["whitespace.txt"].startswith("empty")


@pytest.mark.parametrize(
    ("doc_id", "title", "marker"),
    [
        ("gb18030.txt", None, "GB18030-编码-测试"),
        ("big5.txt", None, "BIG5-編碼-測試"),
        ("utf8-bom", "带 BOM 的页面", "UTF8-BOM-测试"),
    ],
)
def test_encoding_fixtures_keep_their_markers(doc_id: str, title: str | None, marker: str) -> None:
    needs(FIXTURES / "encodings")
    documents, skipped = load_all(FIXTURES / "encodings")
    assert skipped == {}
    document = documents[doc_id]
    assert marker in document.text
    if title is not None:
        assert document.title == title


def test_jsonl_fixture_loads_three_pages_and_names_bad_lines() -> None:
    needs(FIXTURES / "pages.jsonl")
    documents, skipped = load_all(FIXTURES / "pages.jsonl")
    assert sorted(documents) == ["p1", "p2", "p3"]
    assert documents["p1"].url == "https://export.example.com/p1"
    assert "JSONL-PAGE-THREE" in documents["p3"].text
    assert set(skipped) == {"pages.jsonl:3", "pages.jsonl:4"}
    assert skipped["pages.jsonl:3"].startswith("invalid JSON")
    assert skipped["pages.jsonl:4"] == '"text" is missing, empty or not a string'


def test_mini_pdf_markers_stay_on_their_pages() -> None:
    needs(FIXTURES / "mini" / "handbook.pdf")
    documents, _ = load_all(FIXTURES / "mini" / "handbook.pdf")
    parts = documents["handbook.pdf"].parts
    assert [p.page for p in parts] == [1, 2]
    assert "MINI-PDF-PAGE-ONE" in parts[0].text and "MINI-PDF-PAGE-ONE" not in parts[1].text
    assert "MINI-PDF-PAGE-TWO" in parts[1].text and "MINI-PDF-PAGE-TWO" not in parts[0].text


def test_example_wiki_loads_every_page_and_skips_only_the_image() -> None:
    needs(EXAMPLE_WIKI)
    documents, skipped = load_all(EXAMPLE_WIKI)
    assert skipped == {"logo.png": "unsupported file type .png"}
    formats = {d.format for d in documents.values()}
    assert formats == {"markdown", "html", "pdf", "text"}
    for document in documents.values():
        assert document.text.strip() and document.title
        assert "BOILERPLATE-" not in document.text, document.doc_id
        assert "](" not in document.text and "[[" not in document.text, document.doc_id
    by_source = {Path(d.source).name: d for d in documents.values()}
    notion = next(d for name, d in by_source.items() if name.startswith("Fine-tuning vs"))
    assert notion.title == "Fine-tuning vs Distillation"
    assert by_source["reranking.html"].url == "https://wiki.example.com/retrieval/reranking"
    assert [p.page for p in by_source["model-compression-notes.pdf"].parts] == [1, 2, 3]
