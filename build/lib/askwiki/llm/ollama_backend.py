"""Backend for Ollama through the official ``ollama`` client.

Ollama silently keeps only the last 2,048 tokens of a prompt unless ``options.num_ctx`` is
sent, which drops the system prompt and the best sources of a RAG prompt. So every request
sends a ``num_ctx`` sized to the prompt, and the prompt's token count is logged.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx
import ollama

from askwiki.errors import LLMError
from askwiki.llm.base import (
    HEALTH_TIMEOUT_S,
    BaseBackend,
    ChatMessage,
    HealthReport,
    http_timeout,
)
from askwiki.settings import Settings

logger = logging.getLogger(__name__)

NUM_CTX_STEP = 512
NUM_CTX_MARGIN = 64
"""Tokens kept free beyond the counted prompt and answer, for template and count slack."""
DEFAULT_OLLAMA_PORT = 11434


def size_num_ctx(
    prompt_tokens: int, max_tokens: int, cap: int, margin: int = NUM_CTX_MARGIN
) -> int:
    """``num_ctx`` for one request: prompt + answer + margin, rounded up to 512, at most ``cap``.

    Rounding keeps the number of distinct values small: Ollama reloads the model whenever
    ``num_ctx`` changes, so sizing to the exact token would reload on every question.
    """
    needed = max(prompt_tokens, 0) + max(max_tokens, 0) + margin
    rounded = math.ceil(needed / NUM_CTX_STEP) * NUM_CTX_STEP
    return max(NUM_CTX_STEP, min(rounded, cap))


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


class OllamaBackend(BaseBackend):
    """Chat with a model served by Ollama (``/api/chat``, streamed NDJSON)."""

    def __init__(
        self,
        host: str,
        model: str,
        *,
        timeout_s: float = 120.0,
        context_tokens: int = 4096,
    ) -> None:
        self.name = "ollama"
        self.model = model
        self.context_tokens = context_tokens
        self.timeout_s = timeout_s
        self.base_url = ollama_base_url(host)
        self._client = ollama.Client(host=self.base_url, timeout=http_timeout(timeout_s))
        self._probe = ollama.Client(host=self.base_url, timeout=httpx.Timeout(HEALTH_TIMEOUT_S))

    @classmethod
    def from_settings(cls, settings: Settings) -> OllamaBackend:
        """The backend ``ASKWIKI_OLLAMA_HOST`` / ``ASKWIKI_OLLAMA_MODEL`` describe."""
        return cls(
            settings.ollama_host,
            settings.ollama_model,
            timeout_s=settings.llm_timeout_s,
            context_tokens=settings.llm_context_tokens,
        )

    def num_ctx_for(self, messages: Sequence[ChatMessage], max_tokens: int) -> tuple[int, int]:
        """``(prompt_tokens, num_ctx)`` for a request; warns when the prompt cannot fit."""
        prompt_tokens = self.count_message_tokens(messages)
        num_ctx = size_num_ctx(prompt_tokens, max_tokens, self.context_tokens)
        if prompt_tokens + max_tokens > num_ctx:
            logger.warning(
                "Prompt of ~%d tokens + %d answer tokens exceeds the %d-token context "
                "(ASKWIKI_LLM_CONTEXT_TOKENS); Ollama will drop the start of the prompt",
                prompt_tokens,
                max_tokens,
                num_ctx,
            )
        return prompt_tokens, num_ctx

    def stream_chat(
        self, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float
    ) -> Iterator[str]:
        """Yield text deltas from ``POST /api/chat``; always sends ``options.num_ctx``."""
        prompt_tokens, num_ctx = self.num_ctx_for(messages, max_tokens)
        logger.info(
            "ollama chat: model=%s prompt_tokens~%d num_ctx=%d max_tokens=%d",
            self.model,
            prompt_tokens,
            num_ctx,
            max_tokens,
        )
        options = {"num_ctx": num_ctx, "num_predict": max_tokens, "temperature": temperature}
        parts: Iterator[Any] = iter(())
        try:
            parts = self._client.chat(
                model=self.model,
                messages=[m.as_dict() for m in messages],
                stream=True,
                options=options,
            )
            for part in parts:
                delta = part.message.content
                if delta:
                    yield delta
                if part.done and part.prompt_eval_count is not None:
                    logger.debug(
                        "ollama counted %d prompt tokens (estimated %d), %s answer tokens",
                        part.prompt_eval_count,
                        prompt_tokens,
                        part.eval_count,
                    )
        except (ollama.ResponseError, ollama.RequestError, httpx.HTTPError, ConnectionError) as exc:
            raise LLMError(self._describe(exc), backend=self.name) from exc
        except ValueError as exc:  # a line that is not JSON: not an Ollama server
            raise LLMError(
                f"Ollama at {self.base_url} sent a malformed reply: {exc}", backend=self.name
            ) from exc
        finally:
            # Closing the client's generator closes the HTTP response, so a reader that
            # stops early (client went away) also stops Ollama generating.
            close = getattr(parts, "close", None)
            if close is not None:
                close()

    def _describe(self, exc: Exception) -> str:
        if isinstance(exc, httpx.TimeoutException):
            return (
                f"Ollama at {self.base_url} did not answer within {self.timeout_s:g} s; it may "
                "be loading the model or overloaded; raise ASKWIKI_LLM_TIMEOUT_S"
            )
        if isinstance(exc, ConnectionError | httpx.TransportError):
            return f"Cannot reach Ollama at {self.base_url}; is 'ollama serve' running?"
        if isinstance(exc, ollama.ResponseError):
            if exc.status_code == 404:
                return (
                    f"Ollama at {self.base_url} has no model {self.model!r}; run "
                    f"'ollama pull {self.model}' or set ASKWIKI_OLLAMA_MODEL ({exc.error})"
                )
            if exc.status_code < 0:  # an {"error": ...} line inside a 200 stream
                return f"Ollama at {self.base_url} failed while answering: {exc.error}"
            return f"Ollama at {self.base_url} answered HTTP {exc.status_code}: {exc.error}"
        return f"Ollama at {self.base_url} failed: {exc}"

    def health(self) -> HealthReport:
        """``GET /api/tags`` within ``HEALTH_TIMEOUT_S`` and check the model is listed."""
        try:
            names = list_model_names(self._probe.list())
        except Exception as exc:  # health never raises
            return self.report(False, f"Ollama at {self.base_url} unreachable: {exc}")
        if model_is_listed(self.model, names):
            return self.report(True, f"Ollama at {self.base_url} has {self.model}")
        return self.report(
            False,
            f"Ollama at {self.base_url} lacks {self.model!r} (has: {', '.join(names) or 'none'}); "
            f"run 'ollama pull {self.model}'",
        )

    def close(self) -> None:
        """Close the HTTP connection pools."""
        self._client.close()  # type: ignore[no-untyped-call]
        self._probe.close()  # type: ignore[no-untyped-call]
