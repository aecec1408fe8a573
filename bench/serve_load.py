"""Serving under load: /api/search and /api/ask at 1, 8 and 32 clients vs /api/health.

    python bench/serve_load.py [--clients 1,8,32] [--seconds 10] [--requests 400]
                               [--rounds 2] [--llm-seconds 0.5] [--fake-embedder]
                               [--replicas N [--database-url postgresql://...]]

Builds a temporary index of the example wiki (``examples/wiki``) with the real embedding
model (or the tests' fake one with ``--fake-embedder``), starts ``bench/serve_launcher.py``
(``create_app`` + uvicorn, one process, 127.0.0.1 only) with the LLM replaced by a fake
that takes ``--llm-seconds`` per answer and rate limits off, then drives it from an
asyncio + httpx client: each phase is one endpoint at one concurrency, bounded by a
request count and a time limit. Phases are repeated ``--rounds`` times in rotating order,
so background load hits them alike. ``GET /api/health`` (no work: the framework's
ceiling) is the baseline of the ratios. Server memory is VmRSS from /proc.

With ``--replicas N`` (N > 1) the same phases run twice in one run: first against one
replica on the SQLite question log, then against N replicas behind nginx
(``deploy/nginx/askwiki.conf``) sharing a PostgreSQL question log (a schema of its own in
``--database-url``, dropped afterwards); the second table's "vs 1 replica" column divides
its req/s by the first's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from askwiki.embedding.embedder import Embedder, load_embedder
from askwiki.ingest.pipeline import run_ingest
from askwiki.settings import Settings
from bench.common import (
    ROOT,
    machine_line,
    percentile,
    print_table,
    quiet_logs,
    read_jsonl,
    rss_mb,
    say,
    temp_dir,
)

WIKI = ROOT / "examples" / "wiki"
QUESTIONS = ROOT / "examples" / "questions.jsonl"
ENDPOINTS = ("health", "search", "ask")


@dataclass
class Phase:
    """Requests of one endpoint at one concurrency, summed over rounds."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    generated: int = 0
    seconds: float = 0.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def build_index(settings: Settings, fake: bool) -> Embedder:
    if fake:
        from askwiki.testing.fake_embedder import fake_embedder

        embedder = fake_embedder()
    else:
        embedder = load_embedder(settings)
    report = run_ingest([WIKI], settings, embedder)
    say(f"example wiki: {report.documents} documents, {report.chunks} chunks")
    return embedder


def start_server(
    work: Path, port: int, args: argparse.Namespace, database_url: str | None = None
) -> subprocess.Popen[bytes]:
    env = dict(
        os.environ,
        **({"ASKWIKI_DATABASE_URL": database_url} if database_url else {}),
        ASKWIKI_INDEX_DIR=str(work / "indexes"),
        ASKWIKI_INDEX="wiki",
        ASKWIKI_DATA_DIR=str(work / "data"),
        ASKWIKI_RATE_LIMIT_PER_MINUTE="0",
        ASKWIKI_SESSION_RATE_LIMIT_PER_MINUTE="0",
        ASKWIKI_LOG_LEVEL="WARNING",
    )
    command = [
        sys.executable, str(ROOT / "bench" / "serve_launcher.py"),
        "--port", str(port), "--llm-seconds", str(args.llm_seconds),
    ]  # fmt: skip
    if args.fake_embedder:
        command.append("--fake-embedder")
        # Fake vectors are unrelated to meaning: without this every question is refused
        # before the LLM, and /api/ask would not measure answering.
        env.update(ASKWIKI_MIN_DENSE_SCORE="-1")
    return subprocess.Popen(command, env=env, cwd=work)


async def wait_ready(client: httpx.AsyncClient, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"server exited with {server.returncode}")
        try:
            response = await client.get("/api/search", params={"q": "warm up"})
            if response.status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.5)
    raise RuntimeError("server not ready after 180 s")


async def send(client: httpx.AsyncClient, endpoint: str, question: str) -> tuple[bool, bool]:
    """(succeeded, answered by the LLM) for one request."""
    if endpoint == "health":
        response = await client.get("/api/health")
    elif endpoint == "search":
        response = await client.get("/api/search", params={"q": question, "k": 5})
    else:
        # fresh: the answer cache would otherwise turn repeated questions into lookups.
        response = await client.post("/api/ask", json={"question": question, "fresh": True})
        body = response.json() if response.status_code == 200 else {}
        return "answer" in body, bool(body.get("generated"))
    return response.status_code == 200, False


async def run_phase(
    client: httpx.AsyncClient,
    endpoint: str,
    clients: int,
    questions: list[str],
    limits: tuple[float, int],
) -> Phase:
    """``clients`` workers send requests until ``limits`` (seconds, requests) is reached."""
    phase = Phase()
    seconds, requests = limits
    deadline = time.monotonic() + seconds
    issued = 0

    async def worker() -> None:
        nonlocal issued
        while issued < requests and time.monotonic() < deadline:
            question = questions[issued % len(questions)]
            issued += 1
            started = time.perf_counter()
            try:
                ok, generated = await send(client, endpoint, question)
            except httpx.HTTPError:
                ok, generated = False, False
            phase.latencies.append(time.perf_counter() - started)
            phase.errors += 0 if ok else 1
            phase.generated += 1 if generated else 0

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    phase.seconds = time.perf_counter() - started
    return phase


async def drive(
    servers: list[subprocess.Popen[bytes]],
    base: str,
    questions: list[str],
    args: argparse.Namespace,
) -> dict[str, Any]:
    levels = [int(c) for c in args.clients.split(",")]
    limits = httpx.Limits(max_connections=max(levels), max_keepalive_connections=max(levels))
    phases: dict[tuple[str, int], Phase] = {}
    rss: list[tuple[str, float]] = []
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:
        for server in servers:
            await wait_ready(client, server)
        say("server ready; warm-up")
        for endpoint in ENDPOINTS:
            await run_phase(client, endpoint, 1, questions, (30.0, 3))
        rss.append(("after warm-up", sum(rss_mb(s.pid) for s in servers)))
        for r in range(args.rounds):
            for clients in levels:
                order = ENDPOINTS[r % 3 :] + ENDPOINTS[: r % 3]
                for endpoint in order:
                    say(f"round {r + 1}: {endpoint} x {clients} clients")
                    result = await run_phase(
                        client, endpoint, clients, questions, (args.seconds, args.requests)
                    )
                    total = phases.setdefault((endpoint, clients), Phase())
                    total.latencies += result.latencies
                    total.errors += result.errors
                    total.generated += result.generated
                    total.seconds += result.seconds
            rss.append((f"after round {r + 1}", sum(rss_mb(s.pid) for s in servers)))
    return {"phases": phases, "rss": rss, "levels": levels}


def _rps(phase: Phase) -> float:
    return len(phase.latencies) / phase.seconds if phase.seconds else 0.0


def report(
    result: dict[str, Any],
    machine: str,
    args: argparse.Namespace,
    setup: str = "one uvicorn process",
    single: dict[str, Any] | None = None,
) -> None:
    phases: dict[tuple[str, int], Phase] = result["phases"]
    rows: list[list[object]] = []
    for clients in result["levels"]:
        base = phases[("health", clients)]
        base_rps = len(base.latencies) / base.seconds
        for endpoint in ENDPOINTS:
            p = phases[(endpoint, clients)]
            rps = len(p.latencies) / p.seconds
            row: list[object] = [
                clients, f"/api/{endpoint}", len(p.latencies), p.errors, f"{rps:.1f}",
                f"{rps / base_rps:.3f}", f"{percentile(p.latencies, 50) * 1000:.1f}",
                f"{percentile(p.latencies, 99) * 1000:.1f}",
                f"{p.generated / len(p.latencies):.2f}" if endpoint == "ask" else "-",
            ]  # fmt: skip
            if single is not None:
                one = single["phases"][(endpoint, clients)]
                row.append(f"{rps / _rps(one):.2f}" if _rps(one) else "-")
            rows.append(row)
    embedder = "fake embedder" if args.fake_embedder else "real embedder (multilingual-e5-small)"
    print_table(
        f"Serving under load: example wiki, {embedder}, fake LLM {args.llm_seconds} s per "
        f"answer, {setup} ({machine})",
        [
            "clients",
            "endpoint",
            "requests",
            "errors",
            "req/s",
            "vs health",
            "p50 ms",
            "p99 ms",
            "LLM answered",
            *(["vs 1 replica"] if single is not None else []),
        ],
        rows,
    )
    first = result["rss"][0][1]
    print(
        "Server RSS (MiB): "
        + ", ".join(f"{label} {value:.0f}" for label, value in result["rss"])
        + f"; growth over the run {result['rss'][-1][1] - first:+.0f} MiB."
    )


def drive_replicas(work: Path, questions: list[str], args: argparse.Namespace) -> dict[str, Any]:
    """The phases against ``args.replicas`` replicas behind nginx, on a fresh schema."""
    from urllib.parse import quote

    from sqlalchemy import create_engine, text

    from bench.nginx_proxy import nginx

    schema = f"bench_{os.getpid()}"
    admin = create_engine(args.database_url.replace("postgresql://", "postgresql+psycopg://"))
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = f"{args.database_url}?options={quote(f'-csearch_path={schema}')}"
    ports = [free_port() for _ in range(args.replicas)]
    servers: list[subprocess.Popen[bytes]] = []
    try:
        # One at a time: each migrates (or finds the schema migrated) before the next starts.
        for port in ports:
            servers.append(start_server(work, port, args, database_url=url))
            asyncio.run(_ready(servers[-1], f"http://127.0.0.1:{port}"))
        with nginx(work / "nginx", free_port(), ports) as base:
            return asyncio.run(drive(servers, base, questions, args))
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=30)
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


async def _ready(server: subprocess.Popen[bytes], base: str) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        await wait_ready(client, server)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", default="1,8,32")
    parser.add_argument("--seconds", type=float, default=10.0, help="time limit per phase")
    parser.add_argument("--requests", type=int, default=400, help="request limit per phase")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--llm-seconds", type=float, default=0.5)
    parser.add_argument("--fake-embedder", action="store_true")
    parser.add_argument("--replicas", type=int, default=1, help="N replicas behind nginx too")
    parser.add_argument(
        "--database-url",
        default="postgresql://postgres@127.0.0.1:5432/test",
        help="PostgreSQL for the replicas' shared question log (--replicas > 1)",
    )
    args = parser.parse_args()
    quiet_logs()
    machine = machine_line()
    work = temp_dir("serve")
    server: subprocess.Popen[bytes] | None = None
    try:
        settings = Settings(index_dir=work / "indexes", index="wiki", data_dir=work / "data")
        say(f"{machine}; indexing {WIKI}")
        build_index(settings, args.fake_embedder)
        port = free_port()
        server = start_server(work, port, args)
        questions = [str(q["question"]) for q in read_jsonl(QUESTIONS)]
        result = asyncio.run(drive([server], f"http://127.0.0.1:{port}", questions, args))
        server.terminate()
        server.wait(timeout=30)
        server = None
        results = [result]
        if args.replicas > 1:
            say(f"{args.replicas} replicas behind nginx, question log on PostgreSQL")
            results.append(drive_replicas(work, questions, args))
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)
    report(result, machine, args, "one replica, SQLite question log")
    if len(results) > 1:
        setup = f"{args.replicas} replicas behind nginx, PostgreSQL question log"
        report(results[1], machine, args, setup, single=result)
    errors = sum(p.errors for r in results for p in r["phases"].values())
    if errors:
        raise SystemExit(f"{errors} requests failed")


if __name__ == "__main__":
    main()
