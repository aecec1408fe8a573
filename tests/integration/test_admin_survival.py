"""The index and the question log survive a killed server, a full disk and a 2 GB upload.

Each test runs askwiki (fake embedder, FakeLLM) as a real server process on loopback.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from askwiki.questions import open_question_store
from askwiki.settings import Settings
from askwiki.store.index import open_index
from askwiki.store.layout import writer_lock
from askwiki.testing.fake_embedder import fake_embedder
from tests.support import multipart
from tests.support.admin import AUTH, TOKEN, wait_job
from tests.support.fake_server import fake_server_process, free_port
from tests.support.index_builder import WIKI_PAGES, build_index

pytestmark = pytest.mark.integration
GB = 1 << 30


def _env(root: Path, **extra: Any) -> dict[str, str]:
    values = {
        "ASKWIKI_INDEX_DIR": str(root / "indexes"),
        "ASKWIKI_DATA_DIR": str(root / "data"),
        "ASKWIKI_ADMIN_TOKEN": TOKEN,
        "ASKWIKI_PORT": str(free_port()),
        "ASKWIKI_MIN_DENSE_SCORE": "-1",
        "ASKWIKI_INDEX_POLL_S": "0.2",
        "ASKWIKI_RATE_LIMIT_PER_MINUTE": "0",
        "ASKWIKI_SESSION_RATE_LIMIT_PER_MINUTE": "0",
    }
    values.update({k: str(v) for k, v in extra.items()})
    return values


def _settings(root: Path) -> Settings:
    return Settings(_env_file=None, index_dir=root / "indexes", data_dir=root / "data")  # type: ignore[call-arg]


def _pages(count: int, words: int = 40) -> list[tuple[bytes, bytes]]:
    return [
        (f"page-{n:03d}.md".encode(), f"# Page {n}\n\n".encode() + b"quokka wombat numbat " * words)
        for n in range(count)
    ]


def _upload(client: httpx.Client, files: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    response = client.post(
        "/api/admin/documents",
        headers={**AUTH, "Content-Type": multipart.CONTENT_TYPE},
        content=multipart.body(files),
    )
    assert response.status_code == 202, response.text
    result: dict[str, Any] = response.json()
    return result


def test_kill_9_during_an_upload_job_loses_nothing_and_the_job_can_be_rerun(tmp_path: Path) -> None:
    index_path = tmp_path / "indexes" / "default"
    good = build_index(index_path, WIKI_PAGES, fake_embedder())
    log = tmp_path / "server.log"
    env = _env(tmp_path, FAKE_EMBED_DELAY_S=60)
    with (
        fake_server_process(env, log) as (process, base),
        httpx.Client(base_url=base, timeout=30) as client,
    ):
        asked = client.post("/api/ask", json={"question": "Who introduced LoRA?"}).json()
        job = _upload(client, _pages(20))
        deadline = time.monotonic() + 20
        while (
            client.get(f"/api/admin/jobs/{job['job_id']}", headers=AUTH).json()["status"]
            != "running"
        ):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(0.5)  # inside the (slow) embedding step, holding the index's writer lock
        process.kill()
        process.wait(10)
        assert process.returncode == -9

    # On disk: the live version is the one from before, whole; the lock died with the process.
    assert open_index(index_path).version == good
    with writer_lock(index_path):
        pass
    store = open_question_store(_settings(tmp_path))
    try:
        assert store.get(asked["id"]).answer.question == "Who introduced LoRA?"
    finally:
        store.close()
    uploads = tmp_path / "data" / "uploads" / "default"
    assert len(list(uploads.glob("*.md"))) == 20  # moved in before the ingest started

    env["FAKE_EMBED_DELAY_S"] = "0"
    with (
        fake_server_process(env, log) as (_, base),
        httpx.Client(base_url=base, timeout=30) as client,
    ):
        ready = client.get("/api/ready").json()
        assert ready["ready"] and ready["index"]["version"] == good
        assert client.get(f"/api/questions/{asked['id']}").status_code == 200
        killed = client.get(f"/api/admin/jobs/{job['job_id']}", headers=AUTH).json()
        assert killed["status"] == "interrupted" and "reindex" in killed["error"]
        assert not any((tmp_path / "data" / "spool" / "default").iterdir())
        rerun = client.post("/api/admin/reindex", headers=AUTH, json={"rebuild": False}).json()
        finished = wait_job(client, rerun["job_id"])
        assert finished["status"] == "succeeded", finished
        assert finished["report"]["documents"] == len(WIKI_PAGES) + 20
        hits = client.get("/api/search", params={"q": "Page 7 quokka"}).json()
        assert hits["index_version"] == finished["report"]["version"]


@contextlib.contextmanager
def _small_filesystem(folder: Path, size: str) -> Iterator[None]:
    """A tmpfs of ``size`` mounted on ``folder``; skips the test where mounting is not allowed."""
    folder.mkdir(parents=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip()}); needs root")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def _free_bytes(folder: Path) -> int:
    stat = os.statvfs(folder)
    return stat.f_bavail * stat.f_frsize


def test_disk_full_during_an_ingest_keeps_the_previous_version(tmp_path: Path) -> None:
    indexes = tmp_path / "indexes"
    with _small_filesystem(indexes, "8m"):
        index_path = indexes / "default"
        good = build_index(index_path, WIKI_PAGES, fake_embedder())
        # Leave ~300 KB: enough to start a version, not to finish a big one.
        filler = indexes / "filler"
        filler.write_bytes(b"\0" * (_free_bytes(indexes) - 300 * 1024))
        log = tmp_path / "server.log"
        with (
            fake_server_process(_env(tmp_path), log) as (_, base),
            httpx.Client(base_url=base, timeout=60) as client,
        ):
            asked = client.post("/api/ask", json={"question": "Who introduced LoRA?"}).json()
            job = wait_job(client, _upload(client, _pages(40, words=400))["job_id"], timeout_s=120)
            assert job["status"] == "failed", job
            assert "disk is full" in job["error"] and "Free disk space" in job["error"], job[
                "error"
            ]
            # The server keeps answering from the previous version, and knows it is still good.
            ready = client.get("/api/ready").json()
            assert ready["ready"] and ready["index"]["version"] == good
            assert (
                client.get("/api/search", params={"q": "LoRA rank"}).json()["index_version"] == good
            )
            assert client.get(f"/api/questions/{asked['id']}").status_code == 200
            # Nothing half-written is left behind, and the folder mirrors the index again.
            assert not list((index_path / "versions").glob("*.tmp"))
            assert not list((tmp_path / "data" / "uploads" / "default").glob("*.md"))
            # Space freed: the same upload goes through.
            filler.unlink()
            again = wait_job(
                client, _upload(client, _pages(40, words=400))["job_id"], timeout_s=120
            )
            assert again["status"] == "succeeded", again
        assert open_index(index_path).version == again["report"]["version"]


def _rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def test_2gb_upload_is_refused_at_the_limit_without_filling_memory_or_disk(tmp_path: Path) -> None:
    build_index(tmp_path / "indexes" / "default", WIKI_PAGES, fake_embedder())
    limit_mb = 8
    spool = tmp_path / "data" / "spool" / "default"
    log = tmp_path / "server.log"
    env = _env(tmp_path, ASKWIKI_MAX_UPLOAD_MB=limit_mb)
    with fake_server_process(env, log) as (process, base):
        baseline = _rss_bytes(process.pid)
        peak_rss, peak_spool, sent = baseline, 0, 0
        stop = threading.Event()

        def watch() -> None:
            nonlocal peak_rss, peak_spool
            while not stop.is_set():
                peak_rss = max(peak_rss, _rss_bytes(process.pid))
                with contextlib.suppress(OSError):
                    size = sum(f.stat().st_size for f in spool.rglob("*") if f.is_file())
                    peak_spool = max(peak_spool, size)
                time.sleep(0.01)

        def body() -> Iterator[bytes]:
            nonlocal sent
            for chunk in multipart.endless_file(b"huge.md", 2 * GB):
                sent += len(chunk)
                yield chunk

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        started = time.monotonic()
        try:
            response = httpx.post(
                f"{base}/api/admin/documents",
                headers={**AUTH, "Content-Type": multipart.CONTENT_TYPE},
                content=body(),
                timeout=120,
            )
        finally:
            stop.set()
            watcher.join()
        elapsed = time.monotonic() - started
        assert response.status_code == 413, response.text
        assert response.json()["error"] == "too_large"
        assert "ASKWIKI_MAX_UPLOAD_MB" in response.json()["detail"]
        assert peak_spool <= limit_mb << 20
        assert peak_rss - baseline < 64 << 20, (baseline, peak_rss)
        assert not spool.exists() or not any(spool.iterdir())
        # The server stopped reading: far less than 2 GB went over the wire.
        assert sent < 256 << 20, (sent, elapsed)
        # Declared up front: refused before a byte of the body is sent.
        status_line = _post_headers_only(base, 2 * GB)
        assert status_line.startswith(b"HTTP/1.1 413"), status_line
        assert httpx.get(f"{base}/api/health", timeout=5).status_code == 200


def _post_headers_only(base: str, length: int) -> bytes:
    """Send an upload's headers declaring ``length`` bytes and read the reply's status line."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /api/admin/documents HTTP/1.1\r\nHost: " + host.encode() + b"\r\n"
            b"Authorization: " + AUTH["Authorization"].encode() + b"\r\n"
            b"Content-Type: " + multipart.CONTENT_TYPE.encode() + b"\r\n"
            b"Content-Length: " + str(length).encode() + b"\r\n\r\n"
        )
        return sock.recv(4096).split(b"\r\n", 1)[0]


@pytest.fixture(autouse=True)
def _cleanup(tmp_path: Path) -> Iterator[None]:
    yield
    shutil.rmtree(tmp_path / "data" / "spool", ignore_errors=True)
