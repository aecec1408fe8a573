"""Writer faults: a damaged live version is built upon no more; a full disk is a clear error."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from askwiki.errors import IndexCorruptError, IndexWriteError
from askwiki.store.index import open_index
from askwiki.store.layout import version_path
from askwiki.testing.fake_embedder import fake_embedder
from tests.support.index_builder import WIKI_PAGES, build_index, page

QUOKKA = page("quokka.md", "Quokka", "Quokkas live on Rottnest Island near Perth.")
WOMBAT = page("wombat.md", "Wombat", "Wombats dig long burrows.")


def test_writer_skips_a_damaged_live_version(tmp_path: Path) -> None:
    embedder = fake_embedder()
    index_path = tmp_path / "index"
    build_index(index_path, WIKI_PAGES, embedder)
    damaged = build_index(index_path, [*WIKI_PAGES, QUOKKA], embedder)
    (version_path(index_path, damaged) / "dense.faiss").write_bytes(b"\x00" * 16)
    repaired = build_index(index_path, [WOMBAT], embedder)
    index = open_index(index_path)
    assert index.version == repaired
    # Built on the good version: its pages plus the new one, without the damaged one's page.
    assert sorted(index.docstore.documents()) == sorted(
        [*(p.doc_id for p in WIKI_PAGES), "wombat.md"]
    )


def test_writer_with_no_good_version_says_to_rebuild(tmp_path: Path) -> None:
    embedder = fake_embedder()
    index_path = tmp_path / "index"
    only = build_index(index_path, WIKI_PAGES, embedder)
    (version_path(index_path, only) / "manifest.json").write_text("{")
    with pytest.raises(IndexCorruptError, match="--rebuild"):
        build_index(index_path, [WOMBAT], embedder)


@pytest.mark.parametrize(
    ("target", "error"),
    [
        (
            "askwiki.store.dense.faiss.write_index",
            RuntimeError("write error (No space left on device)"),
        ),
        (
            "askwiki.store.docstore.Docstore.commit",
            sqlite3.OperationalError("database or disk is full"),
        ),
        ("askwiki.store.layout.fsync_tree", OSError(28, "No space left on device")),
    ],
)
def test_full_disk_while_publishing_is_an_index_write_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str, error: Exception
) -> None:
    embedder = fake_embedder()
    index_path = tmp_path / "index"
    good = build_index(index_path, WIKI_PAGES, embedder)

    def fail(*args: object, **kwargs: object) -> None:
        raise error

    monkeypatch.setattr(target, fail)
    with pytest.raises(IndexWriteError, match="previous version is untouched"):
        build_index(index_path, [WOMBAT], embedder)
    monkeypatch.undo()
    assert open_index(index_path).version == good
    assert not list((index_path / "versions").glob("*.tmp"))
