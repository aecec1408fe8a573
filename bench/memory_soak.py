"""Where the server's memory goes under sustained load: a soak, round by round.

    python bench/memory_soak.py [--rounds 12] [--requests 600] [--clients 32]
                                [--fake-embedder] [--tracemalloc]

Serves the example wiki from ``create_app`` under uvicorn in this process (so the
allocator can be asked), with ``bench/serve_launcher.py``'s fake LLM (50 ms per answer)
and rate limits off, and sends ``--requests`` per round at ``--clients`` at once: half
``/api/search``, half fresh ``/api/ask`` (each stored in the SQLite question log). After
each round it prints RSS next to glibc's own account (``mallinfo2``: bytes in use, and
bytes freed but kept by its arenas), SQLite's (``sqlite3_memory_used``: page caches),
Python's (``tracemalloc``, with ``--tracemalloc``) and the thread count; at the end, RSS
after ``malloc_trim(0)`` and, with ``--tracemalloc``, the Python lines that grew most
after round 2. glibc and Linux only.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import gc
import os
import socket
import sys
import threading
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import uvicorn

from askwiki.embedding.embedder import Embedder, load_embedder
from askwiki.ingest.pipeline import run_ingest
from askwiki.server.app import create_app
from askwiki.settings import Settings
from bench.common import ROOT, machine_line, print_table, quiet_logs, read_jsonl, rss_mb, temp_dir
from bench.serve_launcher import REPLY, REPLY_PIECES, BenchLLM

MIB = 1024 * 1024
WIKI = ROOT / "examples" / "wiki"
QUESTIONS = [row["question"] for row in read_jsonl(ROOT / "examples" / "questions.jsonl")]


class MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd",
            "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost",
        )
    ]  # fmt: skip


LIBC = ctypes.CDLL("libc.so.6")
LIBC.mallinfo2.restype = MallInfo2
SQLITE = ctypes.CDLL("libsqlite3.so.0")
SQLITE.sqlite3_memory_used.restype = ctypes.c_int64


@contextmanager
def serving(app: object) -> Iterator[str]:
    """uvicorn in a thread of this process, on a free loopback port; yields its URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)  # type: ignore[arg-type]
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


def sample(label: str) -> list[object]:
    info = LIBC.mallinfo2()
    traced = tracemalloc.get_traced_memory()[0] / MIB if tracemalloc.is_tracing() else None
    return [
        label,
        f"{rss_mb():.0f}",
        f"{(info.uordblks + info.hblkhd) / MIB:.0f}",
        f"{info.fordblks / MIB:.0f}",
        f"{SQLITE.sqlite3_memory_used() / MIB:.1f}",
        "-" if traced is None else f"{traced:.1f}",
        len(os.listdir("/proc/self/task")),
    ]


async def one_round(base: str, requests: int, clients: int, offset: int) -> int:
    """Sends the round's requests; returns how many failed."""
    gate = asyncio.Semaphore(clients)
    async with httpx.AsyncClient(base_url=base, timeout=120) as http:

        async def send(n: int) -> bool:
            question = QUESTIONS[n % len(QUESTIONS)]
            async with gate:
                if n % 2:
                    response = await http.get("/api/search", params={"q": question})
                else:
                    body = {"question": f"{question} ({offset + n})", "fresh": True}
                    response = await http.post("/api/ask", json=body)
            return response.status_code == 200

        results = await asyncio.gather(*(send(n) for n in range(requests)))
    return results.count(False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--requests", type=int, default=600, help="per round")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--fake-embedder", action="store_true")
    parser.add_argument("--tracemalloc", action="store_true", help="also trace Python memory")
    args = parser.parse_args()
    quiet_logs()
    work = temp_dir("soak")
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        index_dir=work / "indexes",
        data_dir=work / "data",
        rate_limit_per_minute=0,
        session_rate_limit_per_minute=0,
        **({"min_dense_score": -1.0} if args.fake_embedder else {}),
    )
    embedder: Embedder
    if args.fake_embedder:
        from askwiki.testing.fake_embedder import fake_embedder

        embedder = fake_embedder()
    else:
        embedder = load_embedder(settings)
    run_ingest([WIKI], settings, embedder)
    llm = BenchLLM([REPLY], delay_s=0.05 / REPLY_PIECES)
    app = create_app(settings, embedder=embedder, llm_factory=lambda: llm)
    if args.tracemalloc:
        tracemalloc.start()
    rows = [sample("start")]
    failed = 0
    baseline: tracemalloc.Snapshot | None = None
    machine = machine_line()
    with serving(app) as base:
        for r in range(args.rounds):
            failed += asyncio.run(one_round(base, args.requests, args.clients, r * args.requests))
            gc.collect()
            rows.append(sample(f"after round {r + 1}"))
            if args.tracemalloc and r == 1:
                baseline = tracemalloc.take_snapshot()
        LIBC.malloc_trim(0)
        rows.append(sample("after malloc_trim(0)"))
    embedder_name = "fake embedder" if args.fake_embedder else embedder.name
    print_table(
        f"Memory soak: {args.requests} requests per round at {args.clients} clients, "
        f"{embedder_name}, fake LLM 50 ms ({machine})",
        ["when", "RSS MiB", "malloc in use MiB", "malloc free, kept MiB", "SQLite MiB",
         "Python traced MiB", "threads"],
        rows,
    )  # fmt: skip
    print(f"\nFailed requests: {failed}")
    if baseline is not None:
        print("\nPython lines that grew most after round 2:")
        for stat in tracemalloc.take_snapshot().compare_to(baseline, "lineno")[:10]:
            print(f"  {stat}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
