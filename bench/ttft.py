"""Time to first token of a streamed answer with the embedded LLM, split into its parts.

    python bench/ttft.py [--questions 8] [--rounds 2]
    python bench/ttft.py --runtime LABEL=site:DIR[,model:FILE.gguf] ... [--answer-tokens 64]

The example wiki (``examples/wiki``) is indexed once (cached) and 8 of its evaluation
questions (4 English, 4 Chinese) are answered, streamed, three ways from the same
in-process llama.cpp server, in rotating order so background load hits all three:

- askwiki: ``AnswerService.stream`` (hybrid retrieval, relevance floor, prompt packed to
  the token budget with exact counts from llama.cpp's ``/tokenize``, health probe, LLM);
- LangChain tutorial: ``FAISS.similarity_search`` (k = 5 over 1000/200-character chunks,
  same embedder) + the tutorial's ``rlm/rag-prompt``;
- bare LLM: askwiki's system prompt and the question, no sources (what any chat costs).

Each time to first token is split into retrieval, prompt preparation (askwiki: packing
and the health probe), prompt processing (llama.cpp's own ``prompt_ms`` for this request,
read from the ``timings`` of the final streamed chunk) and first token (the rest: one
decode step, sampling and HTTP). The LLM is reached with httpx instead of the ``openai``
client only to read those timings; the server, model and parameters are the product's.

With ``--runtime`` it compares LLM runtimes instead (``bench/runtimes.py``): the
``xllamacpp`` installed here with the default GGUF (``wheel``, the baseline) against other
builds of it (``site:``, a folder holding one) and other quantisations (``model:``), each
served in its own process. Every variant gets askwiki's own packed prompts for the same
questions (greedy, prompt cache off, rotating order) and the table gives prompt tokens/s,
TTFT and generated tokens/s with their ratios to the baseline, and how many answers are
identical to the baseline's.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from langchain_community.vectorstores import FAISS

from askwiki.answering.prompt import SYSTEM_PROMPTS
from askwiki.answering.service import AnswerService
from askwiki.answering.types import Answer, DoneEvent, SourcesEvent
from askwiki.embedding.embedder import Embedder, load_embedder
from askwiki.ingest.pipeline import run_ingest
from askwiki.live_index import LiveIndex
from askwiki.llm.base import BaseBackend, ChatMessage, HealthReport
from askwiki.llm.embedded import EmbeddedBackend
from askwiki.retrieval_options import retrieval_options
from askwiki.settings import Settings
from askwiki.text import detect_language
from bench.answer_baseline import TUTORIAL_PROMPT, build_store
from bench.answer_sets import AnswerSet
from bench.common import ROOT, machine_line, print_table, quiet_logs, read_jsonl, say
from bench.runtimes import compare_runtimes, parse_variant

EXAMPLE_WIKI = ROOT / "examples" / "wiki"
PARTS = ("retrieval", "preparation", "prompt processing", "first token", "TTFT")
ANSWER_TOKENS = 16  # the smallest answer askwiki allows; only the first token matters here


@dataclass
class Timing:
    """One streamed answer's time to first token, in milliseconds, and its prompt size."""

    parts: dict[str, float] = field(default_factory=dict)
    prompt_tokens: int = 0
    cached_tokens: int = 0


class TimedLLM(BaseBackend):
    """The embedded server, streamed with httpx so that llama.cpp's timings can be read."""

    def __init__(self, inner: EmbeddedBackend) -> None:
        self.inner = inner
        self.name = inner.name
        self.model = inner.model
        self.context_tokens = inner.context_tokens
        self.root = inner.base_url
        self.http = httpx.Client(timeout=httpx.Timeout(600.0, connect=3.0))
        self.first_token_at: float | None = None
        self.timings: dict[str, Any] = {}

    def stream_chat(
        self, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float
    ) -> Iterator[str]:
        self.first_token_at, self.timings = None, {}
        body = {
            "model": self.model,
            "messages": [m.as_dict() for m in messages],
            "max_tokens": max_tokens,
            "temperature": temperature,
            "stream": True,
        }
        with self.http.stream("POST", f"{self.root}/v1/chat/completions", json=body) as response:
            response.raise_for_status()
            for line in response.iter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                chunk = json.loads(line[len("data: ") :])
                self.timings = chunk.get("timings") or self.timings
                for choice in chunk.get("choices", []):
                    delta = (choice.get("delta") or {}).get("content")
                    if delta:
                        if self.first_token_at is None:
                            self.first_token_at = time.perf_counter()
                        yield delta

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def health(self) -> HealthReport:
        return self.inner.health()

    def close(self) -> None:
        self.http.close()


def llm_parts(llm: TimedLLM, started: float, prepared: float, timing: Timing) -> None:
    """Fill prompt processing / first token / TTFT from the finished stream."""
    assert llm.first_token_at is not None, "the model produced no token"
    prompt_ms = float(llm.timings.get("prompt_ms", 0.0))
    timing.parts["prompt processing"] = prompt_ms
    timing.parts["first token"] = (llm.first_token_at - prepared) * 1000 - prompt_ms
    timing.parts["TTFT"] = (llm.first_token_at - started) * 1000
    timing.prompt_tokens = int(llm.timings.get("prompt_n", 0)) + int(llm.timings.get("cache_n", 0))
    timing.cached_tokens = int(llm.timings.get("cache_n", 0))


def ask_askwiki(service: AnswerService, llm: TimedLLM, question: str) -> Timing:
    timing = Timing()
    started = time.perf_counter()
    prepared = started
    final: Answer | None = None
    for event in service.stream(question):
        if isinstance(event, SourcesEvent):
            prepared = time.perf_counter()
        elif isinstance(event, DoneEvent):
            final = event.answer
    assert final is not None and final.status == "answered", final
    timing.parts["retrieval"] = final.timings["retrieve_ms"]
    timing.parts["preparation"] = (prepared - started) * 1000 - final.timings["retrieve_ms"]
    llm_parts(llm, started, prepared, timing)
    return timing


def ask_tutorial(store: FAISS, llm: TimedLLM, question: str, k: int) -> Timing:
    timing = Timing()
    started = time.perf_counter()
    docs = store.similarity_search(question, k=k)
    retrieved = time.perf_counter()
    context = "\n\n".join(d.page_content for d in docs)
    messages = [ChatMessage("user", TUTORIAL_PROMPT.format(question=question, context=context))]
    prepared = time.perf_counter()
    timing.parts["retrieval"] = (retrieved - started) * 1000
    timing.parts["preparation"] = (prepared - retrieved) * 1000
    _drain(llm.stream_chat(messages, max_tokens=ANSWER_TOKENS, temperature=0.0))
    llm_parts(llm, started, prepared, timing)
    return timing


def ask_bare(llm: TimedLLM, question: str) -> Timing:
    timing = Timing(parts={"retrieval": 0.0, "preparation": 0.0})
    started = time.perf_counter()
    system = SYSTEM_PROMPTS[detect_language(question)]
    messages = [ChatMessage("system", system), ChatMessage("user", f"Question: {question}")]
    _drain(llm.stream_chat(messages, max_tokens=ANSWER_TOKENS, temperature=0.0))
    llm_parts(llm, started, started, timing)
    return timing


def _drain(stream: Iterator[str]) -> None:
    for _ in stream:
        pass


def pick_questions(count: int) -> list[str]:
    rows = [r for r in read_jsonl(ROOT / "examples" / "questions.jsonl") if r.get("answers")]
    english = [r["question"] for r in rows if detect_language(r["question"]) == "en"]
    chinese = [r["question"] for r in rows if detect_language(r["question"]) == "zh"]
    half = count // 2
    return english[: count - half] + chinese[:half]


def build(settings: Settings, embedder: Embedder, cache_dir: Path) -> tuple[LiveIndex, FAISS]:
    say("indexing examples/wiki for askwiki and for the tutorial (cached when unchanged)")
    run_ingest([EXAMPLE_WIKI], settings, embedder)
    live = LiveIndex(settings.index_path, embedder, retrieval_options(settings))
    live.load()
    pages = [
        (p.relative_to(EXAMPLE_WIKI).as_posix(), p.read_text(encoding="utf-8", errors="replace"))
        for p in sorted(EXAMPLE_WIKI.rglob("*"))
        if p.suffix in {".md", ".txt", ".html"}
    ]
    store, _ = build_store(AnswerSet("example-wiki", [], EXAMPLE_WIKI, pages), embedder, cache_dir)
    return live, store


def p50(timings: list[Timing], part: str) -> float:
    return statistics.median(t.parts[part] for t in timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--questions", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2, help="times each question is asked")
    parser.add_argument(
        "--cache-dir", type=Path, default=Path.home() / ".cache" / "askwiki" / "bench"
    )
    parser.add_argument(
        "--runtime",
        action="append",
        default=[],
        metavar="LABEL=site:DIR[,model:FILE]",
        help="compare LLM runtimes: an xllamacpp build folder and/or a GGUF (repeatable)",
    )
    parser.add_argument(
        "--answer-tokens",
        type=int,
        default=64,
        help="greedy answer length compared between runtimes (with --runtime)",
    )
    parser.add_argument("--threads", type=int, default=0, help="LLM threads (0 = all cores)")
    args = parser.parse_args()
    try:
        variants = [parse_variant(spec) for spec in args.runtime]
    except ValueError as exc:
        parser.error(str(exc))
    quiet_logs()
    machine = machine_line()
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    settings = Settings(
        index_dir=args.cache_dir,
        index="bench-example-wiki",
        llm_backend="embedded",
        llm_max_answer_tokens=ANSWER_TOKENS,
        llm_temperature=0.0,
        llm_threads=args.threads,
        _env_file=None,  # type: ignore[call-arg]
    )
    embedder = load_embedder(settings)
    live, store = build(settings, embedder, args.cache_dir)
    if variants:
        questions = pick_questions(args.questions)
        compare_runtimes(settings, live, variants, questions, args.rounds, args.answer_tokens)
        print(machine, flush=True)
        return
    inner = EmbeddedBackend(settings)
    say(f"loading the embedded LLM ({machine})")
    inner.load()
    llm = TimedLLM(inner)
    service = AnswerService(settings, live, embedder, lambda: llm)
    methods = {
        "askwiki": lambda q: ask_askwiki(service, llm, q),
        "LangChain tutorial": lambda q: ask_tutorial(store, llm, q, settings.top_k),
        "bare LLM (no retrieval)": lambda q: ask_bare(llm, q),
    }
    try:
        questions = pick_questions(args.questions)
        ask_bare(llm, "warm-up")  # the first request after loading pays one-time costs
        results: dict[str, list[Timing]] = {name: [] for name in methods}
        names = list(methods)
        turn = 0
        for round_no in range(args.rounds):
            for question in questions:
                order = names[turn % len(names) :] + names[: turn % len(names)]
                turn += 1
                for name in order:
                    results[name].append(methods[name](question))
                say(f"round {round_no + 1}, asked: {question[:40]}")
    finally:
        llm.close()
        inner.close()
    report(results, machine, len(questions), args.rounds)


def report(results: dict[str, list[Timing]], machine: str, questions: int, rounds: int) -> None:
    headers = ["part (p50, ms)", *results]
    rows: list[list[object]] = [
        [part, *(f"{p50(t, part):.0f}" for t in results.values())] for part in PARTS
    ]
    rows.append(
        [
            "prompt tokens",
            *(f"{statistics.median(x.prompt_tokens for x in t):.0f}" for t in results.values()),
        ]
    )
    rows.append(
        [
            "of which cached",
            *(f"{statistics.median(x.cached_tokens for x in t):.0f}" for t in results.values()),
        ]
    )
    print_table(f"Time to first token, {questions} questions x {rounds} rounds", headers, rows)
    ours = p50(results["askwiki"], "TTFT")
    ratio_rows = [
        [name, f"{p50(t, 'TTFT'):.0f}", f"{ours / p50(t, 'TTFT'):.2f}"]
        for name, t in results.items()
        if name != "askwiki"
    ]
    print_table(
        "askwiki TTFT against the baselines",
        ["baseline", "p50 ms", "askwiki / baseline"],
        ratio_rows,
    )
    overhead = statistics.median(
        (t.parts["retrieval"] + t.parts["preparation"]) / t.parts["TTFT"]
        for t in results["askwiki"]
    )
    print(
        f"askwiki's own work (retrieval + preparation) is {overhead:.1%} of its TTFT (p50 of "
        f"per-answer shares); the rest is llama.cpp.\n{machine}",
        flush=True,
    )


if __name__ == "__main__":
    main()
