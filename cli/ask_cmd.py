"""``askwiki ask``: answer one question in the terminal, streamed, with its sources."""

from __future__ import annotations

import sys
from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated

import typer

from askwiki.cli.common import IndexDirOption, IndexOption, JsonOption, build_settings
from askwiki.cli.output import console, print_json

if TYPE_CHECKING:
    from askwiki.answering.types import Answer


def ask(
    question: Annotated[str, typer.Argument(help="The question, in Chinese or English.")],
    index: IndexOption = None,
    index_dir: IndexDirOption = None,
    top_k: Annotated[int | None, typer.Option("--top-k", "-k", help="Sources to use.")] = None,
    json_output: JsonOption = False,
) -> None:
    """Answer a question from the wiki; the model's text streams, then the verified answer."""
    # Imported here: every other command (an unchanged `askwiki ingest` above all) would
    # otherwise pay for the answering stack at start.
    from askwiki.answering.service import AnswerService
    from askwiki.answering.types import DoneEvent, TokenEvent
    from askwiki.embedding.embedder import load_embedder
    from askwiki.live_index import LiveIndex
    from askwiki.llm.factory import create_backend
    from askwiki.retrieval_options import retrieval_options

    settings = build_settings(index=index, index_dir=index_dir)
    embedder = load_embedder(settings)
    live = LiveIndex(settings.index_path, embedder, retrieval_options(settings))
    live.load()
    service = AnswerService(settings, live, embedder, lambda: create_backend(settings))
    try:
        final: Answer | None = None
        for event in service.stream(question, top_k=top_k):
            if isinstance(event, TokenEvent) and not json_output:
                sys.stdout.write(event.text)
                sys.stdout.flush()
            elif isinstance(event, DoneEvent):
                final = event.answer
    finally:
        service.close()
    assert final is not None
    if json_output:
        print_json(asdict(final))
        return
    _print_final(final)


def _print_final(answer: Answer) -> None:
    console.print()
    console.rule("verified answer" if answer.generated else answer.status)
    console.print(answer.answer, highlight=False, markup=False)
    for source in answer.sources:
        mark = "*" if source.cited else " "
        link = f" {source.url}" if source.url else ""
        console.print(f"{mark}[{source.n}] {source.section}{link}", highlight=False, markup=False)
    console.print(
        f"[dim]{answer.model} · {answer.timings.get('total_ms', 0):.0f} ms · "
        "AI-generated, please verify[/]"
    )
