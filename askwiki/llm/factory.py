"""Pick and build the LLM backend that ``ASKWIKI_LLM_BACKEND`` asks for.

``auto`` prefers a running Ollama that has the configured model (it answers
``GET /api/tags`` within ``AUTO_PROBE_TIMEOUT_S``) and otherwise runs the default GGUF
in-process with llama.cpp.
"""

from __future__ import annotations

import logging

import httpx

from askwiki.errors import ConfigError
from askwiki.llm.base import LLMBackend
from askwiki.llm.ollama_names import list_model_names, model_is_listed, ollama_base_url
from askwiki.settings import Settings

logger = logging.getLogger(__name__)

AUTO_PROBE_TIMEOUT_S = 1.0


def probe_ollama(
    host: str, model: str, timeout_s: float = AUTO_PROBE_TIMEOUT_S
) -> tuple[bool, str]:
    """``(usable, why)``: does Ollama at ``host`` answer ``/api/tags`` in time and list ``model``?"""
    url = f"{ollama_base_url(host)}/api/tags"
    try:
        response = httpx.get(url, timeout=httpx.Timeout(timeout_s))
        response.raise_for_status()
        names = list_model_names(response.json())
    except (httpx.HTTPError, ValueError) as exc:
        return False, f"no Ollama at {url} ({type(exc).__name__}: {exc})"
    if model_is_listed(model, names):
        return True, f"Ollama at {url} has {model}"
    return False, (
        f"Ollama at {url} lacks {model!r} (has: {', '.join(names) or 'none'}); "
        f"'ollama pull {model}' would select it"
    )


def create_backend(settings: Settings) -> LLMBackend:
    """The backend named by ``settings.llm_backend``; ``auto`` probes Ollama first.

    Nothing is loaded here: the embedded model loads on first use (or ``load()``). Only the
    chosen backend's client library is imported (openai's alone takes seconds to import).
    """
    choice = settings.llm_backend
    if choice == "ollama":
        logger.info(
            "LLM backend: ollama at %s, model %s (configured)",
            settings.ollama_host,
            settings.ollama_model,
        )
        return _ollama(settings)
    if choice == "openai":
        logger.info(
            "LLM backend: OpenAI-compatible server at %s, model %s (configured)",
            settings.openai_base_url,
            settings.openai_model,
        )
        from askwiki.llm.openai_compat import OpenAICompatBackend

        return OpenAICompatBackend.from_settings(settings)
    if choice == "embedded":
        logger.info("LLM backend: embedded llama.cpp (configured)")
        return _embedded(settings)
    if choice != "auto":
        raise ConfigError(
            f"ASKWIKI_LLM_BACKEND={choice!r} is not one of auto, ollama, openai, embedded"
        )
    if settings.openai_base_url:
        logger.info(
            "ASKWIKI_OPENAI_BASE_URL is set but ASKWIKI_LLM_BACKEND=auto does not use it; "
            "set ASKWIKI_LLM_BACKEND=openai to use that server"
        )
    usable, why = probe_ollama(settings.ollama_host, settings.ollama_model)
    if usable:
        logger.info("LLM backend: ollama (auto: %s)", why)
        return _ollama(settings)
    logger.info("LLM backend: embedded llama.cpp (auto: %s)", why)
    return _embedded(settings)


def _ollama(settings: Settings) -> LLMBackend:
    from askwiki.llm.ollama_backend import OllamaBackend

    return OllamaBackend.from_settings(settings)


def _embedded(settings: Settings) -> LLMBackend:
    from askwiki.llm.embedded import EmbeddedBackend

    return EmbeddedBackend.from_settings(settings)
