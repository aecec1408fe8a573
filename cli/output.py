"""Terminal output: logging setup, progress bars, tables. The only place that prints."""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Iterator
from typing import Any

from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from askwiki.privacy import QueryStringFilter

console = Console()
errors = Console(stderr=True)

STAGE_LABELS = {"load": "Reading files", "embed": "Embedding chunks"}
# Sync stages are "fetch <source name>".
FETCH_LABEL = "Fetching pages of "


def configure_logging(level: str, *, log_questions: bool = False) -> None:
    """Logs go to stderr; rich formatting on a terminal, plain lines in CI logs.

    Without ``log_questions`` the HTTP access log shows paths without their query string
    (``/ask?q=`` carries the reader's question).
    """
    handler: logging.Handler
    if errors.is_terminal:
        handler = RichHandler(console=errors, show_path=False, rich_tracebacks=False)
        fmt = "%(message)s"
    else:
        handler = logging.StreamHandler(sys.stderr)
        fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    handler.setFormatter(logging.Formatter(fmt))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    # Source SDKs log request details at DEBUG/INFO: keep them (and any credential) out.
    for noisy in (
        "httpx",
        "sentence_transformers",
        "faiss",
        "urllib3",
        "bm25s",
        "atlassian",
        "notion_client",
        "Lark",
    ):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    access = logging.getLogger("uvicorn.access")
    for old in [f for f in access.filters if isinstance(f, QueryStringFilter)]:
        access.removeFilter(old)
    if not log_questions:
        access.addFilter(QueryStringFilter())


@contextlib.contextmanager
def stage_progress(enabled: bool) -> Iterator[Any]:
    """A callback ``(stage, done, total)`` drawing one bar per stage; silent off a terminal."""
    if not enabled or not console.is_terminal:
        yield None
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        tasks: dict[str, Any] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                label = STAGE_LABELS.get(stage) or stage.replace("fetch ", FETCH_LABEL, 1)
                tasks[stage] = bar.add_task(label, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield update


def print_json(data: Any) -> None:
    console.print_json(json.dumps(data, ensure_ascii=False, default=str))


def fail(message: str) -> None:
    errors.print(f"[bold red]error:[/] {message}", highlight=False, markup=True, soft_wrap=True)
