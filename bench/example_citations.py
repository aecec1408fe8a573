"""Verified citations across languages on the example wiki, with the embedded LLM.

    python bench/example_citations.py [--work DIR] [--translate] [--limit N]

Issue 13 asks that answers to cross-language questions keep a verified citation as often as
answers to same-language ones (within 5 points). Each question of
``tests/fixtures/crosslingual/example_wiki_same_language.jsonl`` is asked of ``examples/wiki``
in its own language (English of an English page, Chinese of a Chinese page) next to its
cross-language twin from ``example_wiki_questions.jsonl`` (the same question in the other
language), through ``askwiki eval --answers``'s runner (``EvalRunner`` + ``AnswerService``):
the embedded LLM, temperature 0, answers capped at ``--max-tokens``. An answer has a
verified citation when the citation check (``askwiki/answering/citations.py``) kept at
least one of its ``[n]`` markers. Pairs alternate which question goes first, so background
load hits both alike. Rows are appended to ``--work`` as each question finishes and reused
by a re-run with the same settings.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from askwiki.answering.service import AnswerService
from askwiki.evaluation import EvalQuestion, EvalRow, EvalRunner
from askwiki.evaluation.metrics import mean
from askwiki.live_index import LiveIndex
from askwiki.llm.embedded import EmbeddedBackend
from askwiki.retrieval_options import retrieval_options
from bench.answers import append_row, load_rows
from bench.common import machine_line, print_table, quiet_logs, read_jsonl, say, temp_dir
from bench.example_cross_language import example_index

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "crosslingual"
CROSS = FIXTURES / "example_wiki_questions.jsonl"
SAME = FIXTURES / "example_wiki_same_language.jsonl"


def question_pairs(limit: int | None) -> list[tuple[EvalQuestion, EvalQuestion]]:
    """(same-language, cross-language) question pairs, numbered 2n-1 and 2n."""
    cross = {row["question"]: row for row in read_jsonl(CROSS)}
    pairs = []
    for n, same in enumerate(read_jsonl(SAME)[:limit], start=1):
        twin = cross[same["pairs"]]
        pairs.append((_question(same, 2 * n - 1, "same"), _question(twin, 2 * n, "cross")))
    return pairs


def _question(row: dict[str, str], line: int, kind: str) -> EvalQuestion:
    extra = {"kind": kind, "direction": row["direction"]}
    return EvalQuestion(row["question"], sources=(row["doc_id"],), line=line, extra=extra)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=None, help="keep the index and rows here")
    parser.add_argument("--translate", action="store_true", help="ASKWIKI_TRANSLATE_QUESTIONS")
    parser.add_argument("--limit", type=int, default=None, help="first N pairs")
    parser.add_argument("--max-tokens", type=int, default=96, help="answer token cap")
    args = parser.parse_args()
    quiet_logs()
    machine = machine_line()
    work = args.work or temp_dir("example-citations")
    settings, embedder = example_index(
        work,
        llm_backend="embedded",
        llm_max_answer_tokens=args.max_tokens,
        llm_temperature=0.0,
        translate_questions=args.translate,
    )
    live = LiveIndex(settings.index_path, embedder, retrieval_options(settings))
    live.load()
    llm = EmbeddedBackend(settings)
    say(f"loading the embedded LLM ({machine})")
    llm.load()
    runner = EvalRunner(live, AnswerService(settings, live, embedder, lambda: llm))
    label = "translation on" if args.translate else "translation off"
    path = work / f"citations-{label.replace(' ', '-')}-{args.max_tokens}.jsonl"
    earlier = load_rows(path)
    rows: list[EvalRow] = []
    pairs = question_pairs(args.limit)
    try:
        for n, pair in enumerate(pairs, start=1):
            for question in pair if n % 2 else pair[::-1]:
                row = earlier.get(question.line)
                if row is None or row.question != question.question:
                    row = runner.evaluate(question)
                    append_row(path, row)
                rows.append(row)
                say(f"{n}/{len(pairs)} {question.extra['kind']}: {_mark(row)} {row.seconds:.0f}s")
    finally:
        llm.close()
    summaries = {kind: _summary([r for r in rows if r.extra["kind"] == kind]) for kind in KINDS}
    print_table(
        f"examples/wiki answers, {label}, max {args.max_tokens} tokens ({machine})",
        ["questions", *HEADERS],
        [[kind, *(_cell(v) for v in summary.values())] for kind, summary in summaries.items()],
    )
    shares = [summaries[kind][HEADERS[2]] for kind in KINDS]
    if None not in shares:
        gap = 100 * (float(shares[1] or 0) - float(shares[0] or 0))
        print(f"Answers with a verified citation, cross minus same language: {gap:+.1f} points.")
    results = {"machine": machine, "args": vars(args) | {"work": str(work)}, "label": label}
    (work / f"summary-{path.stem}.json").write_text(
        json.dumps(results | summaries, indent=2, default=str, ensure_ascii=False) + "\n"
    )
    print(f"Rows in {path}", flush=True)


KINDS = ("same", "cross")
HEADERS = (
    "n",
    "answered",
    "answered with >= 1 verified citation",
    "all with >= 1 verified citation",
    "failed",
)


def _summary(rows: list[EvalRow]) -> dict[str, float | int | None]:
    valid = [r for r in rows if r.error is None]
    answered = [r for r in valid if r.status == "answered"]
    return dict(
        zip(
            HEADERS,
            (
                len(rows),
                len(answered),
                mean([float(bool(r.cited)) for r in answered]),
                mean([float(bool(r.cited)) for r in valid]),
                len(rows) - len(valid),
            ),
            strict=True,
        )
    )


def _cell(value: float | int | None) -> str:
    if value is None:
        return "-"
    return str(value) if isinstance(value, int) else f"{value:.3f}"


def _mark(row: EvalRow) -> str:
    if row.error:
        return f"error {row.error}"
    return f"{row.status}, {len(row.cited)} cited"


if __name__ == "__main__":
    main()
