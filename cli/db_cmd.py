"""``askwiki db``: migrate the shared database, or copy the question log into another one."""

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
