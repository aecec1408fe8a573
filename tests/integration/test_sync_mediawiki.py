"""``askwiki sync`` against a real MediaWiki (Debian's package, SQLite, PHP's built-in server).

One throwaway wiki with 200 generated pages serves the whole module; the tests run in
file order and each builds on the wiki and index the previous one left.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from askwiki.embedding.embedder import Embedder
from askwiki.server.app import create_app
from askwiki.settings import Settings
from askwiki.store.index import open_index
from askwiki.store.layout import current_version
from tests.conftest import ROOT
from tests.support.live_server import serve_in_thread
from tests.support.mediawiki import WikiClient, mediawiki_available, throwaway_wiki

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not mediawiki_available(),
        reason="needs Debian's mediawiki and php-sqlite3 packages ('make test' installs them)",
    ),
]
PAGES = 200
TOPICS = ["gardening", "astronomy", "cooking", "sailing", "pottery", "chess", "beekeeping"]


def page_text(n: int, revision: str = "first") -> str:
    topic = TOPICS[n % len(TOPICS)]
    return (
        f"Page {n} is about {topic} and carries the marker word zq{n:03d}x.\n\n"
        f"== Basics ==\nThe basics of {topic} for page {n}: start small and practise "
        f"every week. {{{{Note|templates are dropped}}}}\n\n"
        f'== Equipment ==\n{{| class="wikitable"\n! Item !! Use\n|-\n| tool {n} || '
        f"daily {topic}\n|}}\n\n"
        f"== History ==\nThe {revision} history of {topic} on page {n} goes back centuries; "
        f"see [[Page {(n + 1) % PAGES}|the next page]].\n"
    )


def title(n: int) -> str:
    return f"Page {n:03d}"


@pytest.fixture(scope="module")
def wiki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WikiClient]:
    with throwaway_wiki(tmp_path_factory.mktemp("mediawiki")) as client:
        for n in range(PAGES):
            client.edit(title(n), page_text(n))
        yield client


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory, wiki: WikiClient) -> Path:
    folder = tmp_path_factory.mktemp("sync")
    (folder / "askwiki.toml").write_text(
        f'[sources.wiki]\nkind = "mediawiki"\naddress = "{wiki.api}"\nindex = "mw"\n'
        'exclude = ["Main Page"]\n',
        encoding="utf-8",
    )
    return folder


def settings_in(folder: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "index_dir": folder / "indexes",
        "data_dir": folder / "data",
        "index": "mw",
        "sync_config": folder / "askwiki.toml",
        "min_dense_score": -1.0,
        "min_hybrid_score": -1.0,
        "index_poll_s": 0.5,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def cli_sync(folder: Path, *extra: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "askwiki.cli.main", "sync", "--index", "mw", "--json", *extra],
        capture_output=True,
        text=True,
        cwd=folder,
        env=env or cli_env(folder),
        timeout=900,
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def cli_env(folder: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASKWIKI_")}
    env.update(
        ASKWIKI_INDEX_DIR=str(folder / "indexes"),
        ASKWIKI_DATA_DIR=str(folder / "data"),
        ASKWIKI_SYNC_CONFIG=str(folder / "askwiki.toml"),
        PYTHONPATH=str(ROOT),
        **extra,
    )
    return env


def search_doc_ids(client: TestClient | httpx.Client, query: str) -> list[str]:
    response = client.get("/api/search", params={"q": query, "k": 20})
    assert response.status_code == 200, response.text
    return [hit["doc_id"] for hit in response.json()["results"]]


def test_edit_and_delete_resync_only_the_changed_chunks(
    wiki: WikiClient, workdir: Path, real_embedder: Embedder
) -> None:
    initial = cli_sync(workdir)
    assert initial["documents"] == PAGES and len(initial["new"]) == PAGES
    assert initial["sources"][0]["full"]
    settings = settings_in(workdir)
    with TestClient(create_app(settings, embedder=real_embedder)) as client:
        assert "wiki:Page 017" in search_doc_ids(client, "zq017x astronomy")[:3]

    wiki.edit(title(42), page_text(42, revision="rewritten, much longer and corrected"))
    wiki.delete(title(17))
    changed = cli_sync(workdir)

    assert changed["changed"] == ["wiki:Page 042"] and changed["deleted"] == ["wiki:Page 017"]
    assert changed["new"] == [] and changed["documents"] == PAGES - 1
    # Only the History section of page 42 changed: one chunk embedded, its others reused.
    assert changed["chunks_embedded"] == 1 and changed["chunks_reused"] >= 2
    with TestClient(create_app(settings, embedder=real_embedder)) as client:
        assert "wiki:Page 017" not in search_doc_ids(client, "zq017x astronomy")
        hits = client.get("/api/search", params={"q": "zq042x rewritten history", "k": 5})
        results = hits.json()["results"]
        assert results[0]["doc_id"] == "wiki:Page 042"
        # Citations link to the section with MediaWiki's own anchor.
        urls = {hit["url"] for hit in results if hit["doc_id"] == "wiki:Page 042"}
        assert any(url.endswith("/index.php/Page_042#History") for url in urls), urls

    unchanged = cli_sync(workdir)
    assert unchanged["chunks_embedded"] == 0 and unchanged["version"] == changed["version"]
    print(
        f"\ninitial {initial['seconds']:.2f} s, edit+delete {changed['seconds']:.2f} s, "
        f"unchanged {unchanged['seconds']:.2f} s "
        f"(ratio {unchanged['seconds'] / initial['seconds']:.3f})"
    )
    assert unchanged["seconds"] < initial["seconds"] / 10


def test_sync_killed_half_way_keeps_live_version_and_next_one_completes(
    wiki: WikiClient, workdir: Path, real_embedder: Embedder
) -> None:
    settings = settings_in(workdir)
    before = current_version(settings.index_path)
    for n in range(100, 110):
        wiki.edit(title(n), page_text(n, revision="edited before the crash"))
    wiki.move(title(6), "Page six")
    wiki.delete(title(7))
    child = subprocess.Popen(
        [sys.executable, "-m", "askwiki.cli.main", "sync", "--index", "mw", "--json"],
        cwd=workdir,
        env=cli_env(workdir),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # Half-way: the deletions are staged in a temporary version, the edits not yet embedded.
    versions = settings.index_path / "versions"
    deadline = time.monotonic() + 300
    while not any(p.name.endswith(".tmp") for p in versions.iterdir()):
        assert child.poll() is None and time.monotonic() < deadline, "sync never staged"
        time.sleep(0.02)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()

    assert current_version(settings.index_path) == before
    with TestClient(create_app(settings, embedder=real_embedder)) as client:
        assert client.get("/api/ready").status_code == 200
        assert "wiki:Page 007" in search_doc_ids(client, "zq007x")[:3]  # still the old version

    report = cli_sync(workdir)
    assert sorted(report["changed"]) == [f"wiki:{title(n)}" for n in range(100, 110)]
    assert report["new"] == ["wiki:Page six"]
    assert sorted(report["deleted"]) == ["wiki:Page 006", "wiki:Page 007"]
    expected = {f"wiki:{title(n)}" for n in range(PAGES) if n not in (6, 7, 17)}
    index = open_index(settings.index_path)
    try:
        documents = index.docstore.documents()
        assert set(documents) == expected | {"wiki:Page six"}
        assert index.manifest.chunks == sum(d.chunk_count for d in documents.values())
        assert index.dense.ntotal == index.manifest.chunks  # no duplicated vectors
        edited = " ".join(c.chunk.text for c in index.docstore.chunks_of("wiki:Page 105"))
        assert "edited before the crash" in edited
    finally:
        index.close()


def test_scheduled_sync_makes_an_edit_searchable_without_restart(
    wiki: WikiClient, workdir: Path, real_embedder: Embedder
) -> None:
    interval = 5.0
    settings = settings_in(workdir, sync_interval=interval)
    with serve_in_thread(create_app(settings, embedder=real_embedder)) as url:
        client = httpx.Client(base_url=url, timeout=60)
        assert "wiki:Page 123" not in search_doc_ids(client, "okapi zebra giraffe")[:1]
        edited = time.monotonic()
        wiki.edit(title(123), page_text(123) + "\n== Okapi ==\nThe okapi zebra giraffe note.\n")
        while "wiki:Page 123" not in search_doc_ids(client, "okapi zebra giraffe")[:1]:
            assert time.monotonic() - edited < interval + 60, "the edit never became searchable"
            time.sleep(0.5)
        elapsed = time.monotonic() - edited
        client.close()
    print(f"\nedit searchable after {elapsed:.1f} s (interval {interval:.0f} s)")
    assert elapsed < interval + 60
