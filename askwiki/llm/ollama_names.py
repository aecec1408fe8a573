"""Ollama's addresses and model names, without its client library (the auto probe needs them)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

DEFAULT_OLLAMA_PORT = 11434


def ollama_base_url(host: str) -> str:
    """A full URL from ``OLLAMA_HOST`` forms: ``host``, ``host:port``, ``:port`` or a URL.

    Like the ``ollama`` client: no scheme means http and port 11434; a scheme without a
    port means that scheme's default port.
    """
    value = host.strip().rstrip("/") or "127.0.0.1"
    had_scheme = "://" in value
    parts = urlsplit(value if had_scheme else "http://" + value)
    hostname = parts.hostname or "127.0.0.1"
    if ":" in hostname:  # IPv6 literal
        hostname = f"[{hostname}]"
    # 0.0.0.0 is what a server binds to; a client reaches it on loopback.
    if hostname == "0.0.0.0":
        hostname = "127.0.0.1"
    port = parts.port
    if port is None:
        port = (443 if parts.scheme == "https" else 80) if had_scheme else DEFAULT_OLLAMA_PORT
    return f"{parts.scheme}://{hostname}:{port}{parts.path}"


def model_is_listed(model: str, names: Sequence[str]) -> bool:
    """Whether ``model`` is among Ollama's model names (``x`` matches ``x:latest``)."""
    wanted = {model, model if ":" in model else f"{model}:latest"}
    return any(name in wanted for name in names)


def list_model_names(tags: Any) -> list[str]:
    """Model names from an ``/api/tags`` body (raw dict) or the client's ``ListResponse``."""
    models = tags.get("models", []) if isinstance(tags, dict) else getattr(tags, "models", [])
    names: list[str] = []
    for entry in models or []:
        for key in ("name", "model"):
            value = entry.get(key) if isinstance(entry, dict) else getattr(entry, key, None)
            if value and str(value) not in names:
                names.append(str(value))
    return names
