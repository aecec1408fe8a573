"""Shared helpers for the benchmarks: datasets, timing, percentiles, RSS and tables.

Benchmarks run next to other work on a small machine, so each one measures its
baseline in the same run and interleaves repetitions (``round_robin``) so that noise
lands on both sides of a ratio.
"""

from __future__ import annotations

import json
import logging
import random
import statistics
import sys
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT.parent / "shared" / "datasets"
QA_SETS = {"cmrc": "cmrc2018-dev", "xquad-zh": "xquad/zh", "xquad-en": "xquad/en"}

T = TypeVar("T")


def say(message: str) -> None:
    """Progress line on stderr (stdout carries only the tables)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def quiet_logs() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # bm25s gives its logger a DEBUG level of its own.
    logging.getLogger("bm25s").setLevel(logging.WARNING)


# Data -------------------------------------------------------------------------
def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


@dataclass
class QASet:
    """One question-answering set: passages and questions, ids given a prefix."""

    name: str
    passages: list[dict[str, Any]]
    questions: list[dict[str, Any]]


def load_qa_set(name: str, max_passages: int | None = None) -> QASet:
    """``cmrc``, ``xquad-zh`` or ``xquad-en``; ids become ``name/id`` so sets can be pooled."""
    folder = DATASETS / QA_SETS[name]
    passages = read_jsonl(folder / "passages.jsonl")[:max_passages]
    kept = {p["id"] for p in passages}
    questions = [q for q in read_jsonl(folder / "questions.jsonl") if q["passage_id"] in kept]
    for p in passages:
        p["id"] = f"{name}/{p['id']}"
    for q in questions:
        q["passage_id"] = f"{name}/{q['passage_id']}"
    return QASet(name, passages, questions)


def xquad_human_translations() -> dict[str, str]:
    """Each XQuAD question, Chinese or English, mapped to its parallel version: what a
    perfect translator would return, as an upper bound for the LLM's translations."""
    english = {q["id"]: q["question"] for q in load_qa_set("xquad-en").questions}
    pairs: dict[str, str] = {}
    for q in load_qa_set("xquad-zh").questions:
        if q["id"] in english:
            pairs[q["question"]] = english[q["id"]]
            pairs[english[q["id"]]] = q["question"]
    return pairs


def seeded_sample(items: Sequence[T], n: int, seed: int = 2018) -> list[T]:
    """A fixed sample (same ``n`` and seed, same items), in the items' original order."""
    if n >= len(items):
        return list(items)
    picked = sorted(random.Random(seed).sample(range(len(items)), n))
    return [items[i] for i in picked]


def normalize_text(text: str) -> str:
    """NFKC, whitespace collapsed: the splitter re-joins sentences with single spaces."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


def temp_dir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"askwiki-bench-{prefix}-"))


# Timing -----------------------------------------------------------------------
def timed(fn: Callable[[], T]) -> tuple[T, float]:
    """``fn()`` and the wall seconds it took."""
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


def round_robin(tasks: dict[str, Callable[[], T]], rounds: int) -> dict[str, list[T]]:
    """Run every task once per round, rotating the order so none always goes first."""
    names = list(tasks)
    results: dict[str, list[T]] = {name: [] for name in names}
    for r in range(rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            results[name].append(tasks[name]())
    return results


def percentile(values: Sequence[float], p: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), p)) if values else 0.0


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else 0.0


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


# Memory -----------------------------------------------------------------------
def rss_mb(pid: int | str = "self") -> float:
    """Resident memory (VmRSS) of a process in MiB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


# Output -----------------------------------------------------------------------
def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A Markdown table on stdout, ready to paste into the README."""
    cells = [[str(c) for c in headers], *[[_cell(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    print(f"\n### {title}\n")
    for n, row in enumerate(cells):
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
        if n == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    print(flush=True)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def machine_line() -> str:
    import os
    import platform

    return (
        f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, load average {os.getloadavg()[0]:.1f} at start"
    )
