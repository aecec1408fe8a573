"""``askwiki mcp``: serve the wiki to AI agents over MCP on stdin/stdout."""

from __future__ import annotations

from askwiki.cli.common import IndexDirOption, IndexOption, build_settings


def mcp(index: IndexOption = None, index_dir: IndexDirOption = None) -> None:
    """Serve MCP over stdio (tools search_wiki, ask_wiki, get_page) for desktop agents."""
    from askwiki.server.mcp.stdio import serve_stdio

    serve_stdio(build_settings(index=index, index_dir=index_dir))
