"""Sync inside the server: ``POST /api/admin/sync`` as a job, and ``ASKWIKI_SYNC_INTERVAL``."""

from __future__ import annotations

import time
from pathlib import Path

from tests.support.admin import AUTH, TOKEN, wait_job
from tests.support.git_repo import GitRepo
from tests.unit.server.conftest import ClientFactory


def handbook(tmp_path: Path) -> tuple[GitRepo, Path]:
    repo = GitRepo(tmp_path / "handbook")
    repo.write("zebra.md", "# Zebra care\n\n## Feeding\n\nZebras graze on grass all day.\n")
    repo.commit("first page")
    config = tmp_path / "askwiki.toml"
    config.write_text(
        f'[sources.handbook]\nkind = "git"\naddress = "{repo.path}"\n', encoding="utf-8"
    )
    return repo, config


def search_ids(client: object, query: str) -> set[str]:
    response = client.get("/api/search", params={"q": query, "k": 50})  # type: ignore[attr-defined]
    return {hit["doc_id"] for hit in response.json()["results"]}


def test_admin_sync_is_a_job_and_serves_the_new_version(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    repo, config = handbook(tmp_path)
    client = make_client(admin_token=TOKEN, sync_config=config)
    accepted = client.post("/api/admin/sync", headers=AUTH)
    assert accepted.status_code == 202
    job = wait_job(client, accepted.json()["job_id"])
    assert job["status"] == "succeeded", job
    assert job["kind"] == "sync" and job["report"]["new"] == ["handbook:zebra.md"]
    assert "handbook:zebra.md" in search_ids(client, "zebra grass")

    repo.remove("zebra.md")
    repo.commit("delete it")
    job = wait_job(client, client.post("/api/admin/sync", headers=AUTH).json()["job_id"])
    assert job["report"]["deleted"] == ["handbook:zebra.md"]
    assert "handbook:zebra.md" not in search_ids(client, "zebra grass")


def test_admin_sync_unknown_source_fails_the_job_with_the_reason(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    _, config = handbook(tmp_path)
    client = make_client(admin_token=TOKEN, sync_config=config)
    accepted = client.post("/api/admin/sync", headers=AUTH, json={"sources": ["nope"]})
    job = wait_job(client, accepted.json()["job_id"])
    assert job["status"] == "failed" and "No source nope" in job["error"]


def test_admin_sync_needs_the_token(make_client: ClientFactory, tmp_path: Path) -> None:
    client = make_client(admin_token=TOKEN)
    assert client.post("/api/admin/sync").status_code == 401


def test_scheduled_sync_picks_up_a_commit_without_restart(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    repo, config = handbook(tmp_path)
    client = make_client(sync_config=config, sync_interval=0.3)
    deadline = time.monotonic() + 30
    while "handbook:zebra.md" not in search_ids(client, "zebra grass"):
        assert time.monotonic() < deadline, "the first scheduled sync never showed up"
        time.sleep(0.1)
    repo.write("okapi.md", "# Okapi\n\n## Habitat\n\nOkapis live in the Ituri rainforest.\n")
    repo.commit("second page")
    while "handbook:okapi.md" not in search_ids(client, "okapi rainforest"):
        assert time.monotonic() < deadline, "the scheduled sync missed the new commit"
        time.sleep(0.1)
