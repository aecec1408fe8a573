"""Backend for any OpenAI-compatible server: llama.cpp's server, vLLM, LM Studio, ...

Chat streams through the official ``openai`` client (no retries, bounded timeouts). Token
counts come from llama.cpp's ``POST /tokenize`` when the server has it, else from
``estimate_tokens``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import httpx
import openai

from askwiki.errors import LLMError
from askwiki.llm.base import (
    CONNECT_TIMEOUT_S,
    HEALTH_TIMEOUT_S,
    TOKENIZE_TIMEOUT_S,
    BaseBackend,
    ChatMessage,
    HealthReport,
    estimate_tokens,
    http_timeout,
)
from askwiki.settings import Settings

logger = logging.getLogger(__name__)

NO_KEY = "sk-no-key-required"
"""Sent when no key is configured: the client insists on one, local servers ignore it."""


def split_base_url(base_url: str) -> tuple[str, str]:
    """``(api_base, server_root)`` from a URL given with or without the ``/v1`` suffix.

    The OpenAI routes live under ``/v1``; llama.cpp's ``/tokenize`` and ``/health`` live at
    the server root.
    """
    url = base_url.strip().rstrip("/")
    if not url:
        raise ValueError("empty base URL")
    if "://" not in url:
        url = "http://" + url
    if url.endswith("/v1"):
        return url, url[: -len("/v1")]
    return url + "/v1", url


def describe_openai_error(exc: Exception, backend: str, url: str, timeout_s: float) -> str:
    """A one-line message for an ``openai``/``httpx`` failure: what happened and what next."""
    if isinstance(exc, openai.APITimeoutError | httpx.TimeoutException):
        return (
            f"The {backend} LLM at {url} did not answer within {timeout_s:g} s; it may be "
            "overloaded, or raise ASKWIKI_LLM_TIMEOUT_S"
        )
    if isinstance(exc, openai.APIConnectionError | httpx.TransportError):
        cause = exc.__cause__ or exc
        return (
            f"Cannot reach the {backend} LLM at {url} ({type(cause).__name__}: {cause}); "
            "is the server running?"
        )
    if isinstance(exc, openai.APIStatusError):
        return f"The {backend} LLM at {url} answered HTTP {exc.status_code}: {_short(exc.message)}"
    return f"The {backend} LLM at {url} failed: {_short(str(exc))}"


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class OpenAICompatBackend(BaseBackend):
    """Chat with an OpenAI-compatible server by base URL, model name and optional key."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout_s: float = 120.0,
        context_tokens: int = 4096,
        name: str = "openai",
    ) -> None:
        self.name = name
        self.model = model
        self.context_tokens = context_tokens
        self.timeout_s = timeout_s
        self.api_base, self.server_root = split_base_url(base_url)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = openai.OpenAI(
            base_url=self.api_base,
            api_key=api_key or NO_KEY,
            timeout=openai.Timeout(timeout_s, connect=min(CONNECT_TIMEOUT_S, timeout_s)),
            max_retries=0,
        )
        self._http = httpx.Client(headers=headers, follow_redirects=True)
        self._tokenize_supported: bool | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenAICompatBackend:
        """The backend ``ASKWIKI_OPENAI_*`` describes; ``ConfigError`` without a base URL."""
        from askwiki.errors import ConfigError

        if not settings.openai_base_url:
            raise ConfigError(
                "ASKWIKI_LLM_BACKEND=openai needs ASKWIKI_OPENAI_BASE_URL, "
                "e.g. http://127.0.0.1:8080/v1 for llama.cpp's server"
            )
        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        return cls(
            settings.openai_base_url,
            settings.openai_model,
            api_key=key,
            timeout_s=settings.llm_timeout_s,
            context_tokens=settings.llm_context_tokens,
        )

    def stream_chat(
        self, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float
    ) -> Iterator[str]:
        """Yield text deltas from ``POST /v1/chat/completions`` with ``stream=true``."""
        payload: Any = [m.as_dict() for m in messages]
        logger.debug(
            "%s chat: %d messages, max_tokens=%d, url=%s",
            self.name,
            len(messages),
            max_tokens,
            self.api_base,
        )
        try:
            with self._client.chat.completions.create(
                model=self.model,
                messages=payload,
                max_tokens=max_tokens,
                temperature=temperature,
                stream=True,
            ) as stream:
                for chunk in stream:
                    if not chunk.choices:
                        continue
                    delta = chunk.choices[0].delta.content
                    if delta:
                        yield delta
        except (openai.OpenAIError, httpx.HTTPError) as exc:
            message = describe_openai_error(exc, self.name, self.api_base, self.timeout_s)
            raise LLMError(message, backend=self.name) from exc

    def count_tokens(self, text: str) -> int:
        """Exact via ``POST /tokenize`` (llama.cpp) when available, else ``estimate_tokens``."""
        if not text:
            return 0
        if self._tokenize_supported is False:
            return estimate_tokens(text)
        try:
            response = self._http.post(
                f"{self.server_root}/tokenize",
                json={"content": text, "add_special": False},
                timeout=http_timeout(min(TOKENIZE_TIMEOUT_S, self.timeout_s)),
            )
        except httpx.HTTPError as exc:
            logger.debug("tokenize at %s failed (%s); estimating", self.server_root, exc)
            return estimate_tokens(text)
        tokens = None
        if response.status_code == 200:
            try:
                tokens = response.json().get("tokens")
            except ValueError:
                tokens = None
        if not isinstance(tokens, list):
            with self._lock:
                if self._tokenize_supported is None:
                    logger.info(
                        "%s at %s has no /tokenize (HTTP %d); token counts are estimates",
                        self.name,
                        self.server_root,
                        response.status_code,
                    )
                self._tokenize_supported = False
            return estimate_tokens(text)
        self._tokenize_supported = True
        return len(tokens)

    def health(self) -> HealthReport:
        """``GET /v1/models`` within ``HEALTH_TIMEOUT_S``; never raises."""
        url = f"{self.api_base}/models"
        try:
            response = self._http.get(url, timeout=httpx.Timeout(HEALTH_TIMEOUT_S))
            response.raise_for_status()
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            return self.report(False, f"GET {url} failed: {type(exc).__name__}: {exc}")
        served = [str(m.get("id")) for m in body.get("data", []) if isinstance(m, dict)]
        if self.model in served or self.model == "default" or len(served) == 1:
            return self.report(True, f"{self.api_base} serves {', '.join(served) or 'a model'}")
        return self.report(
            False,
            f"{self.api_base} serves {', '.join(served) or 'no model'}, not {self.model!r}; "
            "set ASKWIKI_OPENAI_MODEL",
        )

    def close(self) -> None:
        """Close the HTTP connection pools."""
        self._client.close()
        self._http.close()
