"""LLM runtimes side by side for ``bench/ttft.py --runtime``: same prompts, same model weights.

A *variant* is an ``xllamacpp`` build (a folder that holds one, e.g. made with
``pip install --target DIR``; none means the one installed here) and a GGUF (none means the
default model). Each variant is served by ``bench/llm_worker.py`` in its own process; the
prompts go to every variant in turn, rotating the order, one request at a time, so the
servers never compete for the cores and background load lands on all of them.

Per request llama.cpp's own ``timings`` give prompt tokens/s and generated tokens/s; the
client clock gives the time to first token. Answers are greedy (temperature 0) with the
prompt cache off, so equal builds and weights give equal text and every request processes
its whole prompt.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

from askwiki.answering.prompt import pack_prompt
from askwiki.live_index import LiveIndex
from askwiki.llm.base import ChatMessage
from askwiki.llm.embedded import resolve_model_path
from askwiki.llm.openai_compat import OpenAICompatBackend
from askwiki.settings import Settings
from askwiki.text import detect_language
from bench.common import print_table, say

WORKER = Path(__file__).resolve().parent / "llm_worker.py"
REPO = WORKER.parents[1]
BASELINE = "wheel"
"""The label of the runtime installed in this interpreter with the default model."""
SETTLE_S = 0.5
"""Pause between requests: llama.cpp's OpenMP threads spin a little after a batch."""


@dataclass(frozen=True)
class Variant:
    """One runtime to measure: an ``xllamacpp`` build folder and a GGUF (None: defaults)."""

    label: str
    site: Path | None = None
    model: Path | None = None


def parse_variant(spec: str) -> Variant:
    """``LABEL=site:DIR,model:FILE`` (either part optional) -> ``Variant``.

    Raises ``ValueError`` with the expected form when the spec is malformed or a path does
    not exist.
    """
    form = "expected LABEL=site:DIR[,model:FILE.gguf] or LABEL=model:FILE.gguf"
    label, sep, rest = spec.partition("=")
    label = label.strip()
    if not sep or not label or not rest.strip():
        raise ValueError(f"--runtime {spec!r}: {form}")
    if label == BASELINE:
        raise ValueError(f"--runtime {spec!r}: {BASELINE!r} is the baseline's label; pick another")
    parts: dict[str, Path] = {}
    for item in rest.split(","):
        key, colon, value = item.strip().partition(":")
        if not colon or key not in {"site", "model"} or not value or key in parts:
            raise ValueError(f"--runtime {spec!r}: bad part {item!r}; {form}")
        parts[key] = Path(value).expanduser()
    site, model = parts.get("site"), parts.get("model")
    if site is not None and not (site / "xllamacpp").is_dir():
        raise ValueError(f"--runtime {spec!r}: no xllamacpp package in {site}")
    if model is not None and not model.is_file():
        raise ValueError(f"--runtime {spec!r}: no GGUF file at {model}")
    return Variant(label, site, model)


@dataclass
class Run:
    """One greedy answer: llama.cpp's timings, the client's time to first token, the text."""

    prompt_tokens: int
    prompt_ms: float
    cached_tokens: int
    generated_tokens: int
    generate_ms: float
    ttft_ms: float
    text: str

    @property
    def prompt_tps(self) -> float:
        return self.prompt_tokens / self.prompt_ms * 1000 if self.prompt_ms else 0.0

    @property
    def generate_tps(self) -> float:
        return self.generated_tokens / self.generate_ms * 1000 if self.generate_ms else 0.0


def parse_chunk(line: str) -> dict[str, Any] | None:
    """The JSON of one ``data:`` line of a streamed chat completion; None for other lines."""
    if not line.startswith("data: ") or line == "data: [DONE]":
        return None
    chunk: dict[str, Any] = json.loads(line[len("data: ") :])
    return chunk


def chunk_text(chunk: dict[str, Any]) -> str:
    return "".join((c.get("delta") or {}).get("content") or "" for c in chunk.get("choices", []))


def run_from_stream(lines: Sequence[str], sent: float, first_at: float | None) -> Run:
    """Join the ``data:`` lines of a streamed chat completion into a ``Run``.

    ``sent`` is when the request left, ``first_at`` when the first text arrived (None: the
    model produced no text, and the time to first token is 0).
    """
    pieces: list[str] = []
    timings: dict[str, Any] = {}
    for line in lines:
        chunk = parse_chunk(line)
        if chunk is None:
            continue
        timings = chunk.get("timings") or timings
        pieces.append(chunk_text(chunk))
    if not timings:
        raise ValueError("the stream carried no llama.cpp timings; is this a llama.cpp server?")
    return Run(
        prompt_tokens=int(timings.get("prompt_n", 0)),
        prompt_ms=float(timings.get("prompt_ms", 0.0)),
        cached_tokens=int(timings.get("cache_n", 0)),
        generated_tokens=int(timings.get("predicted_n", 0)),
        generate_ms=float(timings.get("predicted_ms", 0.0)),
        ttft_ms=((first_at if first_at is not None else sent) - sent) * 1000,
        text="".join(pieces),
    )


@dataclass
class Worker:
    """A ``bench/llm_worker.py`` process serving one variant."""

    variant: Variant
    process: subprocess.Popen[str]
    url: str
    info: dict[str, Any]
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=600.0))

    def complete(self, messages: Sequence[ChatMessage], max_tokens: int) -> Run:
        body = {
            "messages": [m.as_dict() for m in messages],
            "max_tokens": max_tokens,
            "temperature": 0.0,
            "stream": True,
            "cache_prompt": False,  # every request processes its whole prompt
        }
        lines: list[str] = []
        first_at: float | None = None
        sent = time.perf_counter()
        with self.http.stream("POST", f"{self.url}/v1/chat/completions", json=body) as response:
            response.raise_for_status()
            for line in response.iter_lines():
                chunk = parse_chunk(line)
                if first_at is None and chunk is not None and chunk_text(chunk):
                    first_at = time.perf_counter()
                lines.append(line)
        return run_from_stream(lines, sent, first_at)

    def stop(self) -> None:
        self.http.close()
        stdin: IO[str] | None = self.process.stdin
        if stdin is not None:
            stdin.close()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def worker_env(variant: Variant) -> dict[str, str]:
    """The environment of a variant's worker: its build folder first on ``PYTHONPATH``."""
    env = dict(os.environ)
    paths = [str(variant.site)] if variant.site is not None else []
    paths.append(str(REPO))
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def start_worker(variant: Variant, default_model: Path, threads: int, context: int) -> Worker:
    """Start a worker and wait until its model is loaded; ``RuntimeError`` if it dies first."""
    model = variant.model or default_model
    command = [sys.executable, str(WORKER), "--model", str(model), "--threads", str(threads)]
    command += ["--context", str(context)]
    process = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=worker_env(variant)
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        process.wait()
        raise RuntimeError(
            f"runtime {variant.label!r} exited ({process.returncode}) before serving {model}; "
            "its stderr above says why"
        )
    info = json.loads(line)
    return Worker(variant, process, str(info["url"]), info)


@dataclass(frozen=True)
class Summary:
    """p50 figures of one variant and their ratios to the baseline's."""

    label: str
    prompt_tps: float
    ttft_ms: float
    generate_tps: float
    prompt_ratio: float
    ttft_ratio: float
    generate_ratio: float
    same_answers: int
    answers: int


def summarise(runs: dict[str, list[list[Run]]], baseline: str = BASELINE) -> list[Summary]:
    """``runs[label][prompt][round]`` -> one ``Summary`` per label, the baseline first.

    Ratios are p50 over p50 (>1 means faster than the baseline for tokens/s, and for
    TTFT ``baseline / variant`` so that >1 is faster too). An answer counts as the same
    when every round of the variant gave exactly the baseline's first-round text.
    """
    base = runs[baseline]

    def p50(label: str, metric: str) -> float:
        return statistics.median(getattr(r, metric) for rounds in runs[label] for r in rounds)

    summaries = []
    for label in [baseline, *(name for name in runs if name != baseline)]:
        same = sum(
            all(r.text == base[i][0].text for r in rounds) for i, rounds in enumerate(runs[label])
        )
        summaries.append(
            Summary(
                label=label,
                prompt_tps=p50(label, "prompt_tps"),
                ttft_ms=p50(label, "ttft_ms"),
                generate_tps=p50(label, "generate_tps"),
                prompt_ratio=p50(label, "prompt_tps") / p50(baseline, "prompt_tps"),
                ttft_ratio=p50(baseline, "ttft_ms") / p50(label, "ttft_ms"),
                generate_ratio=p50(label, "generate_tps") / p50(baseline, "generate_tps"),
                same_answers=same,
                answers=len(runs[label]),
            )
        )
    return summaries


def first_difference(a: str, b: str) -> int | None:
    """Index of the first character where ``a`` and ``b`` differ; None when equal."""
    if a == b:
        return None
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return i
    return min(len(a), len(b))


def rag_prompts(
    settings: Settings, live: LiveIndex, counter: OpenAICompatBackend, questions: list[str]
) -> list[tuple[str, list[ChatMessage]]]:
    """askwiki's packed prompts for the ``questions`` that pass the relevance floor."""
    budget = min(
        settings.max_prompt_tokens, settings.llm_context_tokens - settings.llm_max_answer_tokens
    )
    retriever = live.retriever()
    prompts = []
    for question in questions:
        result = retriever.search(question, settings.top_k)
        if result.relevant:
            packed = pack_prompt(
                question,
                detect_language(question),
                result.passages,
                counter.count_tokens,
                budget,
                dt.date(2026, 12, 1),  # a fixed date: the same prompt on every run
            )
            prompts.append((question, packed.messages))
    return prompts


def compare_runtimes(
    settings: Settings,
    live: LiveIndex,
    variants: list[Variant],
    questions: list[str],
    rounds: int,
    answer_tokens: int,
) -> None:
    """Serve each variant in its own process and send them the same prompts in turn."""
    default_model = resolve_model_path(settings)
    threads = settings.llm_threads
    workers: dict[str, Worker] = {}
    try:
        for variant in [Variant(BASELINE), *variants]:
            say(f"loading runtime {variant.label}")
            worker = start_worker(variant, default_model, threads, settings.llm_context_tokens)
            workers[variant.label] = worker
            say(
                f"  {worker.info['xllamacpp']}, {worker.info['model']}, {worker.info['load_s']:.1f} s"
            )
            worker.complete([ChatMessage("user", "warm-up")], 4)
        base = workers[BASELINE]
        counter = OpenAICompatBackend(base.url, str(base.info["model"]), name="embedded")
        prompts = rag_prompts(settings, live, counter, questions)
        counter.close()
        labels = list(workers)
        runs: dict[str, list[list[Run]]] = {label: [[] for _ in prompts] for label in labels}
        turn = 0
        for round_no in range(rounds):
            for i, (question, messages) in enumerate(prompts):
                order = labels[turn % len(labels) :] + labels[: turn % len(labels)]
                turn += 1
                for label in order:
                    run = workers[label].complete(messages, answer_tokens)
                    runs[label][i].append(run)
                    say(
                        f"  {label}: {run.prompt_tokens} prompt tokens at {run.prompt_tps:.1f}/s, "
                        f"TTFT {run.ttft_ms:.0f} ms, {run.generate_tps:.1f} generated/s"
                    )
                    time.sleep(SETTLE_S)
                say(f"round {round_no + 1}, asked: {question[:40]}")
    finally:
        for worker in workers.values():
            worker.stop()
    report(runs, workers, [q for q, _ in prompts], rounds, answer_tokens, threads)


def report(
    runs: dict[str, list[list[Run]]],
    workers: dict[str, Worker],
    questions: list[str],
    rounds: int,
    answer_tokens: int,
    threads: int,
) -> None:
    """The runtime table, each runtime's build and CPU features, and differing answers."""
    rows: list[list[object]] = []
    for s in summarise(runs):
        info = workers[s.label].info
        rows.append(
            [
                s.label,
                str(info["model"]),
                f"{s.prompt_tps:.1f}",
                f"{s.prompt_ratio:.2f}",
                f"{s.ttft_ms:.0f}",
                f"{s.ttft_ratio:.2f}",
                f"{s.generate_tps:.1f}",
                f"{s.generate_ratio:.2f}",
                f"{s.same_answers} of {s.answers}",
            ]
        )
    prompt_tokens = statistics.median(r.prompt_tokens for rs in runs[BASELINE] for r in rs)
    cached = max(r.cached_tokens for rounds in runs.values() for rs in rounds for r in rs)
    print_table(
        f"LLM runtimes, {len(questions)} askwiki prompts (p50 {prompt_tokens:.0f} tokens, "
        f"{cached} cached at most) x {rounds} rounds, greedy {answer_tokens} tokens, "
        f"{threads or os.cpu_count()} threads",
        [
            "runtime",
            "model",
            "prompt tok/s",
            "x wheel",
            "TTFT ms",
            "x wheel",
            "gen tok/s",
            "x wheel",
            "same answer",
        ],
        rows,
    )
    for label, worker in workers.items():
        print(f"{label}: {worker.info['xllamacpp']}\n  {worker.info['system_info']}")
    base = runs[BASELINE]
    for label, prompts in runs.items():
        for i, rounds in enumerate(prompts):
            for r in rounds:
                at = first_difference(base[i][0].text, r.text)
                if at is not None and label != BASELINE:
                    print(f"\n{label} differs from {BASELINE} on {questions[i]!r} at char {at}:")
                    print(f"  {BASELINE}: {base[i][0].text!r}\n  {label}: {r.text!r}")
                    break
