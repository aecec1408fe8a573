from __future__ import annotations

from pathlib import Path

import pytest

from askwiki.errors import InputTooLargeError, UploadRejectedError
from askwiki.server.admin.uploads import SpoolFile, content_mismatch, safe_filename


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("notes.md", "notes.md"),
        ("../../x.md", "x.md"),
        ("/etc/cron.d/evil.md", "evil.md"),
        ("C:\\Users\\me\\Desktop\\report.PDF", "report.pdf"),
        ("C:evil.md", "evil.md"),
        ("..\\..\\windows.txt", "windows.txt"),
        ("a\x00b.md", "ab.md"),
        ("new\nline.md", "newline.md"),
        ("gpj\u202e.md", "gpj.md"),  # right-to-left override
        ("zero\u200bwidth.md", "zerowidth.md"),
        ("e\u0301te\u0301.md", "\u00e9t\u00e9.md"),  # NFC
        ("知识 蒸馏.md", "知识 蒸馏.md"),
        ("a<b>c|d?.html", "a_b_c_d_.html"),
        ("  .hidden.md", "hidden.md"),
        ("tabs\tand   spaces .txt", "tabsand spaces.txt"),
        ("x" * 300 + ".jsonl", "x" * 114 + ".jsonl"),
    ],
)
def test_safe_filename_keeps_a_plain_name_inside_the_folder(raw: str, safe: str) -> None:
    assert safe_filename(raw) == safe


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("../../etc/passwd", "unsupported file type (no extension)"),
        ("setup.exe", "unsupported file type .exe"),
        ("..", "unsupported file type"),
        ("../.md", "no usable characters"),
        ("\u202e\x00.md", "no usable characters"),
        ("", "unsupported file type (no extension)"),
    ],
)
def test_safe_filename_refuses_names_that_cannot_be_made_safe(raw: str, reason: str) -> None:
    with pytest.raises(UploadRejectedError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        safe_filename(raw)


@pytest.mark.parametrize(
    ("name", "head", "problem"),
    [
        ("page.md", b"# Title\n\nText", None),
        ("doc.pdf", b"%PDF-1.7\n", None),
        ("doc.md", b"%PDF-1.7\n", "content is a PDF"),
        ("page.html", b"PK\x03\x04\x14\x00", "ZIP archive"),
        ("page.txt", b"\x89PNG\r\n\x1a\n", "PNG image"),
        ("page.txt", b"\x7fELF\x02\x01", "ELF executable"),
        ("data.jsonl", b'{"a": 1}\x00\x00', "binary content"),
        ("doc.pdf", b"<html>not a pdf</html>", None),  # the PDF loader says why
    ],
)
def test_content_mismatch_spots_lying_extensions(
    name: str, head: bytes, problem: str | None
) -> None:
    reason = content_mismatch(name, head)
    if problem is None:
        assert reason is None
    else:
        assert reason is not None and problem in reason and "lying extension" in reason


def test_spool_file_stops_at_its_limit_and_deletes_itself(tmp_path: Path) -> None:
    with (
        pytest.raises(InputTooLargeError, match="ASKWIKI_MAX_FILE_MB"),
        SpoolFile(tmp_path, "big.md", 10, "ASKWIKI_MAX_FILE_MB") as spool,
    ):
        spool.write(b"12345")
        spool.write(b"678901")
    assert list(tmp_path.iterdir()) == []


def test_spool_file_never_overwrites_an_existing_file(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("kept")
    with pytest.raises(Exception, match="Cannot write the upload"):
        SpoolFile(tmp_path, "a.md", 10, "X")
    assert (tmp_path / "a.md").read_text() == "kept"


def test_spool_file_refuses_a_lying_extension_on_finish(tmp_path: Path) -> None:
    with (
        pytest.raises(UploadRejectedError, match="lying extension"),
        SpoolFile(tmp_path, "photo.md", 1000, "X") as spool,
    ):
        spool.write(b"\xff\xd8\xff\xe0 JFIF")
        spool.finish()
    assert list(tmp_path.iterdir()) == []
