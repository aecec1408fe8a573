"""``askwiki serve``: run the HTTP API, pages and widget."""

from __future__ import annotations

from typing import Annotated

import typer

from askwiki.cli.common import IndexDirOption, IndexOption, build_settings


def serve(
    index: IndexOption = None,
    index_dir: IndexDirOption = None,
    host: Annotated[
        str | None, typer.Option("--host", help="Address to bind (ASKWIKI_HOST).")
    ] = None,
    port: Annotated[int | None, typer.Option("--port", "-p", help="Port (ASKWIKI_PORT).")] = None,
) -> None:
    """Serve answers over HTTP: /api/ask, /api/search, /v1/chat/completions, /docs."""
    import uvicorn

    from askwiki.server.app import create_app

    settings = build_settings(index=index, index_dir=index_dir, host=host, port=port)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_config=None)
