"""Finding input files: folder walking, hidden files, roots, missing paths, dispatch."""

from __future__ import annotations

from pathlib import Path

import pytest

from askwiki.documents import Document, SkippedFile
from askwiki.errors import DocumentError
from askwiki.ingest.loaders import SUPPORTED_SUFFIXES, LoaderOptions, SourceFile, discover, load

OPTIONS = LoaderOptions(max_file_bytes=1024 * 1024, pdf_timeout_s=30.0)


def make_tree(root: Path, files: list[str]) -> None:
    for name in files:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"# {path.stem}\n\nText of {name}.\n", encoding="utf-8")


def test_folder_walk_is_sorted_and_skips_hidden_entries(tmp_path: Path) -> None:
    make_tree(
        tmp_path,
        [
            "b.md",
            "a.md",
            "sub/z.txt",
            "sub/c.html",
            ".git/config.md",
            ".obsidian/workspace.md",
            ".DS_Store",
            "sub/.hidden.md",
            "_assets/logo.png",
        ],
    )
    found = list(discover([tmp_path]))
    assert [s.path.relative_to(tmp_path).as_posix() for s in found] == [
        "_assets/logo.png",
        "a.md",
        "b.md",
        "sub/c.html",
        "sub/z.txt",
    ]
    assert all(s.root == tmp_path and s.from_folder for s in found)


def test_single_file_uses_its_parent_as_root(tmp_path: Path) -> None:
    make_tree(tmp_path, ["wiki/rag/overview.md"])
    path = tmp_path / "wiki" / "rag" / "overview.md"
    assert list(discover([path])) == [SourceFile(path, path.parent, from_folder=False)]


def test_doc_id_is_the_posix_path_relative_to_the_folder_given(tmp_path: Path) -> None:
    make_tree(tmp_path, ["wiki/rag/overview.md"])
    (source,) = discover([tmp_path / "wiki"])
    (document,) = load(source, OPTIONS)
    assert isinstance(document, Document)
    assert document.doc_id == "rag/overview.md"
    assert document.source == str(tmp_path / "wiki" / "rag" / "overview.md")


def test_missing_path_raises_document_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(DocumentError, match=r"No such file or folder: .*nope; check the path"):
        list(discover([tmp_path, missing]))


def test_file_reached_twice_is_loaded_once(tmp_path: Path) -> None:
    make_tree(tmp_path, ["a.md"])
    found = list(discover([tmp_path, tmp_path / "a.md"]))
    assert len(found) == 1 and found[0].from_folder


def test_symlink_loop_does_not_recurse_forever(tmp_path: Path) -> None:
    make_tree(tmp_path, ["sub/a.md"])
    (tmp_path / "sub" / "loop").symlink_to(tmp_path, target_is_directory=True)
    found = [s.path.relative_to(tmp_path).as_posix() for s in discover([tmp_path])]
    assert found == ["sub/a.md"]


def test_supported_suffixes_cover_every_format() -> None:
    assert {".md", ".markdown", ".html", ".htm", ".pdf", ".txt", ".jsonl"} == SUPPORTED_SUFFIXES


@pytest.mark.parametrize(
    ("name", "content", "expected_format"),
    [
        ("a.md", "Some *text*.", "markdown"),
        ("a.markdown", "Some text.", "markdown"),
        ("a.txt", "Some text.", "text"),
        ("a.html", "<p>Some text.</p>", "html"),
        ("a.HTM", "<p>Some text.</p>", "html"),
        ("a.jsonl", '{"id": "x", "text": "Some text."}', "jsonl"),
    ],
)
def test_suffix_picks_the_loader(
    tmp_path: Path, name: str, content: str, expected_format: str
) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    (item,) = load(SourceFile(path, tmp_path, from_folder=True), OPTIONS)
    assert isinstance(item, Document)
    assert item.format == expected_format


def test_loader_bug_on_a_strange_file_becomes_a_skip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import askwiki.ingest.loaders as loaders

    def broken(source: SourceFile, options: LoaderOptions) -> Document:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setitem(loaders._SINGLE_DOCUMENT, ".html", broken)
    path = tmp_path / "deep.html"
    path.write_text("<div>" * 10, encoding="utf-8")
    (item,) = load(SourceFile(path, tmp_path, from_folder=True), OPTIONS)
    assert item == SkippedFile(
        str(path), "cannot load: RecursionError: maximum recursion depth exceeded"
    )
