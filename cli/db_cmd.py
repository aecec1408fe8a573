"""``askwiki db``: migrate the shared database, copy the question log, purge old questions."""

from __future__ import annotations

from typing import Annotated

import typer

from askwiki.cli.common import build_settings
from askwiki.cli.output import console

app = typer.Typer(help="The shared database (ASKWIKI_DATABASE_URL).", no_args_is_help=True)

UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url", help="Database URL (default: ASKWIKI_DATABASE_URL, else the SQLite file)."
    ),
]


@app.command("upgrade")
def upgrade_command(url: UrlOption = None) -> None:
    """Apply the missing migrations (the server also does it at start, under a lock)."""
    # Imported here, like every heavy import of the CLI: alembic costs other commands ~0.5 s.
    from askwiki.database import open_engine, upgrade

    target = url or build_settings().database_url_or_default
    engine = open_engine(target)
    try:
        revision = upgrade(engine)
    finally:
        engine.dispose()
    console.print(f"{engine.url.render_as_string(hide_password=True)} is at revision {revision}")


@app.command("copy")
def copy_command(
    to: Annotated[str, typer.Option("--to", help="Target URL, e.g. postgresql://user@host/db.")],
    source: UrlOption = None,
) -> None:
    """Copy the whole question log (answers, sources, feedback) into an empty database."""
    from askwiki.database import open_engine
    from askwiki.database.copy import copy_question_log

    origin = open_engine(source or build_settings().database_url_or_default)
    target = open_engine(to)
    try:
        counts = copy_question_log(origin, target)
    finally:
        origin.dispose()
        target.dispose()
    summary = ", ".join(f"{n} {table}" for table, n in counts.items())
    console.print(f"Copied {summary} into {target.url.render_as_string(hide_password=True)}")


@app.command("purge")
def purge_command(
    days: Annotated[
        int | None,
        typer.Option(
            "--days",
            min=1,
            help="Delete questions older than this (default: ASKWIKI_QUESTION_RETENTION_DAYS).",
        ),
    ] = None,
) -> None:
    """Delete stored questions older than the retention period, with their votes."""
    settings = build_settings()
    keep = days or settings.question_retention_days
    if keep <= 0:
        raise typer.BadParameter(
            "no retention period: pass --days N or set ASKWIKI_QUESTION_RETENTION_DAYS",
            param_hint="--days",
        )
    from askwiki.questions import open_question_store
    from askwiki.questions.retention import purge_expired

    store = open_question_store(settings)
    try:
        deleted = purge_expired(store, keep)
    finally:
        store.close()
    console.print(f"Deleted {deleted} stored question(s) older than {keep} day(s)")
