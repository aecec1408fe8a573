"""The language-model layer: one protocol, three backends (Ollama, OpenAI-compatible, embedded).

Build a backend with ``askwiki.llm.factory.create_backend(settings)``; talk to it with
``askwiki.llm.base.ChatMessage`` lists. This package imports nothing itself, so that
``from askwiki.llm.base import ...`` does not load every backend's client library.
"""
