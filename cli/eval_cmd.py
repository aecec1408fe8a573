"""``askwiki eval``: measure retrieval (and answer) quality on a file of questions."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from askwiki.cli.common import IndexDirOption, IndexOption, JsonOption, build_settings
from askwiki.cli.output import console, fail, print_json, stage_progress

if TYPE_CHECKING:
    from askwiki.evaluation import EvalReport


def eval_command(
    questions_file: Annotated[
        Path,
        typer.Argument(
            help='One {"question", "answers"?, "sources"?, "history"?} object per line.',
        ),
    ],
    index: IndexOption = None,
    index_dir: IndexDirOption = None,
    answers: Annotated[
        bool,
        typer.Option("--answers", help="Also answer each question with the LLM and score it."),
    ] = False,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write one JSON row per question to this file.")
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Evaluate only the first N questions.")
    ] = None,
    today: Annotated[
        datetime | None,
        typer.Option(
            "--today",
            formats=["%Y-%m-%d"],
            help="The date the answer prompt states (for questions like 'this month'); "
            "default: the real date.",
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Score retrieval hit@1/hit@5/MRR@10 (and with --answers, answer accuracy and citations).

    Exits 1 when a line cannot be read or a question fails, never because of low scores.
    """
    from askwiki.answering.service import AnswerService
    from askwiki.embedding.embedder import load_embedder
    from askwiki.evaluation import EvalRunner, load_questions
    from askwiki.live_index import LiveIndex
    from askwiki.llm.factory import create_backend
    from askwiki.retrieval_options import retrieval_options

    settings = build_settings(index=index, index_dir=index_dir)
    questions, bad_lines = load_questions(questions_file)
    questions = questions[:limit] if limit else questions
    embedder = load_embedder(settings)
    live = LiveIndex(settings.index_path, embedder, retrieval_options(settings))
    live.load()
    service = (
        AnswerService(
            settings,
            live,
            embedder,
            lambda: create_backend(settings),
            today=(lambda: today.date()) if today else date.today,
        )
        if answers
        else None
    )
    runner = EvalRunner(live, service)
    label = "Answering questions" if answers else "Searching questions"
    try:
        with stage_progress(not json_output) as progress:
            report = runner.run(
                questions,
                bad_lines,
                (lambda done, total: progress(label, done, total)) if progress else None,
            )
    finally:
        if service is not None:
            service.close()
    if out is not None:
        _write_rows(out, report)
    if json_output:
        print_json(
            {
                "summary": asdict(report.summary),
                "bad_lines": [asdict(item) for item in report.bad_lines],
                "errors": [{"line": r.line, "error": r.error} for r in report.rows if r.error],
                "out": str(out) if out else None,
            }
        )
    else:
        _print_report(report, out)
    if report.failed:
        sys.exit(1)


def _write_rows(path: Path, report: EvalReport) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for row in report.rows:
            handle.write(json.dumps(row.as_dict(), ensure_ascii=False) + "\n")


def _fmt(value: float | int | None, share: bool = True) -> str:
    if value is None:
        return "-"
    if isinstance(value, int) or not share:
        return str(value)
    return f"{value:.3f}"


def _print_report(report: EvalReport, out: Path | None) -> None:
    s = report.summary
    table = Table(title=f"askwiki eval ({s.mode})", show_header=False)
    rows: list[tuple[str, str]] = [
        ("questions", f"{s.questions} ({s.answerable} answerable, {s.unanswerable} not)"),
        ("hit@1", _fmt(s.hit_at_1)),
        ("hit@5", _fmt(s.hit_at_5)),
        ("MRR@10", _fmt(s.mrr_at_10)),
    ]
    if s.mode == "answers":
        rows += [
            ("answer accuracy", _fmt(s.answer_accuracy)),
            ("answer token F1", _fmt(s.answer_f1)),
            ("citation precision", f"{_fmt(s.citation_precision)} of {s.cited_sources} cited"),
            ("answers with >= 1 citation", _fmt(s.answers_with_citation)),
        ]
    rows += [
        ('"no relevant page" rate', _fmt(s.no_answer_rate)),
        ("refused with a gold page among the closest", _fmt(s.closest_hit_rate)),
        ("correct refusals", f"{s.correct_refusals} of {s.unanswerable}"),
        ("unreadable lines", str(s.bad_lines)),
        ("failed questions", str(s.errors)),
        ("seconds", f"{s.seconds:.1f}"),
    ]
    for label, value in rows:
        table.add_row(label, value)
    console.print(table)
    for item in report.bad_lines:
        fail(f"line {item.line}: {item.reason}")
    for row in report.rows:
        if row.error:
            fail(f"line {row.line}: {row.error}")
    if out is not None:
        console.print(f"[dim]rows written to {out}[/]", highlight=False)
