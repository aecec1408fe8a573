"""``askwiki``: the one command-line entry point. Parses, calls the library, prints."""

from __future__ import annotations

import sys

import typer
from pydantic import ValidationError

from askwiki.cli import (
    ask_cmd,
    db_cmd,
    eval_cmd,
    index_cmd,
    ingest_cmd,
    mcp_cmd,
    models_cmd,
    serve_cmd,
    sync_cmd,
)
from askwiki.cli.output import fail
from askwiki.errors import AskwikiError

app = typer.Typer(
    help="Question answering over a wiki, with cited answers from a local LLM.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("ingest")(ingest_cmd.ingest)
app.command("sync")(sync_cmd.sync)
app.command("serve")(serve_cmd.serve)
app.command("ask")(ask_cmd.ask)
app.command("eval")(eval_cmd.eval_command)
app.command("mcp")(mcp_cmd.mcp)
app.add_typer(index_cmd.app, name="index")
app.add_typer(models_cmd.app, name="models")
app.add_typer(db_cmd.app, name="db")


def main() -> None:
    try:
        app()
    except AskwikiError as exc:
        fail(str(exc))
        sys.exit(1)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}" for e in exc.errors()
        )
        fail(f"invalid settings: {problems}")
        sys.exit(2)
    except KeyboardInterrupt:
        fail("interrupted; the live index is unchanged")
        sys.exit(130)


if __name__ == "__main__":
    main()
