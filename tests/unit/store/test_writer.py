import json
import logging
import sqlite3
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from askwiki.documents import Document, DocumentPart
from askwiki.errors import (
    IndexCorruptError,
    IndexLockedError,
    IndexMismatchError,
    IndexNotFoundError,
)
from askwiki.ingest.splitter import Splitter
from askwiki.store import docstore as docstore_module
from askwiki.store import manifest as manifest_module
from askwiki.store.dense import search_dense
from askwiki.store.docstore import DOCSTORE_FILE
from askwiki.store.index import open_index
from askwiki.store.layout import current_version, published_versions, version_path
from askwiki.store.manifest import (
    DTYPES_KEY,
    ChunkingInfo,
    EmbeddingInfo,
    Manifest,
    dtypes_interchangeable,
    embedded_dtypes,
)
from askwiki.store.writer import IndexWriter
from askwiki.testing.fake_embedder import fake_embedder
from askwiki.text import KEYWORD_TOKENIZER

EMBEDDER = fake_embedder()
SPLITTER = Splitter(EMBEDDER.count_tokens, EMBEDDER.split_by_tokens, 40, 0)
INFO = EmbeddingInfo("fake-embedding", EMBEDDER.dimension)
CHUNKING = ChunkingInfo(40, 0)


def page(doc_id: str, text: str) -> Document:
    return Document(doc_id, doc_id.upper(), (DocumentPart(text),), f"/wiki/{doc_id}", "markdown")


def write(
    path: Path,
    upserts: list[Document],
    deletes: tuple[str, ...] = (),
    info: EmbeddingInfo = INFO,
    **kw: object,
) -> str | None:
    with IndexWriter(path, info, CHUNKING, hnsw_threshold=10_000, **kw) as writer:  # type: ignore[arg-type]
        for doc_id in deletes:
            writer.delete(doc_id)
        for document in upserts:
            chunks = SPLITTER.split(document)
            writer.upsert(
                document, chunks, EMBEDDER.embed_passages([c.search_text for c in chunks])
            )
        manifest = writer.commit()
    return manifest.version if manifest else None


def test_missing_index_says_how_to_build_it(tmp_path: Path) -> None:
    with pytest.raises(IndexNotFoundError, match="askwiki ingest"):
        open_index(tmp_path / "nothing")


def test_new_index_holds_all_chunks_in_every_leg(tmp_path: Path) -> None:
    write(
        tmp_path / "ix", [page("a", "## One\nAlpha text.\n## Two\nBeta text."), page("b", "Gamma.")]
    )
    index = open_index(tmp_path / "ix")
    assert (index.manifest.documents, index.manifest.chunks) == (2, 3)
    assert index.dense.ntotal == len(index.keyword) == index.docstore.count_chunks() == 3
    assert index.keyword.search("beta", 5)[0][0] in index.docstore.chunks_by_rows([2])


def test_upsert_replaces_chunks_without_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "ix"
    write(path, [page("a", "Old words here."), page("b", "Stays the same.")])
    write(path, [page("a", "New words here. And more.")])
    index = open_index(path)
    texts = sorted(stored.chunk.text for stored in index.docstore.chunks_of("a"))
    assert texts == ["New words here. And more."]
    assert index.docstore.count_chunks() == index.dense.ntotal == 2
    query = EMBEDDER.embed_passages(["A\nNew words here. And more."])[0]
    best_row, best_score = search_dense(index.dense, query, 1)[0]
    assert index.docstore.chunks_by_rows([best_row])[best_row].chunk.doc_id == "a"
    assert best_score == pytest.approx(1.0, abs=1e-5)


def test_delete_removes_document_from_all_legs(tmp_path: Path) -> None:
    path = tmp_path / "ix"
    write(path, [page("a", "Alpha."), page("b", "Beta.")])
    write(path, [], deletes=("a",))
    index = open_index(path)
    assert set(index.docstore.documents()) == {"b"}
    assert index.dense.ntotal == len(index.keyword) == 1
    assert index.keyword.search("alpha", 5) == []


def test_no_change_publishes_no_version(tmp_path: Path) -> None:
    path = tmp_path / "ix"
    first = write(path, [page("a", "Alpha.")])
    assert write(path, []) is None
    assert current_version(path) == first


def test_other_embedding_model_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ix"
    write(path, [page("a", "Alpha.")])
    other = EmbeddingInfo("another-model", 64)
    with (
        pytest.raises(IndexMismatchError, match="ASKWIKI_EMBEDDING_MODEL"),
        IndexWriter(path, other, CHUNKING, 10),
    ):
        pass


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        ("float32", "float32", True),
        ("bfloat16", "bfloat16", True),
        ("float32", "bfloat16", True),
        ("bfloat16", "float32", True),
        ("float32", "float16", False),
        ("bfloat16", "int8", False),
    ],
)
def test_dtypes_interchangeable_only_where_measured(
    first: str, second: str, expected: bool
) -> None:
    assert dtypes_interchangeable(first, second) is expected


@pytest.mark.parametrize(("built", "updating"), [("float32", "bfloat16"), ("bfloat16", "float32")])
def test_index_of_one_dtype_is_updated_in_the_other_and_records_both(
    tmp_path: Path, built: str, updating: str
) -> None:
    path = tmp_path / "ix"
    write(path, [page("a", "Alpha apples.")], info=replace(INFO, dtype=built))
    write(path, [page("b", "Beta bananas.")], info=replace(INFO, dtype=updating))
    index = open_index(path)
    assert index.manifest.embedding.dtype == updating
    assert embedded_dtypes(index.manifest) == sorted([built, updating])
    assert set(index.docstore.documents()) == {"a", "b"}
    # The first dtype's vector is kept, not re-embedded, next to the second's.
    assert index.dense.ntotal == 2
    index.close()
    # A later version in either dtype still says both (the old vectors may still be there).
    write(path, [page("c", "Gamma.")], info=replace(INFO, dtype=built))
    assert embedded_dtypes(Manifest.read(version_path(path, current_version(path) or ""))) == (
        sorted([built, updating])
    )


def test_index_of_one_dtype_records_only_it(tmp_path: Path) -> None:
    path = tmp_path / "ix"
    write(path, [page("a", "Alpha.")])
    write(path, [page("b", "Beta.")])
    manifest = Manifest.read(version_path(path, current_version(path) or ""))
    assert embedded_dtypes(manifest) == ["float32"]
    assert DTYPES_KEY not in manifest.extra


def test_unmeasured_dtype_is_refused_and_the_index_kept(tmp_path: Path) -> None:
    path = tmp_path / "ix"
    live = write(path, [page("a", "Alpha.")])
    with (
        pytest.raises(
            IndexMismatchError,
            match=r"embedded in float32 .* runs in float16.*not measured.*EMBEDDING_DTYPE=float32",
        ),
        IndexWriter(path, replace(INFO, dtype="float16"), CHUNKING, 10),
    ):
        pass
    assert current_version(path) == live


def test_mixed_dtypes_are_refused_where_not_measured_interchangeable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ix"
    write(path, [page("a", "Alpha.")])
    write(path, [page("b", "Beta.")], info=replace(INFO, dtype="bfloat16"))
    monkeypatch.setattr(manifest_module, "INTERCHANGEABLE_DTYPES", frozenset())
    # The live version was last written in bfloat16 but still holds float32 vectors.
    with (
        pytest.raises(IndexMismatchError, match=r"embedded in float32 but .* runs in bfloat16"),
        IndexWriter(path, replace(INFO, dtype="bfloat16"), CHUNKING, 10),
    ):
        pass


def test_manifest_records_the_dtype_and_older_manifests_read_as_float32(tmp_path: Path) -> None:
    path = tmp_path / "ix"
    version = write(path, [page("a", "Alpha.")])
    assert version is not None
    manifest_path = version_path(path, version) / "manifest.json"
    raw = json.loads(manifest_path.read_text(encoding="utf-8"))
    assert raw["embedding"]["dtype"] == "float32"
    del raw["embedding"]["dtype"]
    manifest_path.write_text(json.dumps(raw), encoding="utf-8")
    assert Manifest.read(manifest_path.parent).embedding.dtype == "float32"


def test_second_writer_is_refused_while_first_holds_lock(tmp_path: Path) -> None:
    path = tmp_path / "ix"
    with (
        IndexWriter(path, INFO, CHUNKING, 10),
        pytest.raises(IndexLockedError, match="being written"),
    ):
        IndexWriter(path, INFO, CHUNKING, 10).__enter__()


def test_interrupted_write_leaves_live_version_intact(tmp_path: Path) -> None:
    path = tmp_path / "ix"
    first = write(path, [page("a", "Alpha.")])
    with pytest.raises(KeyboardInterrupt), IndexWriter(path, INFO, CHUNKING, 10) as writer:
        document = page("b", "Beta.")
        chunks = SPLITTER.split(document)
        writer.upsert(document, chunks, EMBEDDER.embed_passages([c.text for c in chunks]))
        raise KeyboardInterrupt
    assert current_version(path) == first
    assert published_versions(path) == [first]
    assert set(open_index(path).docstore.documents()) == {"a"}


def test_corrupt_live_version_falls_back_to_previous_good_one(tmp_path: Path) -> None:
    path = tmp_path / "ix"
    first = write(path, [page("a", "Alpha.")])
    second = write(path, [page("b", "Beta.")])
    assert first and second
    (version_path(path, second) / "dense.faiss").write_bytes(b"garbage")
    assert open_index(path).version == first


def test_corrupt_only_version_is_refused_with_message(tmp_path: Path) -> None:
    path = tmp_path / "ix"
    only = write(path, [page("a", "Alpha.")])
    assert only
    (version_path(path, only) / "manifest.json").write_text("{not json")
    with pytest.raises(IndexCorruptError, match="not a valid manifest"):
        open_index(path)


def test_old_versions_beyond_keep_are_removed(tmp_path: Path) -> None:
    path = tmp_path / "ix"
    versions = [write(path, [page("a", f"Version {i}.")], keep_versions=2) for i in range(4)]
    assert published_versions(path) == versions[-2:]


def test_row_ids_survive_versions_for_unchanged_documents(tmp_path: Path) -> None:
    path = tmp_path / "ix"
    write(path, [page("a", "Alpha."), page("b", "Beta.")])
    before = {s.chunk.chunk_id: s.row_id for s in open_index(path).docstore.chunks_of("b")}
    write(path, [page("a", "Alpha changed.")])
    after = {s.chunk.chunk_id: s.row_id for s in open_index(path).docstore.chunks_of("b")}
    assert before == after
    assert np.isfinite(open_index(path).dense.reconstruct(next(iter(after.values())))).all()


def _age_live_version(path: Path) -> Path:
    """Make the live version look built by an older tokenizer: other tokens, none recorded."""
    folder = version_path(path, current_version(path) or "")
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    manifest.pop("keyword_tokenizer")
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with sqlite3.connect(folder / DOCSTORE_FILE) as db:
        db.execute("UPDATE chunks SET keywords = 'stale'")
    old = open_index(path)
    stale_tokens = dict(old.docstore.iter_keywords())
    old.close()
    assert set(map(tuple, stale_tokens.values())) == {("stale",)}
    return folder


def test_an_unchanged_ingest_retokenizes_an_index_from_an_older_tokenizer(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "ix"
    write(path, [page("a", "Alpha words."), page("b", "Gamma rays.")])
    _age_live_version(path)
    with caplog.at_level(logging.WARNING, logger="askwiki.store.index"):
        open_index(path).close()
    assert "'askwiki ingest'" in caplog.text

    published = write(path, [])  # nothing changed, but the tokens are stale
    assert published is not None and current_version(path) == published
    index = open_index(path)
    assert index.manifest.keyword_tokenizer == KEYWORD_TOKENIZER
    assert index.keyword.search("gamma", 5)[0][0] in index.docstore.chunks_by_rows([2])
    assert write(path, []) is None  # and once current, an unchanged run publishes nothing


def test_retokenizing_pages_through_the_chunks_and_reaches_every_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ix"
    write(path, [page("a", "Alpha words."), page("b", "Gamma rays."), page("c", "Delta wing.")])
    _age_live_version(path)
    monkeypatch.setattr(docstore_module, "RETOKENIZE_PAGE", 2)

    write(path, [])

    index = open_index(path)
    tokens = dict(index.docstore.iter_keywords())
    index.close()
    assert len(tokens) == 3 and all(t and t != ["stale"] for t in tokens.values())
    assert {"alpha", "gamma", "delta"} <= {word for t in tokens.values() for word in t}
