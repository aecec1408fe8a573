"""Three replicas behind a real nginx, sharing a real PostgreSQL and a real Redis.

32 clients ask, search and open question pages for 60 s while three new index versions
are published, one replica is killed with SIGKILL and restarted, and Redis restarts.
The replicas are askwiki's app (``create_app``) in their own processes with the fake
embedder and an LLM that takes ~0.5 s per answer (``tests.support.fake_server``).
A replica killed after storing an answer but before sending it makes nginx retry the ask
on another replica under the same ``X-Request-ID``, so it is still stored exactly once.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from askwiki.ingest.pipeline import run_ingest
from askwiki.questions.text import question_path
from askwiki.settings import Settings
from askwiki.testing.fake_embedder import fake_embedder
from bench.nginx_proxy import nginx, nginx_binary
from tests.support.fake_server import fake_server_process, free_port
from tests.support.index_builder import WIKI_PAGES, build_index
from tests.support.services import RedisServer

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(nginx_binary() is None, reason="no nginx; make test installs nginx-light"),
]

CLIENTS = 32
RUN_S = 60.0
LIMIT = 20
MAX_ASKS_PER_CLIENT = LIMIT - 4  # the load itself stays under the per-IP limit


@dataclass
class Load:
    """What the clients saw."""

    answered: list[tuple[str, str]] = field(default_factory=list)  # (id, question)
    failures: list[str] = field(default_factory=list)
    requests: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _client(base: str, n: int, stop: threading.Event, load: Load) -> None:
    # Each client has its own loopback address, so nginx forwards a distinct client IP.
    transport = httpx.HTTPTransport(local_address=f"127.0.1.{n + 1}")
    with httpx.Client(base_url=base, transport=transport, timeout=30) as http:
        asks = 0
        while not stop.is_set():
            steps: list[tuple[str, str, dict[str, object] | None]] = [
                ("GET", "/api/search?q=LoRA", None)
            ]
            if asks < MAX_ASKS_PER_CLIENT:
                question = f"Who introduced LoRA, asks client {n} time {asks}?"
                steps.insert(0, ("POST", "/api/ask", {"question": question}))
            for method, path, body in steps:
                try:
                    response = http.request(method, path, json=body)
                except httpx.HTTPError as exc:
                    with load.lock:
                        load.failures.append(f"{method} {path}: {type(exc).__name__} {exc}")
                    continue
                with load.lock:
                    load.requests[path.split("?")[0]] += 1
                if response.status_code != 200:
                    with load.lock:
                        load.failures.append(f"{method} {path}: {response.status_code}")
                    continue
                if path == "/api/ask":
                    asks += 1
                    answer = response.json()
                    with load.lock:
                        load.answered.append((answer["id"], answer["question"]))
                    page = http.get(question_path(answer["id"], answer["question"]))
                    with load.lock:
                        load.requests["/q/"] += 1
                        if page.status_code != 200:
                            load.failures.append(f"GET page: {page.status_code}")
            stop.wait(0.5)


def _served(port: int) -> str | None:
    try:
        body = httpx.get(f"http://127.0.0.1:{port}/api/ready", timeout=2).json()
    except (httpx.HTTPError, ValueError):
        return None
    version = body["index"].get("version")
    return str(version) if version else None


def _publish(settings: Settings, wiki: Path, n: int, ports: list[int]) -> float:
    """Publish a new version; returns the seconds until the slowest replica served it."""
    page = wiki / f"release-{n}.md"
    page.write_text(f"# Release {n}\n\nRelease {n} ships feature number {n}.\n", "utf-8")
    version = run_ingest([wiki], settings, fake_embedder(), prune=False).version
    published = time.monotonic()
    pending = set(ports)
    while pending and time.monotonic() - published < 10:
        pending = {p for p in pending if _served(p) != version}
        time.sleep(0.02)
    return time.monotonic() - published if not pending else float("inf")


def test_three_replicas_behind_nginx_lose_no_request(
    tmp_path: Path, postgres_url: str, redis_server: RedisServer
) -> None:
    index_dir = tmp_path / "indexes"
    build_index(index_dir / "default", WIKI_PAGES, fake_embedder(), chunk_tokens=200)
    wiki = tmp_path / "wiki"
    wiki.mkdir()
    ports = [free_port() for _ in range(3)]
    env = {
        "ASKWIKI_INDEX_DIR": str(index_dir),
        "ASKWIKI_DATA_DIR": str(tmp_path / "data"),
        "ASKWIKI_DATABASE_URL": postgres_url,
        "ASKWIKI_REDIS_URL": redis_server.url,
        "ASKWIKI_RATE_LIMIT_PER_MINUTE": str(LIMIT),
        "ASKWIKI_SESSION_RATE_LIMIT_PER_MINUTE": "0",
        "ASKWIKI_TRUSTED_PROXY_HOPS": "1",
        # Ten minutes: only the PostgreSQL announcement can switch them within seconds.
        "ASKWIKI_INDEX_POLL_S": "600",
        "ASKWIKI_MIN_DENSE_SCORE": "-1",
        "FAKE_LLM_DELAY_S": "0.05",
    }
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, index_dir=index_dir, database_url=postgres_url
    )
    load = Load()
    stop = threading.Event()
    switch_s: list[float] = []
    with ExitStack() as stack:
        processes = [
            stack.enter_context(
                fake_server_process({**env, "ASKWIKI_PORT": str(p)}, tmp_path / f"r{i}.log")
            )[0]
            for i, p in enumerate(ports)
        ]
        base = stack.enter_context(nginx(tmp_path / "nginx", free_port(), ports))
        clients = [
            threading.Thread(target=_client, args=(base, n, stop, load)) for n in range(CLIENTS)
        ]
        started = time.monotonic()
        for client in clients:
            client.start()

        def at(second: float) -> None:
            time.sleep(max(0.0, started + second - time.monotonic()))

        at(5)
        switch_s.append(_publish(settings, wiki, 1, ports))
        at(12)
        processes[0].kill()  # SIGKILL: no graceful shutdown
        processes[0].wait(10)
        at(15)
        stack.enter_context(
            fake_server_process({**env, "ASKWIKI_PORT": str(ports[0])}, tmp_path / "r0b.log")
        )
        at(25)
        switch_s.append(_publish(settings, wiki, 2, ports))
        at(32)
        redis_server.stop()
        time.sleep(1)
        redis_server.start()
        at(45)
        switch_s.append(_publish(settings, wiki, 3, ports))
        at(RUN_S)
        stop.set()
        for client in clients:
            client.join(30)

        # A per-IP limit of 20 lets exactly 20 through, across the three replicas.
        transport = httpx.HTTPTransport(local_address="127.0.2.1")
        with httpx.Client(base_url=base, transport=transport, timeout=30) as probe:
            statuses = [
                probe.post("/api/ask", json={"question": "What is BM25?"}).status_code
                for _ in range(LIMIT + 10)
            ]
        # An answer given by one replica is a cache hit on another.
        first = httpx.post(
            f"http://127.0.0.1:{ports[1]}/api/ask", json={"question": "How does RRF work?"}
        ).json()
        again = httpx.post(
            f"http://127.0.0.1:{ports[2]}/api/ask", json={"question": "How does RRF work?"}
        ).json()

    assert load.failures == [], load.failures[:20]
    assert len(load.answered) >= CLIENTS * 4, load.requests
    assert statuses.count(200) == LIMIT and statuses.count(429) == 10, statuses
    assert again["cached"] is True and again["cached_from"] == first["id"]
    assert max(switch_s) < 5.0, switch_s
    engine = create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT id, question, status FROM questions WHERE question LIKE 'Who introduced%'")
        ).all()
    engine.dispose()
    stored = Counter(question for _, question, _ in rows)
    answered_questions = Counter(question for _, question in load.answered)
    assert {q: stored[q] for q in answered_questions} == {q: 1 for q in answered_questions}
    assert {row_id for row_id, _, _ in rows} >= {answer_id for answer_id, _ in load.answered}
    print(f"requests {dict(load.requests)}; version switch seconds {switch_s}")


class _Upstream(ThreadingHTTPServer):
    """A stand-in replica that records the ``X-Request-ID`` of every POST it reads."""

    def __init__(self, answers: bool) -> None:
        self.answers = answers
        self.seen: list[str] = []
        super().__init__(("127.0.0.1", 0), _RecordingHandler)


class _RecordingHandler(BaseHTTPRequestHandler):
    server: _Upstream

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.seen.append(self.headers.get("X-Request-ID", ""))
        if not self.server.answers:
            # Dies after reading (and, were it askwiki, storing) the ask: no response.
            self.close_connection = True
            return
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_nginx_retries_an_ask_on_another_replica_under_the_same_request_id(
    tmp_path: Path,
) -> None:
    dying, answering = _Upstream(answers=False), _Upstream(answers=True)
    with ExitStack() as stack:
        for upstream in (dying, answering):
            stack.enter_context(upstream)
            threading.Thread(target=upstream.serve_forever, daemon=True).start()
            stack.callback(upstream.shutdown)
        ports = [dying.server_address[1], answering.server_address[1]]
        base = stack.enter_context(nginx(tmp_path / "nginx", free_port(), ports))
        statuses = [
            httpx.post(f"{base}/api/ask", json={"question": "LoRA?"}, timeout=10).status_code
            for _ in range(4)
        ]

    assert statuses == [200] * 4
    assert dying.seen, "nginx never tried the dying replica"
    assert all(len(request_id) == 32 for request_id in answering.seen)
    # Every ask the dying replica read reached the next one with the same id ...
    assert set(dying.seen) <= set(answering.seen)
    # ... and each client request has an id of its own.
    assert len(set(answering.seen)) == 4
