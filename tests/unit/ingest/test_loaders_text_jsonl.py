"""Plain-text and JSON Lines loaders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from askwiki.documents import Document, DocumentPart, SkippedFile
from askwiki.ingest.loaders import LoaderOptions, SourceFile, load

OPTIONS = LoaderOptions(max_file_bytes=1024 * 1024, pdf_timeout_s=30.0)


def load_file(
    tmp_path: Path, name: str, content: str, url_base: str | None = None
) -> list[Document | SkippedFile]:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    options = LoaderOptions(OPTIONS.max_file_bytes, OPTIONS.pdf_timeout_s, url_base)
    return list(load(SourceFile(path, tmp_path, from_folder=True), options))


@pytest.mark.parametrize(
    ("content", "title"),
    [
        ("Glossary of terms\n\nBeam search\n  A decoding method.", "Glossary of terms"),
        ("\n\n  Leading blank lines  \nBody.", "Leading blank lines"),
        ("x" * 80 + "\nBody.", "notes"),
        ("---\ntitle: Declared\n---\nFirst line\nBody.", "Declared"),
    ],
)
def test_text_title_is_a_short_first_line_else_stem(
    tmp_path: Path, content: str, title: str
) -> None:
    (document,) = load_file(tmp_path, "notes.txt", content)
    assert isinstance(document, Document)
    assert document.title == title


def test_text_is_one_part_without_headings(tmp_path: Path) -> None:
    content = "Stats\n# of users: 12\n## not a heading\nEnd."
    (document,) = load_file(tmp_path, "misc/stats.txt", content, url_base="https://w/")
    assert document == Document(
        doc_id="misc/stats.txt",
        title="Stats",
        parts=(DocumentPart("Stats\n # of users: 12\n ## not a heading\nEnd."),),
        source=str(tmp_path / "misc" / "stats.txt"),
        format="text",
        url="https://w/misc/stats",
    )


def jsonl(*rows: object) -> str:
    return "\n".join(row if isinstance(row, str) else json.dumps(row) for row in rows) + "\n"


def test_jsonl_yields_one_document_per_line(tmp_path: Path) -> None:
    content = jsonl(
        {"id": "p1", "title": "One", "url": "https://x/p1", "text": "First page.", "lang": "en"},
        {"id": 2, "title": "向量检索", "text": "第二页。"},
    )
    items = load_file(tmp_path, "export.jsonl", content)
    source = str(tmp_path / "export.jsonl")
    assert items == [
        Document(
            "p1",
            "One",
            (DocumentPart("First page."),),
            source,
            "jsonl",
            "https://x/p1",
            {"lang": "en"},
        ),
        Document("2", "向量检索", (DocumentPart("第二页。"),), source, "jsonl", None, {}),
    ]


def test_jsonl_text_may_carry_markdown_headings_and_links(tmp_path: Path) -> None:
    text = "# Page\n\nIntro with [a link](x.md).\n\n## Part {#p}\n\n```\n# code\n```"
    (document,) = load_file(tmp_path, "e.jsonl", jsonl({"title": "Page", "text": text}))
    assert isinstance(document, Document)
    assert document.doc_id == "Page"
    assert document.text == "Intro with a link.\n\n## Part {#p}\n\n```\n # code\n```"


def test_jsonl_title_defaults_to_first_h1_then_id(tmp_path: Path) -> None:
    items = load_file(
        tmp_path,
        "e.jsonl",
        jsonl({"id": "a", "text": "# Heading title\n\nBody."}, {"id": "b", "text": "Body."}),
        url_base="https://w",
    )
    assert [(d.doc_id, d.title, d.url) for d in items if isinstance(d, Document)] == [
        ("a", "Heading title", "https://w/a"),
        ("b", "b", "https://w/b"),
    ]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (
            '{"id": "x", "text": "unterminated',
            "invalid JSON: Unterminated string starting at column 21",
        ),
        (
            '{"id": "x", "text": "bad \t tab"}',
            "invalid JSON: Invalid control character at column 26",
        ),
        ('["id", "text"]', "not a JSON object but list"),
        ('{"text": "orphan"}', 'needs an "id" (string or number) or a "title"'),
        ('{"id": true, "text": "bool id"}', 'needs an "id" (string or number) or a "title"'),
        ('{"id": "x"}', '"text" is missing, empty or not a string'),
        ('{"id": "x", "text": "   "}', '"text" is missing, empty or not a string'),
        ('{"id": "x", "text": 12}', '"text" is missing, empty or not a string'),
        (
            '{"id": "x", "title": "T", "text": "# T"}',
            'empty: "text" holds nothing besides the title',
        ),
    ],
)
def test_jsonl_bad_line_is_skipped_with_its_line_number(
    tmp_path: Path, line: str, reason: str
) -> None:
    content = jsonl({"id": "good1", "text": "One."}, "", line, {"id": "good2", "text": "Two."})
    items = load_file(tmp_path, "e.jsonl", content)
    assert [getattr(i, "doc_id", None) for i in items] == ["good1", None, "good2"]
    assert items[1] == SkippedFile(f"{tmp_path / 'e.jsonl'}:3", reason)


def test_jsonl_invalid_utf8_line_is_skipped_alone(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    path.write_bytes(
        b'\xef\xbb\xbf{"id": "a", "text": "ok"}\n{"id": "b", "text": "\xff"}\n{"id": "c", "text": "ok"}\n'
    )
    items = list(load(SourceFile(path, tmp_path, from_folder=True), OPTIONS))
    assert [getattr(i, "doc_id", None) for i in items] == ["a", None, "c"]
    assert items[1] == SkippedFile(
        f"{path}:2", "not valid UTF-8 at byte 21 (JSON Lines must be UTF-8)"
    )


def test_jsonl_with_only_blank_lines_is_empty(tmp_path: Path) -> None:
    assert load_file(tmp_path, "e.jsonl", "\n  \n") == [
        SkippedFile(str(tmp_path / "e.jsonl"), "empty file (only whitespace)")
    ]
