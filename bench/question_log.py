"""Per-ask cost of the question log: PostgreSQL against SQLite, in one run.

    python bench/question_log.py [--asks 300] [--rounds 3]
                                 [--database-url postgresql://postgres@127.0.0.1:5432/test]

Each ask does what ``QuestionDesk`` does around an answer: a cache lookup (a miss, by
text and by embedding), storing the answer with its sources and embedding, and the
"Others are asking" lookups (similar + recent). SQLite is a file in a temporary folder;
PostgreSQL a schema of its own in ``--database-url``, dropped afterwards. Rounds
alternate the two, so background load hits them alike; SQLite is the baseline.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from sqlalchemy import create_engine, text

from askwiki.answering.types import Answer, Source
from askwiki.questions import SQLQuestionStore
from askwiki.questions.text import normalize_question
from bench.common import machine_line, percentile, print_table, quiet_logs, say, temp_dir

DIMENSION = 384
MODEL = "bench-embedding"


def _answer(n: int) -> Answer:
    sources = [
        Source(
            i, f"doc{i}#0", f"doc{i}.md", f"Doc {i}", f"Doc {i} › Part", None, "excerpt " * 30, 0.9
        )
        for i in range(1, 6)
    ]
    return Answer(
        id=uuid.uuid4().hex[:16],
        question=f"Question number {n} about retrieval?",
        answer="An answer of a few sentences [1]. " * 4,
        language="en",
        sources=sources,
        created_at="2026-12-02T07:00:00+00:00",
        model="bench",
        timings={"total_ms": 1.0},
        index_version="v1",
    )


def one_ask(store: SQLQuestionStore, n: int, rng: np.random.Generator) -> float:
    vector = rng.standard_normal(DIMENSION).astype(np.float32)
    vector /= np.linalg.norm(vector)
    answer = _answer(n)
    started = time.perf_counter()
    store.find_cached(normalize_question(answer.question), vector, MODEL, "v1", 0.95)
    store.save(answer, asked_at=answer.created_at, embedding=vector, embedding_model=MODEL)
    store.similar(vector, MODEL, {answer.id}, 4)
    store.recent(2, {answer.id})
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--asks", type=int, default=300, help="asks per database per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    quiet_logs()
    machine = machine_line()
    work = temp_dir("qlog")
    schema = f"bench_qlog_{os.getpid()}"
    admin = create_engine(args.database_url.replace("postgresql://", "postgresql+psycopg://"))
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    stores = {
        "SQLite": SQLQuestionStore.open(f"sqlite:///{work / 'questions.sqlite'}"),
        "PostgreSQL": SQLQuestionStore.open(
            f"{args.database_url}?options={quote(f'-csearch_path={schema}')}"
        ),
    }
    times: dict[str, list[float]] = {name: [] for name in stores}
    rng = np.random.default_rng(0)
    try:
        for r in range(args.rounds):
            order = list(stores) if r % 2 == 0 else list(reversed(stores))
            for name in order:
                say(f"round {r + 1}: {name}, {args.asks} asks")
                start = len(times[name])
                times[name] += [one_ask(stores[name], start + n, rng) for n in range(args.asks)]
    finally:
        for store in stores.values():
            store.close()
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()
        shutil.rmtree(work, ignore_errors=True)
    base = percentile(times["SQLite"], 50)
    rows = [
        [
            name,
            len(values),
            f"{percentile(values, 50) * 1000:.2f}",
            f"{percentile(values, 99) * 1000:.2f}",
            f"{percentile(values, 50) / base:.2f}",
        ]
        for name, values in times.items()
    ]
    print_table(
        f"Question log per ask (cache lookup + save + related), log growing to "
        f"{args.asks * args.rounds} asks ({machine})",
        ["database", "asks", "p50 ms", "p99 ms", "p50 vs SQLite"],
        rows,
    )


if __name__ == "__main__":
    main()
