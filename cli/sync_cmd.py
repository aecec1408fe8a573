"""``askwiki sync``: pull what changed in the configured wiki sources into the index."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from askwiki.cli.common import IndexDirOption, IndexOption, JsonOption, build_settings
from askwiki.cli.index_report import report_table, show_report
from askwiki.cli.output import console, stage_progress
from askwiki.embedding.embedder import load_embedder
from askwiki.ingest.sync import SyncReport, run_sync, select_sources


def sync(
    specs: Annotated[
        list[str] | None,
        typer.Argument(
            help="One-off sources instead of the configuration file: git:/path/to/repo, "
            "mediawiki:https://host/w/api.php",
            show_default=False,
        ),
    ] = None,
    index: IndexOption = None,
    index_dir: IndexDirOption = None,
    source: Annotated[
        list[str] | None, typer.Option("--source", "-s", help="Only this configured source.")
    ] = None,
    full: Annotated[
        bool, typer.Option("--full", help="Ignore the cursors: list every page again.")
    ] = False,
    config: Annotated[
        Path | None, typer.Option("--config", help="Source configuration (ASKWIKI_SYNC_CONFIG).")
    ] = None,
    url_base: Annotated[
        str | None, typer.Option("--url-base", help="Page URL base for a one-off source.")
    ] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit with 3 when any page failed to fetch.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Pull the changes of each wiki source since the last sync and publish one new version."""
    settings = build_settings(
        index=index, index_dir=index_dir, sync_config=config, url_base=url_base
    )
    configs = select_sources(settings, specs or [], source or [])
    embedder = load_embedder(settings)
    with stage_progress(not json_output) as progress:
        report = run_sync(configs, settings, embedder, full=full, progress=progress)
    show_report(report, json_output, strict, _print_report)


def _print_report(report: SyncReport) -> None:
    sources = [
        (
            f"source {item.name} ({item.kind})",
            f"{'full' if item.full else 'changes'}: {item.fetched} fetched, {item.failed} failed",
        )
        for item in report.sources
    ]
    table = report_table(
        report,
        [
            *sources,
            ("new pages", len(report.new)),
            ("changed pages", len(report.changed)),
            ("unchanged pages", report.unchanged),
            ("deleted pages", len(report.deleted)),
            ("failed pages", len(report.skipped)),
            ("documents in index", report.documents),
            ("chunks in index", report.chunks),
            ("chunks embedded", report.chunks_embedded),
            ("chunks reused", report.chunks_reused),
            ("seconds", f"{report.seconds:.2f}"),
        ],
    )
    console.print(table)
    for doc_id in report.changed:
        console.print(f"[cyan]changed[/] {doc_id}", highlight=False)
    for doc_id in report.deleted:
        console.print(f"[red]deleted[/] {doc_id}", highlight=False)
    for failure in report.skipped:
        console.print(
            f"[yellow]failed[/] {failure.source}: {failure.reason} (last version kept)",
            highlight=False,
        )
