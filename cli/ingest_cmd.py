"""``askwiki ingest``: build or update an index from wiki folders and files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from askwiki.cli.common import IndexDirOption, IndexOption, JsonOption, build_settings
from askwiki.cli.index_report import report_table, show_report
from askwiki.cli.output import console, stage_progress
from askwiki.embedding.embedder import load_embedder
from askwiki.ingest.pipeline import IngestReport, run_ingest


def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Wiki folders, files or JSONL page dumps.")],
    index: IndexOption = None,
    index_dir: IndexDirOption = None,
    prune: Annotated[
        bool | None,
        typer.Option(
            "--prune/--no-prune",
            help="Delete pages gone from the given folders (default: on for folders).",
        ),
    ] = None,
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Ignore the live version and build from scratch.")
    ] = False,
    url_base: Annotated[
        str | None, typer.Option("--url-base", help="Base URL of the wiki, for links.")
    ] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit with 3 when any file was skipped.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Read the wiki, split it into passages, embed them and publish a new index version."""
    settings = build_settings(index=index, index_dir=index_dir, url_base=url_base)
    embedder = load_embedder(settings)
    with stage_progress(not json_output) as progress:
        report = run_ingest(
            paths, settings, embedder, prune=prune, rebuild=rebuild, progress=progress
        )
    show_report(report, json_output, strict, _print_report)


def _print_report(report: IngestReport) -> None:
    table = report_table(
        report,
        (
            ("new documents", len(report.new)),
            ("changed documents", len(report.changed)),
            ("unchanged documents", report.unchanged),
            ("deleted documents", len(report.deleted)),
            ("skipped files", len(report.skipped)),
            ("unsupported files", len(report.unsupported)),
            ("documents in index", report.documents),
            ("chunks in index", report.chunks),
            ("chunks embedded", report.chunks_embedded),
            ("chunks reused", report.chunks_reused),
            ("seconds", f"{report.seconds:.2f}"),
            ("chunks per second", f"{report.chunks_per_second:.1f}"),
        ),
    )
    console.print(table)
    for item in report.skipped:
        console.print(f"[yellow]skipped[/] {item.source}: {item.reason}", highlight=False)
    if report.unsupported:
        kinds = sorted({item.reason for item in report.unsupported})
        console.print(f"[dim]ignored {len(report.unsupported)} files ({'; '.join(kinds)})[/]")
