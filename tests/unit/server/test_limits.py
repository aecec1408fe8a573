"""Public limits: body size (413), question length and top_k (422), all as JSON bodies."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from askwiki.server import limits
from askwiki.server.limits import DRAIN_MAX_BYTES
from tests.support import multipart
from tests.support.admin import AUTH, TOKEN
from tests.unit.server.conftest import ClientFactory

GB = 1 << 30


def test_json_body_over_the_limit_is_413_before_it_is_read(make_client: ClientFactory) -> None:
    client = make_client(max_body_kb=4)
    response = client.post("/api/ask", json={"question": "x" * 5000})
    assert response.status_code == 413
    body = response.json()
    assert body["error"] == "too_large" and "ASKWIKI_MAX_BODY_KB" in body["detail"]
    assert body["limit_bytes"] == 4096


def test_chunked_body_over_the_limit_is_413(make_client: ClientFactory) -> None:
    client = make_client(max_body_kb=4)

    def chunks() -> Iterator[bytes]:
        yield b'{"question": "'
        for _ in range(10):
            yield b"x" * 1000
        yield b'"}'

    response = client.post(
        "/api/ask", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413 and response.json()["error"] == "too_large"


def test_body_within_the_limit_passes(make_client: ClientFactory) -> None:
    client = make_client(max_body_kb=4)
    assert client.post("/api/ask", json={"question": "Who introduced LoRA?"}).status_code == 200


def test_413_carries_cors_headers_for_the_widget(make_client: ClientFactory) -> None:
    client = make_client(max_body_kb=1, allowed_origins="https://docs.example.com")
    response = client.post(
        "/api/ask",
        json={"question": "x" * 2000},
        headers={"Origin": "https://docs.example.com"},
    )
    assert response.status_code == 413
    assert response.headers["access-control-allow-origin"] == "https://docs.example.com"


@pytest.mark.parametrize(
    ("request_kwargs", "field"),
    [
        ({"json": {"question": "x" * 2001}}, "ASKWIKI_MAX_QUESTION_CHARS"),
        ({"json": {"question": "   "}}, "question is empty"),
        ({"json": {"question": "hi", "top_k": 0}}, "top_k"),
        ({"json": {"question": "hi", "top_k": 21}}, "top_k"),
        (
            {"json": {"question": "hi", "history": [{"role": "user", "content": "x"}] * 21}},
            "history",
        ),
        ({"content": b"{not json", "headers": {"Content-Type": "application/json"}}, "json"),
    ],
)
def test_invalid_questions_are_422_with_a_json_body(
    make_client: ClientFactory, request_kwargs: dict[str, Any], field: str
) -> None:
    response = make_client().post("/api/ask", **request_kwargs)
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid_request" and field in response.text


@pytest.mark.parametrize(
    "params", [{"q": "x", "k": 0}, {"q": "x", "k": 51}, {"q": ""}, {"q": "x" * 2001}]
)
def test_search_bounds_are_422(make_client: ClientFactory, params: dict[str, Any]) -> None:
    response = make_client().get("/api/search", params=params)
    assert response.status_code == 422 and response.json()["error"] == "invalid_request"


def test_upload_declaring_more_than_the_limit_is_413_without_spooling(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    client = make_client(admin_token=TOKEN, max_upload_mb=1)
    content = multipart.body([(b"big.md", b"# Big\n\n" + b"a" * (2 << 20))])
    response = client.post(
        "/api/admin/documents",
        headers={**AUTH, "Content-Type": multipart.CONTENT_TYPE},
        content=content,
    )
    assert response.status_code == 413
    assert "ASKWIKI_MAX_UPLOAD_MB" in response.json()["detail"]
    spool = tmp_path / "data" / "spool" / "default"
    assert not spool.exists() or not any(spool.iterdir())


def test_streamed_2gb_upload_is_cut_at_the_limit_and_its_spool_removed(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    """A 2 GB file sent chunked (no Content-Length) straight to the ASGI app.

    The body is produced lazily; the test counts what the app pulled and watches the
    spool folder while the upload runs.
    """
    limit_mb = 4
    client = make_client(admin_token=TOKEN, max_upload_mb=limit_mb)
    spool = tmp_path / "data" / "spool" / "default"
    chunks = multipart.endless_file(b"huge.md", 2 * GB)
    pulled = 0
    largest_spool = 0
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal pulled, largest_spool
        largest_spool = max(
            largest_spool, sum(f.stat().st_size for f in spool.rglob("*") if f.is_file())
        )
        chunk = next(chunks, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/admin/documents",
        "raw_path": b"/api/admin/documents",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"authorization", AUTH["Authorization"].encode()),
            (b"content-type", multipart.CONTENT_TYPE.encode()),
            (b"transfer-encoding", b"chunked"),
        ],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }

    async def run() -> None:
        await client.app(scope, receive, send)  # type: ignore[arg-type]

    assert client.portal is not None
    client.portal.call(run)
    limit = limit_mb << 20
    start = next(m for m in messages if m["type"] == "http.response.start")
    assert start["status"] == 413
    assert (b"connection", b"close") in start["headers"]
    # Stopped within one chunk of the limit, plus the bounded drain that lets clients
    # which send everything before reading still get the 413 (never written to disk).
    assert pulled <= limit + DRAIN_MAX_BYTES + 2 * ((1 << 20) + 1024)
    assert largest_spool <= limit
    assert not any(spool.iterdir())


def test_huge_question_list_offset_is_422_not_500(make_client: ClientFactory) -> None:
    # Found by the schemathesis fuzz run: SQLite refused a 2**63 offset and the API said 500.
    response = make_client().get("/api/questions", params={"offset": 2**63})
    assert response.status_code == 422


def test_json_page_on_the_upload_route_gets_the_json_limit(make_client: ClientFactory) -> None:
    client = make_client(admin_token=TOKEN, max_body_kb=4, max_upload_mb=10)
    page = {"id": "big", "text": "word " * 2000}
    response = client.post("/api/admin/documents", headers=AUTH, json=page)
    assert response.status_code == 413 and "ASKWIKI_MAX_BODY_KB" in response.json()["detail"]
    # The same bytes as a file are an upload, under ASKWIKI_MAX_UPLOAD_MB.
    files = [("files", ("big.md", ("# Big\n\n" + page["text"]).encode()))]
    assert client.post("/api/admin/documents", headers=AUTH, files=files).status_code == 202


def test_declared_oversize_body_never_sent_still_gets_its_413(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A client that declares 2 GB and then waits for the answer to its headers sends no
    # body: the drain must give up once the line is idle, not wait out its whole timeout.
    monkeypatch.setattr(limits, "DRAIN_TIMEOUT_S", 3600.0)
    monkeypatch.setattr(limits, "DRAIN_IDLE_S", 0.05)

    async def never_called(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("the app must not see a body declared over the limit")

    middleware = limits.BodyLimitMiddleware(
        never_called, default=(4096, "ASKWIKI_MAX_BODY_KB"), uploads={}
    )
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/ask",
        "headers": [(b"content-length", str(2 * GB).encode())],
    }
    sent: list[dict[str, Any]] = []

    async def silent_client() -> dict[str, Any]:
        await asyncio.Event().wait()  # no body ever arrives
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def run() -> None:
        await asyncio.wait_for(middleware(scope, silent_client, send), 30)

    # Its own thread: Playwright's sync API (tests/browser's session-scoped browser) keeps
    # an event loop marked running in the main thread for the rest of the session.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, run()).result()
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 413
