"""A damaged index version on start: refused, reported in /api/ready, the last good one served."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from askwiki.store.layout import version_path
from askwiki.testing.fake_embedder import fake_embedder
from tests.support.admin import AUTH, TOKEN, wait_job
from tests.support.index_builder import WIKI_PAGES, build_index, page
from tests.unit.server.conftest import ClientFactory

QUOKKA = page("quokka.md", "Quokka", "Quokkas live on Rottnest Island near Perth.")
DAMAGE = {
    "manifest.json": b'{"name": "default", "version":',
    "dense.faiss": b"\x00" * 16,
    "docstore.sqlite": b"this is not a database at all" * 100,
    "bm25/row_ids.npy": b"garbage",
}


def _damage(version_folder: Path, name: str) -> None:
    (version_folder / name).write_bytes(DAMAGE[name])


@pytest.mark.parametrize("name", sorted(DAMAGE))
def test_damaged_newest_version_is_refused_and_the_previous_one_served(
    make_client: ClientFactory, tmp_path: Path, name: str
) -> None:
    index_path = tmp_path / "indexes" / "default"
    good = (index_path / "CURRENT").read_text().strip()
    damaged = build_index(index_path, [*WIKI_PAGES, QUOKKA], fake_embedder())
    _damage(version_path(index_path, damaged), name)

    client = make_client(admin_token=TOKEN)
    ready = client.get("/api/ready")
    assert ready.status_code == 200
    index = ready.json()["index"]
    assert index["ok"] and index["version"] == good
    assert damaged in index["detail"] and "damaged" in index["detail"]
    search = client.get("/api/search", params={"q": "quokka rottnest"}).json()
    assert search["index_version"] == good
    assert all(hit["doc_id"] != "quokka.md" for hit in search["results"])
    assert client.post("/api/ask", json={"question": "Who introduced LoRA?"}).status_code == 200

    # The next good version (an admin upload) replaces both.
    job = _upload_a_page(client)
    assert job["status"] == "succeeded", job
    ready = client.get("/api/ready").json()["index"]
    assert ready["version"] == job["report"]["version"] and "detail" not in ready


def test_only_version_damaged_keeps_the_server_up_with_clear_503s(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    index_path = tmp_path / "indexes" / "default"
    only = (index_path / "CURRENT").read_text().strip()
    _damage(version_path(index_path, only), "dense.faiss")

    client = make_client(admin_token=TOKEN)
    assert client.get("/api/health").status_code == 200
    ready = client.get("/api/ready")
    assert ready.status_code == 503
    assert (
        not ready.json()["index"]["ok"]
        and "re-run 'askwiki ingest'" in ready.json()["index"]["detail"]
    )
    for response in (
        client.get("/api/search", params={"q": "LoRA"}),
        client.post("/api/ask", json={"question": "Who introduced LoRA?"}),
    ):
        assert response.status_code == 503
        assert "re-run 'askwiki ingest'" in response.json()["detail"]
    # An incremental admin job cannot build on the damaged version: it fails and says why.
    job = _upload_a_page(client)
    assert job["status"] == "failed" and "askwiki ingest" in job["error"]


def _upload_a_page(client: TestClient) -> dict[str, Any]:
    """Upload one new page through the admin API and wait for its job."""
    accepted = client.post(
        "/api/admin/documents",
        headers=AUTH,
        files=[("files", ("wombat.md", b"# Wombat\n\nWombats dig burrows."))],
    )
    return wait_job(client, accepted.json()["job_id"])
