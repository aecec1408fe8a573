"""The admin API: token checks, uploads and pages as jobs, listing, deleting, re-indexing."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tests.support.admin import AUTH, TOKEN, wait_job
from tests.unit.server.conftest import ClientFactory

QUOKKA = b"# Quokka\n\nQuokkas live on Rottnest Island near Perth.\n"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/admin/documents"),
        ("POST", "/api/admin/documents"),
        ("DELETE", "/api/admin/documents/models/lora.md"),
        ("POST", "/api/admin/reindex"),
        ("GET", "/api/admin/jobs/0123456789abcdef"),
        ("GET", "/api/admin/jobs"),
    ],
)
def test_admin_routes_are_disabled_without_a_token_setting(
    make_client: ClientFactory, method: str, path: str
) -> None:
    client = make_client()  # ASKWIKI_ADMIN_TOKEN unset
    for headers in ({}, AUTH, {"Authorization": "Bearer "}):
        response = client.request(method, path, headers=headers)
        assert response.status_code == 403
        assert response.json()["error"] == "admin_disabled"
        assert "ASKWIKI_ADMIN_TOKEN" in response.json()["detail"]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": TOKEN},
        {"Authorization": f"Bearer {TOKEN[:-1]}"},
    ],
)
def test_wrong_or_missing_token_is_401(make_client: ClientFactory, headers: dict[str, str]) -> None:
    client = make_client(admin_token=TOKEN)
    response = client.get("/api/admin/documents", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert response.headers["www-authenticate"] == "Bearer"


def test_unauthorised_upload_is_refused_before_anything_is_spooled(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    client = make_client(admin_token=TOKEN)
    response = client.post("/api/admin/documents", files=[("files", ("a.md", QUOKKA))])
    assert response.status_code == 401
    spool = tmp_path / "data" / "spool" / "default"
    assert not spool.exists() or not any(spool.iterdir())


def test_uploaded_file_becomes_searchable_and_listed(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    client = make_client(admin_token=TOKEN)
    before = client.get("/api/ready").json()["index"]["version"]
    response = client.post(
        "/api/admin/documents",
        headers=AUTH,
        files=[("files", ("quokka.md", QUOKKA, "text/markdown"))],
    )
    assert response.status_code == 202
    accepted = response.json()
    assert accepted["accepted"] == ["quokka.md"] and accepted["kind"] == "upload"
    assert (
        response.headers["location"] == accepted["url"] == f"/api/admin/jobs/{accepted['job_id']}"
    )
    job = wait_job(client, accepted["job_id"])
    assert job["status"] == "succeeded", job
    assert job["report"]["new"] == ["quokka.md"] and job["report"]["version"] != before
    # Swapped in right after the job, not at the next poll.
    assert client.get("/api/ready").json()["index"]["version"] == job["report"]["version"]
    hits = client.get("/api/search", params={"q": "quokka rottnest"}).json()
    assert hits["results"][0]["doc_id"] == "quokka.md"
    assert (tmp_path / "data" / "uploads" / "default" / "quokka.md").read_bytes() == QUOKKA
    listed = client.get("/api/admin/documents", headers=AUTH).json()
    row = next(d for d in listed["items"] if d["doc_id"] == "quokka.md")
    assert row["uploaded"] and row["chunks"] >= 1 and len(row["content_hash"]) == 16
    assert listed["total"] == 4 and listed["index_version"] == job["report"]["version"]


def test_document_list_is_paged(make_client: ClientFactory) -> None:
    client = make_client(admin_token=TOKEN)
    first = client.get("/api/admin/documents", headers=AUTH, params={"limit": 2}).json()
    rest = client.get("/api/admin/documents", headers=AUTH, params={"limit": 2, "offset": 2}).json()
    assert first["total"] == rest["total"] == 3
    ids = [d["doc_id"] for d in first["items"] + rest["items"]]
    assert ids == ["models/distillation.md", "models/lora.md", "retrieval/bm25.md"]
    bad = client.get("/api/admin/documents", headers=AUTH, params={"limit": 0})
    assert bad.status_code == 422


def test_json_page_is_ingested_with_its_own_id(make_client: ClientFactory) -> None:
    client = make_client(admin_token=TOKEN)
    page = {
        "id": "animals/wombat",
        "title": "Wombat",
        "url": "https://wiki.example.com/animals/wombat",
        "text": "## Droppings\nWombats produce cube-shaped droppings.",
    }
    accepted = client.post("/api/admin/documents", headers=AUTH, json=page).json()
    assert accepted["kind"] == "page" and accepted["accepted"] == ["animals/wombat"]
    job = wait_job(client, accepted["job_id"])
    assert job["report"]["new"] == ["animals/wombat"], job
    hit = client.get("/api/search", params={"q": "wombat cube droppings"}).json()["results"][0]
    assert hit["doc_id"] == "animals/wombat" and hit["url"].startswith(page["url"])
    # Posting the same id again replaces the page.
    page["text"] = "## Droppings\nWombat droppings are cubes, about 2 cm wide."
    job = wait_job(
        client, client.post("/api/admin/documents", headers=AUTH, json=page).json()["job_id"]
    )
    assert job["report"]["changed"] == ["animals/wombat"]


@pytest.mark.parametrize(
    ("page", "problem"),
    [
        ({"text": "no id or title"}, "id"),
        ({"id": "x", "text": "   "}, "empty"),
        ({"id": "x", "text": "t", "url": "javascript:alert(1)"}, "http"),
        ({"id": "line\nbreak", "text": "t"}, "one line"),
        ({"id": "x"}, "text"),
    ],
)
def test_invalid_json_page_is_422(
    make_client: ClientFactory, page: dict[str, str], problem: str
) -> None:
    response = make_client(admin_token=TOKEN).post("/api/admin/documents", headers=AUTH, json=page)
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request" and problem in response.text


def test_other_content_types_are_refused(make_client: ClientFactory) -> None:
    response = make_client(admin_token=TOKEN).post(
        "/api/admin/documents", headers={**AUTH, "Content-Type": "text/plain"}, content=b"hi"
    )
    assert response.status_code == 422 and "multipart/form-data" in response.json()["detail"]


def test_delete_removes_the_document_and_its_uploaded_file(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    client = make_client(admin_token=TOKEN)
    upload = client.post(
        "/api/admin/documents", headers=AUTH, files=[("files", ("quokka.md", QUOKKA))]
    )
    wait_job(client, upload.json()["job_id"])
    response = client.delete("/api/admin/documents/quokka.md", headers=AUTH)
    assert response.status_code == 202 and response.json()["kind"] == "delete"
    job = wait_job(client, response.json()["job_id"])
    assert job["report"]["deleted"] == ["quokka.md"] and job["report"]["removed_files"] == [
        "quokka.md"
    ]
    assert not (tmp_path / "data" / "uploads" / "default" / "quokka.md").exists()
    ids = [d["doc_id"] for d in client.get("/api/admin/documents", headers=AUTH).json()["items"]]
    assert "quokka.md" not in ids
    # A document ingested by the CLI (ids with slashes) can be deleted too.
    job = wait_job(
        client, client.delete("/api/admin/documents/models/lora.md", headers=AUTH).json()["job_id"]
    )
    assert job["report"]["deleted"] == ["models/lora.md"] and job["report"]["removed_files"] == []


def test_delete_of_an_unknown_document_is_404(make_client: ClientFactory) -> None:
    client = make_client(admin_token=TOKEN)
    for doc_id in ("nope.md", "..%2F..%2Fetc%2Fpasswd", "_pages", "%2E%2E"):
        response = client.delete(f"/api/admin/documents/{doc_id}", headers=AUTH)
        assert response.status_code == 404 and response.json()["error"] == "not_found"


def test_reindex_rebuilds_from_the_uploads_folder(make_client: ClientFactory) -> None:
    client = make_client(admin_token=TOKEN)
    wait_job(
        client,
        client.post(
            "/api/admin/documents", headers=AUTH, files=[("files", ("quokka.md", QUOKKA))]
        ).json()["job_id"],
    )
    keep = wait_job(
        client,
        client.post("/api/admin/reindex", headers=AUTH, json={"rebuild": False}).json()["job_id"],
    )
    assert keep["status"] == "succeeded" and keep["report"]["documents"] == 4, keep
    rebuilt = wait_job(client, client.post("/api/admin/reindex", headers=AUTH).json()["job_id"])
    assert rebuilt["detail"] == {"rebuild": True}
    assert rebuilt["report"]["documents"] == 1 and rebuilt["report"]["new"] == ["quokka.md"]
    assert client.get("/api/ready").json()["index"]["documents"] == 1


def test_unknown_job_is_404_and_malformed_job_id_is_422(make_client: ClientFactory) -> None:
    client = make_client(admin_token=TOKEN)
    assert client.get("/api/admin/jobs/0123456789abcdef", headers=AUTH).status_code == 404
    assert client.get("/api/admin/jobs/..%2F..%2Fetc", headers=AUTH).status_code in (404, 422)
    assert client.get("/api/admin/jobs/XYZ", headers=AUTH).status_code == 422


def test_previous_version_is_served_until_the_job_publishes(
    make_client: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from askwiki.ingest.pipeline import run_ingest as real
    from askwiki.server.admin import operations

    client = make_client(admin_token=TOKEN, index_poll_s=0.05)
    before = client.get("/api/ready").json()["index"]["version"]
    entered, release = threading.Event(), threading.Event()

    def slow_ingest(*args: object, **kwargs: object) -> object:
        entered.set()
        release.wait(10)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(operations, "run_ingest", slow_ingest)
    job_id = client.post(
        "/api/admin/documents", headers=AUTH, files=[("files", ("quokka.md", QUOKKA))]
    ).json()["job_id"]
    assert entered.wait(5)
    assert client.get(f"/api/admin/jobs/{job_id}", headers=AUTH).json()["status"] == "running"
    # Mid-job: questions are answered from the old version.
    search = client.get("/api/search", params={"q": "LoRA rank"}).json()
    assert search["index_version"] == before
    assert (
        client.post("/api/ask", json={"question": "Who introduced LoRA?"}).json()["index_version"]
        == before
    )
    release.set()
    job = wait_job(client, job_id)
    assert (
        client.get("/api/search", params={"q": "quokka"}).json()["index_version"]
        == job["report"]["version"]
    )
