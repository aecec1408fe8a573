"""32 clients ask and search for 60 s while admin jobs keep publishing new index versions.

Bounded load on loopback with the fake embedder and a FakeLLM that streams with a small
delay. Pass: no request fails, and every response names a published version whose
chunks include every source it cites (no request ever saw a half-built index).
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from askwiki.server.app import create_app
from askwiki.settings import Settings
from askwiki.store.index import open_version
from askwiki.testing.fake_embedder import fake_embedder
from askwiki.testing.fake_llm import FakeLLM
from tests.support.admin import AUTH, TOKEN, wait_job
from tests.support.index_builder import WIKI_PAGES, build_index, page
from tests.support.live_server import serve_in_thread

pytestmark = pytest.mark.integration

CLIENTS = 32
SECONDS = float(os.environ.get("ASKWIKI_LOAD_TEST_SECONDS", "60"))
QUESTIONS = [
    "Who introduced LoRA?",
    "What rank does LoRA use?",
    "知识蒸馏是谁提出的？",
    "What are typical BM25 parameters?",
    "Where do quokkas live?",
    "How do wombats dig?",
]
EXTRA = [
    page(f"animals/a{n}.md", f"Animal {n}", f"Animal {n} lives in burrow {n}.") for n in range(20)
]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    index_path = tmp_path / "indexes" / "default"
    build_index(index_path, [*WIKI_PAGES, *EXTRA], fake_embedder())
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        index_dir=tmp_path / "indexes",
        data_dir=tmp_path / "data",
        min_dense_score=-1.0,
        rate_limit_per_minute=0,
        session_rate_limit_per_minute=0,
        admin_token=SecretStr(TOKEN),
        index_poll_s=0.5,
        keep_versions=2,
    )
    llm = FakeLLM(
        ["Quokkas live on Rottnest Island [1].", "LoRA was introduced by Hu et al. [1]."],
        delay_s=0.002,
    )
    app = create_app(settings, embedder=fake_embedder(), llm_factory=lambda: llm)
    with serve_in_thread(app) as base:
        yield base, index_path


def _chunk_ids(index_path: Path, version: str) -> set[str]:
    index = open_version(index_path, version)
    try:
        return {
            c.chunk.chunk_id
            for d in index.docstore.documents()
            for c in index.docstore.chunks_of(d)
        }
    finally:
        index.close()


def test_no_request_fails_or_sees_a_half_built_index_during_swaps(server: tuple[str, Path]) -> None:
    base, index_path = server
    published: dict[str, set[str]] = {}
    with httpx.Client(base_url=base, timeout=30) as admin:
        first = admin.get("/api/ready").json()["index"]["version"]
        published[first] = _chunk_ids(index_path, first)

    stop = threading.Event()
    lock = threading.Lock()
    failures: list[str] = []
    seen: list[tuple[str, list[str]]] = []
    counts = {"ask": 0, "search": 0}

    def client(number: int) -> None:
        rng = random.Random(number)
        with httpx.Client(base_url=base, timeout=30) as http:
            while not stop.is_set():
                question = rng.choice(QUESTIONS)
                kind = "ask" if rng.random() < 0.5 else "search"
                try:
                    if kind == "ask":
                        body = {"question": question, "fresh": rng.random() < 0.5, "top_k": 3}
                        response = http.post("/api/ask", json=body)
                    else:
                        response = http.get("/api/search", params={"q": question, "k": 5})
                except httpx.HTTPError as exc:
                    with lock:
                        failures.append(f"{kind}: {type(exc).__name__}: {exc}")
                    continue
                if response.status_code != 200:
                    with lock:
                        failures.append(f"{kind}: {response.status_code} {response.text[:200]}")
                    continue
                data = response.json()
                ids = (
                    [s["id"] for s in data["sources"]]
                    if kind == "ask"
                    else [r["id"] for r in data["results"]]
                )
                with lock:
                    counts[kind] += 1
                    if data.get("index_version"):
                        seen.append((data["index_version"], ids))

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    started = time.monotonic()
    jobs = 0
    with httpx.Client(base_url=base, timeout=30) as admin:
        while time.monotonic() - started < SECONDS:
            step = jobs % 4
            if step == 0:
                text = f"# Quokka\n\nQuokkas live on Rottnest Island (revision {jobs}).\n".encode()
                response = admin.post(
                    "/api/admin/documents", headers=AUTH, files=[("files", ("quokka.md", text))]
                )
            elif step == 1:
                page_json = {
                    "id": "wombat",
                    "title": "Wombat",
                    "text": f"Wombats dig burrows ({jobs}).",
                }
                response = admin.post("/api/admin/documents", headers=AUTH, json=page_json)
            elif step == 2:
                response = admin.delete(
                    f"/api/admin/documents/animals/a{jobs % 20}.md", headers=AUTH
                )
                if response.status_code == 404:
                    response = admin.post(
                        "/api/admin/reindex", headers=AUTH, json={"rebuild": False}
                    )
            else:
                response = admin.post(
                    "/api/admin/reindex", headers=AUTH, json={"rebuild": jobs % 8 == 7}
                )
            assert response.status_code == 202, response.text
            job = wait_job(admin, response.json()["job_id"], timeout_s=60)
            assert job["status"] == "succeeded", job
            version = job["report"]["version"]
            if version and version not in published:
                published[version] = _chunk_ids(index_path, version)
            jobs += 1
    stop.set()
    for thread in threads:
        thread.join(60)

    assert failures == [], failures[:10]
    assert counts["ask"] > 100 and counts["search"] > 100, counts
    versions_seen = {version for version, _ in seen}
    assert versions_seen <= set(published), versions_seen - set(published)
    assert len(versions_seen) >= min(5, len(published)), (len(versions_seen), len(published), jobs)
    for version, ids in seen:
        missing = set(ids) - published[version]
        assert not missing, f"{version} does not hold {missing}"
