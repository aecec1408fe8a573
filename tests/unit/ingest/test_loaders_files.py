"""Byte-level rules shared by every loader: size limit, empty, binary, decoding."""

from __future__ import annotations

from pathlib import Path

import pytest

from askwiki.documents import Document, SkippedFile
from askwiki.ingest.loaders import LoaderOptions, SourceFile, load
from askwiki.ingest.loaders.files import decode_text, format_size, suspicious_share

MB = 1024 * 1024
OPTIONS = LoaderOptions(max_file_bytes=50 * MB, pdf_timeout_s=30.0)


def load_one(path: Path, options: LoaderOptions = OPTIONS) -> Document | SkippedFile:
    items = list(load(SourceFile(path, path.parent, from_folder=False), options))
    assert len(items) == 1, items
    return items[0]


def skip_reason(path: Path, options: LoaderOptions = OPTIONS) -> str:
    item = load_one(path, options)
    assert isinstance(item, SkippedFile), item
    assert item.source == str(path)
    return item.reason


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        (0, "0 B"),
        (512, "512 B"),
        (1024, "1 KB"),
        (1536, "1.5 KB"),
        (50 * MB, "50 MB"),
        (int(2.1 * 1024 * MB), "2.1 GB"),
        (3 * 1024 * MB, "3 GB"),
    ],
)
def test_format_size_is_short_and_human(size: int, expected: str) -> None:
    assert format_size(size) == expected


@pytest.mark.parametrize("suffix", [".md", ".txt", ".html", ".pdf", ".jsonl"])
def test_huge_sparse_file_is_refused_by_size_without_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    path = tmp_path / f"huge{suffix}"
    with path.open("wb") as handle:
        handle.truncate(3 * 2**30)  # sparse: no disk used
    opened: list[Path] = []
    real_open = Path.open

    def spy_open(self: Path, *args: object, **kwargs: object) -> object:
        opened.append(self)
        return real_open(self, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(Path, "open", spy_open)
    reason = skip_reason(path)
    assert reason == "too large: 3 GB > limit 50 MB (ASKWIKI_MAX_FILE_MB)"
    assert path not in opened


def test_limit_applies_to_small_files_too(tmp_path: Path) -> None:
    path = tmp_path / "page.md"
    path.write_text("# Title\n\n" + "word " * 400, encoding="utf-8")
    reason = skip_reason(path, LoaderOptions(max_file_bytes=1000, pdf_timeout_s=30.0))
    assert reason == "too large: 2 KB > limit 1000 B (ASKWIKI_MAX_FILE_MB)"


@pytest.mark.parametrize("suffix", [".md", ".txt", ".html", ".pdf", ".jsonl"])
def test_zero_byte_file_is_skipped_as_empty(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"empty{suffix}"
    path.write_bytes(b"")
    assert skip_reason(path) == "empty file (0 bytes)"


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("blank.md", b" \n\t\n\n", "empty file (only whitespace)"),
        ("blank.txt", b"\r\n   \r\n", "empty file (only whitespace)"),
        (
            "front.md",
            b"---\ntitle: Nothing here\n---\n\n  \t\n",
            "empty: no text besides front matter and title",
        ),
        (
            "front.txt",
            b"---\ntitle: Nothing here\n---\n\n  \t\n",
            "empty: no text besides front matter and whitespace",
        ),
        ("title-only.md", b"# Just a title\n", "empty: no text besides front matter and title"),
        (
            "bare.html",
            b"<html><body><nav>menu</nav></body></html>",
            "empty: no text in the page body",
        ),
    ],
)
def test_files_without_text_are_skipped_as_empty(
    tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    assert skip_reason(path) == reason


@pytest.mark.parametrize("suffix", [".md", ".txt", ".html"])
def test_nul_bytes_in_a_text_file_mean_binary(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"blob{suffix}"
    path.write_bytes(b"# Looks like text\n\x00\x01\x02\x00 but is not\n")
    assert skip_reason(path) == "binary content in a text file (NUL bytes in the first 8 KB)"


def test_nul_bytes_after_the_first_8_kb_are_not_sniffed(tmp_path: Path) -> None:
    path = tmp_path / "late.txt"
    path.write_bytes(b"Long file\n" + b"a" * 9000 + b"\x00tail\n")
    assert isinstance(load_one(path), Document)


GB18030_TEXT = "知识蒸馏简介\n\n知识蒸馏是一种模型压缩方法。𠮷字需要四个字节。\n"
BIG5_TEXT = "繁體中文測試頁\n\n這個檔案使用 Big5 編碼儲存，內容是繁體中文。\n"
GBK_ONLY_TEXT = "向量检索把查询和文档都表示成向量，再找出距离最近的文档。\n"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("plain UTF-8 ✓ 中文".encode(), "plain UTF-8 ✓ 中文"),
        ("\ufeffwith BOM".encode(), "with BOM"),
        (GB18030_TEXT.encode("gb18030"), GB18030_TEXT),
        (GBK_ONLY_TEXT.encode("gbk"), GBK_ONLY_TEXT),
        (BIG5_TEXT.encode("big5"), BIG5_TEXT),
    ],
    ids=["utf8", "utf8-bom", "gb18030-4-byte", "gbk-subset", "big5"],
)
def test_decoding_tries_utf8_then_gb18030_then_big5(data: bytes, expected: str) -> None:
    assert decode_text(data) == expected


def test_big5_is_not_mistaken_for_gb18030_mojibake() -> None:
    data = BIG5_TEXT.encode("big5")
    mojibake = data.decode("gb18030")  # decodes without error, into garbage
    assert suspicious_share(mojibake) > 0.15 > suspicious_share(BIG5_TEXT)
    assert decode_text(data) == BIG5_TEXT


def test_undecodable_bytes_are_skipped_with_the_encodings_tried(tmp_path: Path) -> None:
    path = tmp_path / "latin.md"
    path.write_bytes(bytes(range(0x80, 0x100)) * 4)
    assert skip_reason(path) == "not valid UTF-8, GB18030 or Big5 text"


@pytest.mark.parametrize(
    ("name", "text", "encoding", "title"),
    [
        ("gb.txt", GB18030_TEXT, "gb18030", "知识蒸馏简介"),
        ("big5.txt", BIG5_TEXT, "big5", "繁體中文測試頁"),
        ("gb.md", "# 简体标题\n\n" + GBK_ONLY_TEXT, "gb18030", "简体标题"),
    ],
)
def test_chinese_legacy_encodings_load(
    tmp_path: Path, name: str, text: str, encoding: str, title: str
) -> None:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    document = load_one(path)
    assert isinstance(document, Document)
    assert document.title == title
    assert text.splitlines()[-1] in document.text


def test_unsupported_suffix_is_reported_not_read(tmp_path: Path) -> None:
    path = tmp_path / "logo.PNG"
    path.write_bytes(b"\x89PNG\r\n\x1a\n")
    assert skip_reason(path) == "unsupported file type .png"


def test_file_without_extension_is_unsupported(tmp_path: Path) -> None:
    path = tmp_path / "README"
    path.write_text("hello", encoding="utf-8")
    assert skip_reason(path) == "unsupported file type (no extension)"


def test_crlf_newlines_are_normalised(tmp_path: Path) -> None:
    path = tmp_path / "dos.md"
    path.write_bytes(b"---\r\ntitle: Dos\r\n---\r\n# Dos\r\n\r\nBody line.\r\n## Part\r\nMore.\r\n")
    document = load_one(path)
    assert isinstance(document, Document)
    assert (document.title, document.text) == ("Dos", "Body line.\n## Part\nMore.")
