"""PDF loader: pages, titles, broken/encrypted/scanned files, and the worker process."""

from __future__ import annotations

import io
import logging
import multiprocessing
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter

import askwiki.ingest.loaders.pdf as pdf_module
from askwiki.documents import Document, DocumentPart, SkippedFile
from askwiki.ingest.loaders import LoaderOptions, SourceFile, load, shutdown_pdf_worker
from askwiki.ingest.loaders.pdf import PdfText, PdfWorker, extract_pdf_text

OPTIONS = LoaderOptions(max_file_bytes=1024 * 1024, pdf_timeout_s=30.0)


def pdf_bytes(pages: list[str], title: str | None = None) -> bytes:
    """A minimal valid PDF: one Helvetica text line per input line, '' = blank page."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>"
        % (b" ".join(b"%d 0 R" % (4 + 2 * i) for i in range(len(pages))), len(pages)),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for index, text in enumerate(pages):
        shown = [
            b"(%s) Tj T*"
            % line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)").encode("latin-1")
            for line in text.split("\n")
        ]
        stream = b"BT /F1 12 Tf 14 TL 72 720 Td\n" + b"\n".join(shown) + b"\nET" if text else b""
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (5 + 2 * index)
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    info = b""
    if title is not None:
        objects.append(b"<< /Title (%s) >>" % title.encode("latin-1"))
        info = b" /Info %d 0 R" % len(objects)
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R%s >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        info,
        xref,
    )
    return bytes(out)


def encrypted(data: bytes, user_password: str) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    # RC4 needs no extra package (AES would need 'cryptography').
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def write(tmp_path: Path, name: str, data: bytes) -> SourceFile:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return SourceFile(path, tmp_path, from_folder=True)


def load_one(source: SourceFile, options: LoaderOptions = OPTIONS) -> Document | SkippedFile:
    (item,) = load(source, options)
    return item


# Worker functions for the tests; module-level so the spawned worker can import them.
def hang_on_slow(path: str) -> PdfText:
    if "slow" in Path(path).name:
        time.sleep(300)
    return extract_pdf_text(path)


def crash_on_crash(path: str) -> PdfText:
    if "crash" in Path(path).name:
        os._exit(3)
    return extract_pdf_text(path)


@pytest.fixture(autouse=True, scope="module")
def _stop_shared_worker() -> Iterator[None]:
    yield
    shutdown_pdf_worker()


def install(monkeypatch: pytest.MonkeyPatch, worker: PdfWorker) -> PdfWorker:
    """Make ``worker`` the one ``load`` uses, for this test only."""
    monkeypatch.setattr(pdf_module, "_shared", worker)
    return worker


def test_pdf_keeps_page_numbers(tmp_path: Path) -> None:
    data = pdf_bytes(["Lighthouse first lit in 1874.", "", "Ferry every 40 minutes."])
    source = write(tmp_path, "papers/handbook.pdf", data)
    document = load_one(source, LoaderOptions(1024 * 1024, 30.0, "https://wiki.example.com/"))
    assert document == Document(
        doc_id="papers/handbook.pdf",
        title="Lighthouse first lit in 1874.",
        parts=(
            DocumentPart("Lighthouse first lit in 1874.", page=1),
            DocumentPart("Ferry every 40 minutes.", page=3),
        ),
        source=str(source.path),
        format="pdf",
        url="https://wiki.example.com/papers/handbook.pdf",
    )


@pytest.mark.parametrize(
    ("pages", "meta_title", "title"),
    [
        (["Body line one\nline two", "Page two"], "Metadata Title", "Metadata Title"),
        (["\nFirst real line\nmore", "Page two"], None, "First real line"),
        (["L" * 200], None, "L" * 120),
        (["", "Only page two has text"], None, "scan-notes"),
        (["Body"], "   ", "Body"),
    ],
)
def test_pdf_title_from_metadata_else_first_line_else_stem(
    tmp_path: Path, pages: list[str], meta_title: str | None, title: str
) -> None:
    document = load_one(write(tmp_path, "scan-notes.pdf", pdf_bytes(pages, meta_title)))
    assert isinstance(document, Document)
    assert document.title == title


def test_pdf_lines_starting_with_hash_are_not_headings(tmp_path: Path) -> None:
    document = load_one(write(tmp_path, "a.pdf", pdf_bytes(["Intro\n# 1 priority\nEnd"])))
    assert isinstance(document, Document)
    assert document.parts == (DocumentPart("Intro\n # 1 priority\nEnd", page=1),)


def test_pypdf_warnings_from_the_worker_are_logged_with_the_file_name(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = pdf_bytes(["Recovered text"])
    at = data.rindex(b"startxref\n") + len(b"startxref\n")
    source = write(tmp_path, "bad-xref.pdf", data[:at] + b"99" + data[at:])  # wrong offset
    with caplog.at_level(logging.WARNING, logger="askwiki.ingest.loaders.pdf"):
        document = load_one(source)
    assert isinstance(document, Document) and document.text == "Recovered text"
    assert f"{source.path}: incorrect startxref pointer" in caplog.text


def test_encrypted_pdf_without_empty_password_is_skipped(tmp_path: Path) -> None:
    source = write(tmp_path, "secret.pdf", encrypted(pdf_bytes(["Secret text"]), "askwiki"))
    assert load_one(source) == SkippedFile(str(source.path), "encrypted PDF (needs a password)")


def test_encrypted_pdf_with_empty_user_password_loads(tmp_path: Path) -> None:
    source = write(tmp_path, "open.pdf", encrypted(pdf_bytes(["Readable text"]), ""))
    document = load_one(source)
    assert isinstance(document, Document)
    assert document.parts == (DocumentPart("Readable text", page=1),)


def test_pdf_with_lying_extension_is_not_a_pdf(tmp_path: Path) -> None:
    source = write(tmp_path, "notes.pdf", b"Just some text\nwith a .pdf name\n")
    assert load_one(source) == SkippedFile(
        str(source.path), "not a PDF: content does not start with %PDF- (lying extension?)"
    )


def test_truncated_pdf_is_skipped_with_pypdf_message(tmp_path: Path) -> None:
    data = pdf_bytes(["Some text on page one", "And page two"])
    source = write(tmp_path, "truncated.pdf", data[: len(data) // 2])
    item = load_one(source)
    assert isinstance(item, SkippedFile)
    assert item.reason.startswith("broken PDF: "), item.reason


def test_pdf_without_text_is_skipped_as_scanned(tmp_path: Path) -> None:
    source = write(tmp_path, "scan.pdf", pdf_bytes(["", ""]))
    assert load_one(source) == SkippedFile(
        str(source.path), "no extractable text (scanned PDF? OCR is not supported)"
    )


def test_pdf_timeout_skips_the_file_and_the_next_pdf_still_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with PdfWorker(hang_on_slow) as worker:
        install(monkeypatch, worker)
        options = LoaderOptions(1024 * 1024, pdf_timeout_s=1.5)
        good = write(tmp_path, "good.pdf", pdf_bytes(["Good text"]))
        assert isinstance(load_one(good, options), Document)
        first_pid = worker.pid

        slow = write(tmp_path, "slow.pdf", pdf_bytes(["Never read"]))
        started = time.monotonic()
        item = load_one(slow, options)
        assert time.monotonic() - started < 15
        assert item == SkippedFile(
            str(slow.path),
            "PDF text extraction timed out after 1.5 s (ASKWIKI_PDF_TIMEOUT_S); the reader was stopped",
        )
        assert worker.pid is None  # the stuck worker was killed

        again = load_one(good, options)
        assert isinstance(again, Document) and again.text == "Good text"
        assert worker.pid not in (None, first_pid)


def test_pdf_worker_crash_skips_the_file_and_the_next_pdf_still_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with PdfWorker(crash_on_crash) as worker:
        install(monkeypatch, worker)
        crash = write(tmp_path, "crash.pdf", pdf_bytes(["Boom"]))
        assert load_one(crash) == SkippedFile(
            str(crash.path), "PDF reader crashed (worker exit code 3)"
        )
        good = write(tmp_path, "good.pdf", pdf_bytes(["Still fine"]))
        assert isinstance(load_one(good), Document)


def test_pdf_worker_is_reused_between_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with PdfWorker() as worker:
        install(monkeypatch, worker)
        pids = []
        for name in ("a.pdf", "b.pdf", "c.pdf"):
            assert isinstance(load_one(write(tmp_path, name, pdf_bytes([name]))), Document)
            pids.append(worker.pid)
        assert len(set(pids)) == 1 and pids[0] is not None


def test_pdf_worker_close_leaves_no_process(tmp_path: Path) -> None:
    worker = PdfWorker()
    source = write(tmp_path, "a.pdf", pdf_bytes(["Text"]))
    worker.extract(source.path, 30.0)
    pid = worker.pid
    assert pid in {p.pid for p in multiprocessing.active_children()}
    worker.close()
    worker.close()  # idempotent
    assert worker.pid is None
    assert pid not in {p.pid for p in multiprocessing.active_children()}


def test_shutdown_pdf_worker_stops_the_shared_worker(tmp_path: Path) -> None:
    assert isinstance(load_one(write(tmp_path, "a.pdf", pdf_bytes(["Text"]))), Document)
    shared = pdf_module._shared
    assert shared is not None and shared.pid is not None
    pid = shared.pid
    shutdown_pdf_worker()
    assert pdf_module._shared is None
    assert pid not in {p.pid for p in multiprocessing.active_children()}
    # The next PDF starts a fresh worker.
    assert isinstance(load_one(write(tmp_path, "b.pdf", pdf_bytes(["More"]))), Document)
