"""A test-only Ollama server: Ollama's routes on top of an OpenAI-compatible server.

No Ollama server can be installed here, but llama.cpp's server (the embedded backend's)
speaks the OpenAI API. This facade answers ``/api/version``, ``/api/tags``, ``/api/show``,
``/api/chat`` and ``/api/generate`` (streamed NDJSON or one JSON object) by forwarding to
``{upstream}/v1/chat/completions``, and records every request body so a test can assert
what the client sent (``facade.num_ctx_seen``).

    with OllamaFacade(embedded.base_url, model="qwen2.5-coder:1.5b") as facade:
        backend = OllamaBackend(facade.url, "qwen2.5-coder:1.5b")
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

import httpx

VERSION = "0.0.0-askwiki-facade"


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class OllamaFacade:
    """Serves Ollama's API on 127.0.0.1 (free port), answering with an OpenAI-compatible server."""

    def __init__(
        self,
        upstream_url: str,
        model: str = "qwen2.5-coder:1.5b",
        *,
        timeout_s: float = 120.0,
    ) -> None:
        self.upstream = upstream_url.rstrip("/").removesuffix("/v1")
        self.model = model
        self.timeout_s = timeout_s
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.facade = self  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def chat_requests(self) -> list[dict[str, Any]]:
        """Bodies of every ``/api/chat`` and ``/api/generate`` request, in order."""
        with self._lock:
            return [body for path, body in self.requests if path in ("/api/chat", "/api/generate")]

    @property
    def num_ctx_seen(self) -> list[int | None]:
        """``options.num_ctx`` of each chat/generate request (None where it was not sent)."""
        return [(body.get("options") or {}).get("num_ctx") for body in self.chat_requests]

    def record(self, path: str, body: dict[str, Any]) -> None:
        with self._lock:
            self.requests.append((path, body))

    def start(self) -> OllamaFacade:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="ollama-facade", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> OllamaFacade:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def model_entry(self) -> dict[str, Any]:
        return {
            "name": self.model,
            "model": self.model,
            "modified_at": _now(),
            "size": 0,
            "digest": "0" * 64,
            "details": {
                "format": "gguf",
                "family": "facade",
                "families": ["facade"],
                "parameter_size": "",
                "quantization_level": "",
            },
        }

    def upstream_deltas(self, body: dict[str, Any], stats: dict[str, int]) -> Iterator[str]:
        """Stream the request through ``/v1/chat/completions``, yielding text deltas."""
        options = body.get("options") or {}
        request: dict[str, Any] = {
            "messages": body["messages"],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if isinstance(options.get("num_predict"), int) and options["num_predict"] > 0:
            request["max_tokens"] = options["num_predict"]
        for key in ("temperature", "top_p", "seed", "stop"):
            if key in options:
                request[key] = options[key]
        url = f"{self.upstream}/v1/chat/completions"
        with httpx.stream(
            "POST", url, json=request, timeout=httpx.Timeout(self.timeout_s, connect=3.0)
        ) as response:
            if response.status_code != 200:
                response.read()
                raise RuntimeError(f"upstream HTTP {response.status_code}: {response.text}")
            for line in response.iter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[len("data:") :].strip()
                if data == "[DONE]":
                    break
                chunk = json.loads(data)
                usage = chunk.get("usage") or {}
                stats["prompt_eval_count"] = usage.get("prompt_tokens", 0)
                stats["eval_count"] = usage.get("completion_tokens", 0)
                for choice in chunk.get("choices") or []:
                    delta = (choice.get("delta") or {}).get("content")
                    if delta:
                        yield delta


class _Handler(BaseHTTPRequestHandler):
    server_version = "ollama-facade"

    @property
    def facade(self) -> OllamaFacade:
        return self.server.facade  # type: ignore[attr-defined, no-any-return]

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass

    def _json(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b"{}"
        body = json.loads(raw or b"{}")
        return body if isinstance(body, dict) else {}

    def do_GET(self) -> None:
        if self.path == "/api/version":
            self._json(200, {"version": VERSION})
        elif self.path == "/api/tags":
            self._json(200, {"models": [self.facade.model_entry()]})
        elif self.path in ("/", ""):
            self._json(200, {"status": "Ollama is running"})
        else:
            self._json(404, {"error": f"no route {self.path}"})

    def do_HEAD(self) -> None:
        self.send_response(200)
        self.end_headers()

    def do_POST(self) -> None:
        body = self._body()
        self.facade.record(self.path, body)
        if self.path == "/api/show":
            self._show(body)
        elif self.path in ("/api/chat", "/api/generate"):
            self._generate(body, chat=self.path == "/api/chat")
        else:
            self._json(404, {"error": f"no route {self.path}"})

    def _show(self, body: dict[str, Any]) -> None:
        if body.get("model", body.get("name")) != self.facade.model:
            self._json(404, {"error": f"model '{body.get('model')}' not found"})
            return
        entry = self.facade.model_entry()
        self._json(
            200,
            {
                "modelfile": "",
                "parameters": "",
                "template": "",
                "details": entry["details"],
                "model_info": {},
                "capabilities": ["completion"],
                "modified_at": entry["modified_at"],
            },
        )

    def _generate(self, body: dict[str, Any], *, chat: bool) -> None:
        model = body.get("model")
        if model != self.facade.model:
            self._json(404, {"error": f"model '{model}' not found, try pulling it first"})
            return
        if not chat:
            messages = [{"role": "user", "content": body.get("prompt", "")}]
            if body.get("system"):
                messages.insert(0, {"role": "system", "content": body["system"]})
            body = {**body, "messages": messages}
        body["messages"] = [
            {"role": m.get("role", "user"), "content": m.get("content", "")}
            for m in body.get("messages", [])
        ]
        started = time.perf_counter_ns()
        stats: dict[str, int] = {}
        deltas = self.facade.upstream_deltas(body, stats)
        key = "message" if chat else "response"

        def part(text: str, done: bool) -> dict[str, Any]:
            out: dict[str, Any] = {"model": model, "created_at": _now(), "done": done}
            out[key] = {"role": "assistant", "content": text} if chat else text
            if done:
                out.update(
                    done_reason="stop",
                    total_duration=time.perf_counter_ns() - started,
                    prompt_eval_count=stats.get("prompt_eval_count", 0),
                    eval_count=stats.get("eval_count", 0),
                )
            return out

        try:
            if body.get("stream", True) is False:
                text = "".join(deltas)
                self._json(200, part(text, True))
                return
            first = next(deltas, None)
        except (httpx.HTTPError, RuntimeError, ValueError) as exc:
            self._json(500, {"error": str(exc)})
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.end_headers()  # HTTP/1.0: the stream ends when the connection closes
        try:
            if first is not None:
                self._line(part(first, False))
                for delta in deltas:
                    self._line(part(delta, False))
            self._line(part("", True))
        except (httpx.HTTPError, RuntimeError, ValueError) as exc:
            self._line({"error": str(exc)})
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client went away

    def _line(self, obj: dict[str, Any]) -> None:
        self.wfile.write(json.dumps(obj, ensure_ascii=False).encode() + b"\n")
        self.wfile.flush()
