"""Loopback stand-ins for LLM servers: a silent socket, a scripted HTTP server, a stub
OpenAI-compatible server. Nothing leaves 127.0.0.1."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.unit.llm.llm_stubs import Route, StubServer, json_reply, sse_chat_reply


@pytest.fixture
def stub_server() -> Iterator[Callable[..., StubServer]]:
    """Factory: ``stub_server(routes, default=...)`` started, stopped after the test."""
    started: list[StubServer] = []

    def make(routes: dict[tuple[str, str], Route], **kwargs: Any) -> StubServer:
        server = StubServer(routes, **kwargs)
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def stub_openai(stub_server: Callable[..., StubServer]) -> StubServer:
    """An OpenAI-compatible stub that streams "Hello from the stub." and can tokenize."""
    return stub_server(
        {
            ("POST", "/v1/chat/completions"): lambda body: sse_chat_reply(
                ["Hello ", "from ", "the ", "stub."]
            ),
            ("GET", "/health"): lambda body: json_reply({"status": "ok"}),
            ("GET", "/v1/models"): lambda body: json_reply(
                {"object": "list", "data": [{"id": "stub-model", "object": "model"}]}
            ),
            ("POST", "/tokenize"): lambda body: json_reply(
                {"tokens": list(range(len(body.get("content", "").split())))}
            ),
        }
    )


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A loopback socket that accepts connections and never answers: its base URL."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.2)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            held.append(conn)  # keep it open, read nothing, send nothing

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join(timeout=2)
    for conn in held:
        conn.close()
    listener.close()


@pytest.fixture
def dead_url() -> str:
    """A loopback URL where nothing listens (connection refused at once)."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return f"http://127.0.0.1:{port}"
