"""Scripted loopback HTTP servers standing in for LLM servers in unit tests."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Reply = tuple[int, dict[str, str], bytes | list[bytes]]
Route = Callable[[dict[str, Any]], Reply]


@dataclass
class StubServer:
    """A scripted HTTP/1.0 server on 127.0.0.1: ``routes[(method, path)](json_body)``."""

    routes: dict[tuple[str, str], Route]
    default: Reply = (404, {"Content-Type": "application/json"}, b'{"error": "not found"}')
    seen: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}") if length else {}
                stub.seen.append((method, self.path, body))
                route = stub.routes.get((method, self.path))
                status, headers, payload = route(body) if route else stub.default
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                if isinstance(payload, bytes):
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                self.end_headers()
                for piece in payload:
                    self.wfile.write(piece)
                    self.wfile.flush()

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def json_reply(body: Any, status: int = 200) -> Reply:
    return status, {"Content-Type": "application/json"}, json.dumps(body).encode()


def sse_chat_reply(pieces: list[str]) -> Reply:
    """An OpenAI streamed chat completion of ``pieces``."""
    events = []
    for piece in pieces:
        chunk = {
            "id": "c1",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "stub",
            "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}],
        }
        events.append(f"data: {json.dumps(chunk)}\n\n".encode())
    final = {
        "id": "c1",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "stub",
        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 7, "completion_tokens": len(pieces), "total_tokens": 0},
    }
    events.append(f"data: {json.dumps(final)}\n\n".encode())
    events.append(b"data: [DONE]\n\n")
    return 200, {"Content-Type": "text/event-stream"}, events
