"""Options shared by several commands, and building settings from them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from askwiki.cli.output import configure_logging
from askwiki.settings import Settings

IndexOption = Annotated[
    str | None,
    typer.Option("--index", "-i", help="Index name (default: ASKWIKI_INDEX or 'default')."),
]
IndexDirOption = Annotated[
    Path | None, typer.Option("--index-dir", help="Root folder of indexes (ASKWIKI_INDEX_DIR).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def build_settings(**overrides: Any) -> Settings:
    """Settings from env/.env, with command-line values (those not None) on top."""
    settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
    configure_logging(settings.log_level, log_questions=settings.log_questions)
    return settings
