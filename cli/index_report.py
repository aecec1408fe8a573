"""How ``askwiki ingest`` and ``askwiki sync`` show the index version they published."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from dataclasses import asdict
from typing import TypeVar

from rich.table import Table

from askwiki.cli.output import print_json
from askwiki.ingest.pipeline import IngestReport

Report = TypeVar("Report", bound=IngestReport)
# --strict: skipped files (ingest) or failed pages (sync) make the exit status 3.
STRICT_EXIT = 3


def report_table(report: IngestReport, rows: Iterable[tuple[str, object]]) -> Table:
    """A two-column table of ``rows`` (label, value), titled with the index and its version."""
    table = Table(
        title=f"Index '{report.index}' version {report.version or '(none)'}", show_header=False
    )
    for label, value in rows:
        table.add_row(label, str(value))
    return table


def show_report(
    report: Report, json_output: bool, strict: bool, print_report: Callable[[Report], None]
) -> None:
    """The report as JSON or through ``print_report``; exits 3 under ``strict`` if any skipped."""
    if json_output:
        data = asdict(report)
        data["chunks_per_second"] = round(report.chunks_per_second, 2)
        print_json(data)
    else:
        print_report(report)
    if strict and report.skipped:
        sys.exit(STRICT_EXIT)
