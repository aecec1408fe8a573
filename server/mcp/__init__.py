"""The wiki for AI agents over the Model Context Protocol: search, ask and page tools.

``tools`` holds the tools and resources (one ``MCPServer`` built over what a running
askwiki already has), ``http`` mounts it at ``/mcp`` in ``askwiki serve``, and ``stdio``
runs it for ``askwiki mcp``.
"""
