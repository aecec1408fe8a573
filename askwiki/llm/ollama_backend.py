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
from askwiki.llm.ollama_names import list_model_names, model_is_listed, ollama_base_url
from askwiki.settings import Settings

logger = logging.getLogger(__name__)

NUM_CTX_STEP = 512
NUM_CTX_MARGIN = 64
"""Tokens kept free beyond the counted prompt and answer, for template and count slack."""


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
