"""Hostile uploads: each bad file gets a clear reason and the good files of the job still land."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FIXTURES
from tests.support import multipart
from tests.support.admin import AUTH, TOKEN, wait_job
from tests.support.hostile_files import pdf_flate_bomb, pdf_slow_to_parse, yaml_alias_bomb
from tests.unit.server.conftest import ClientFactory

GOOD = b"# Quokka\n\nQuokkas live on Rottnest Island near Perth.\n"


def _upload(client: Any, files: list[tuple[bytes, bytes]]) -> Any:
    headers = {**AUTH, "Content-Type": multipart.CONTENT_TYPE}
    return client.post("/api/admin/documents", headers=headers, content=multipart.body(files))


def _reasons(job: dict[str, Any]) -> dict[str, str]:
    return {item["file"]: item["reason"] for item in job["report"]["skipped"]}


def test_path_traversal_names_land_inside_the_uploads_folder(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    client = make_client(admin_token=TOKEN)
    response = _upload(
        client,
        [
            (b"../../escape.md", GOOD),
            (b"/tmp/absolute.md", GOOD.replace(b"Quokka", b"Numbat")),
            (b"..\\..\\windows.md", GOOD.replace(b"Quokka", b"Bilby")),
            (b"nul\x00byte.md", GOOD.replace(b"Quokka", b"Dingo")),
            ("rtl\u202egpj.md".encode(), GOOD.replace(b"Quokka", b"Emu")),
            (b"../../etc/passwd", b"root:x:0:0"),
        ],
    )
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert accepted["accepted"] == [
        "escape.md",
        "absolute.md",
        "windows.md",
        "nulbyte.md",
        "rtlgpj.md",
    ]
    [refused] = accepted["rejected"]
    assert refused["file"] == "../../etc/passwd" and "unsupported file type" in refused["reason"]
    job = wait_job(client, accepted["job_id"])
    assert sorted(job["report"]["new"]) == sorted(accepted["accepted"])
    uploads = tmp_path / "data" / "uploads" / "default"
    assert sorted(p.name for p in uploads.iterdir()) == sorted(accepted["accepted"])
    # Nothing was written next to or above the data folder.
    for escaped in ("escape.md", "absolute.md", "windows.md", "passwd"):
        assert not list(tmp_path.rglob(escaped)) or all(
            p.is_relative_to(uploads) for p in tmp_path.rglob(escaped)
        )
    assert not Path("/tmp/absolute.md").exists()


def test_lying_extensions_are_refused_and_the_rest_ingested(make_client: ClientFactory) -> None:
    client = make_client(admin_token=TOKEN)
    response = _upload(
        client,
        [
            (b"photo.md", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64),
            (b"report.html", b"PK\x03\x04" + b"\x00" * 64),
            (b"fake.pdf", b"<html><body>Not a PDF at all</body></html>"),
            (b"binary.md", (FIXTURES / "broken" / "binary.md").read_bytes()),
            (b"quokka.md", GOOD),
        ],
    )
    accepted = response.json()
    refused = {r["file"]: r["reason"] for r in accepted["rejected"]}
    assert "PNG image" in refused["photo.md"] and "ZIP archive" in refused["report.html"]
    assert "lying extension" in refused["binary.md"]
    job = wait_job(client, accepted["job_id"])
    assert job["status"] == "succeeded" and job["report"]["new"] == ["quokka.md"]
    reasons = _reasons(job)
    assert "not a PDF" in reasons["fake.pdf"] and "lying extension" in reasons["fake.pdf"]
    assert set(refused) <= set(reasons)  # the report lists arrival refusals too


def test_decompression_bombs_cost_only_their_own_file(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    client = make_client(admin_token=TOKEN)
    response = _upload(
        client,
        [
            (b"laughs.md", yaml_alias_bomb().encode()),
            (b"bomb.pdf", pdf_flate_bomb()),
            (b"quokka.md", GOOD),
        ],
    )
    job = wait_job(client, response.json()["job_id"], timeout_s=120)
    assert job["status"] == "succeeded" and job["report"]["new"] == ["quokka.md"], job
    reasons = _reasons(job)
    assert "YAML alias" in reasons["laughs.md"]
    assert "decompression bomb" in reasons["bomb.pdf"]
    # Skipped files do not stay in the uploads folder (a reindex must not meet them again).
    uploads = tmp_path / "data" / "uploads" / "default"
    assert sorted(p.name for p in uploads.iterdir()) == ["quokka.md"]


def test_pdf_that_stalls_or_breaks_pypdf_is_skipped_within_the_time_limit(
    make_client: ClientFactory,
) -> None:
    client = make_client(admin_token=TOKEN, pdf_timeout_s=2.0)
    response = _upload(
        client,
        [
            (b"slow.pdf", pdf_slow_to_parse()),
            (b"truncated.pdf", (FIXTURES / "broken" / "truncated.pdf").read_bytes()),
            (b"handbook.pdf", (FIXTURES / "mini" / "handbook.pdf").read_bytes()),
            (b"quokka.md", GOOD),
        ],
    )
    job = wait_job(client, response.json()["job_id"], timeout_s=60)
    assert sorted(job["report"]["new"]) == ["handbook.pdf", "quokka.md"], job
    reasons = _reasons(job)
    assert "timed out after 2 s" in reasons["slow.pdf"]
    assert "PDF" in reasons["truncated.pdf"]


def test_file_over_the_per_file_limit_is_refused_alone(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    client = make_client(admin_token=TOKEN, max_file_mb=0.01)  # 10 KB
    response = _upload(client, [(b"huge.md", b"# Big\n\n" + b"word " * 5000), (b"quokka.md", GOOD)])
    accepted = response.json()
    assert accepted["accepted"] == ["quokka.md"]
    [refused] = accepted["rejected"]
    assert refused["file"] == "huge.md" and "ASKWIKI_MAX_FILE_MB" in refused["reason"]
    assert wait_job(client, accepted["job_id"])["report"]["new"] == ["quokka.md"]


def test_upload_with_no_acceptable_file_is_422_and_leaves_no_spool(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    client = make_client(admin_token=TOKEN)
    response = _upload(client, [(b"a.exe", b"MZ\x90\x00"), (b"..", b"x")])
    assert response.status_code == 422
    assert response.json()["error"] == "upload_rejected" and "a.exe" in response.json()["detail"]
    spool = tmp_path / "data" / "spool" / "default"
    assert not any(spool.iterdir())


def test_failed_replacement_keeps_the_previous_uploaded_file(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    client = make_client(admin_token=TOKEN)
    wait_job(client, _upload(client, [(b"quokka.md", GOOD)]).json()["job_id"])
    job = wait_job(client, _upload(client, [(b"quokka.md", b"   \n\n  ")]).json()["job_id"])
    assert "empty" in _reasons(job)["quokka.md"]
    assert (tmp_path / "data" / "uploads" / "default" / "quokka.md").read_bytes() == GOOD
    hits = client.get("/api/search", params={"q": "quokka rottnest"}).json()["results"]
    assert hits[0]["doc_id"] == "quokka.md"


def test_index_locked_by_another_writer_fails_the_job_and_restores_the_folder(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    from askwiki.store.layout import writer_lock

    client = make_client(admin_token=TOKEN)
    with writer_lock(tmp_path / "indexes" / "default"):
        job = wait_job(client, _upload(client, [(b"quokka.md", GOOD)]).json()["job_id"])
    assert job["status"] == "failed" and "being written" in job["error"]
    assert not (tmp_path / "data" / "uploads" / "default" / "quokka.md").exists()
    # Rerun once the other writer is done.
    assert (
        wait_job(client, _upload(client, [(b"quokka.md", GOOD)]).json()["job_id"])["status"]
        == "succeeded"
    )


@pytest.fixture(autouse=True)
def _no_leftover_tmp(tmp_path: Path) -> Any:
    yield
    shutil.rmtree(tmp_path / "data" / "spool", ignore_errors=True)


def test_malformed_multipart_is_422_not_500(make_client: ClientFactory) -> None:
    # Found by the schemathesis fuzz run: the multipart parser's own errors escaped as 500s.
    client = make_client(admin_token=TOKEN)
    broken = multipart.part_head(b"a.md").replace(b"Content-Type", b"Content\r-Type") + GOOD
    response = client.post(
        "/api/admin/documents",
        headers={**AUTH, "Content-Type": multipart.CONTENT_TYPE},
        content=broken,
    )
    assert response.status_code == 422 and "malformed multipart" in response.json()["detail"]
    no_boundary = client.post(
        "/api/admin/documents",
        headers={**AUTH, "Content-Type": "multipart/form-data"},
        content=b"--x\r\n",
    )
    assert no_boundary.status_code == 422 and "boundary" in no_boundary.json()["detail"]


def test_json_page_that_is_not_utf8_is_422_not_500(make_client: ClientFactory) -> None:
    # Found by the fuzz run: the 422 body echoed the bytes and failed to encode them.
    response = make_client(admin_token=TOKEN).post(
        "/api/admin/documents",
        headers={**AUTH, "Content-Type": "application/json"},
        content=b'{"id": "x", "text": "\xc3\xdc"}',
    )
    assert response.status_code == 422 and response.json()["error"] == "invalid_request"
