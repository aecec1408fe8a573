"""What every language-model backend offers: streamed chat, token counting, health, close.

Backends are synchronous (the server runs them in a thread pool) and never hang: every
request has a connect timeout of ``CONNECT_TIMEOUT_S`` and a read timeout of
``settings.llm_timeout_s``; every failure (connection, HTTP status, timeout) surfaces as
``LLMError`` naming the backend.
"""

from __future__ import annotations

import abc
import logging
import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Literal, Protocol, TypedDict, runtime_checkable

import httpx

logger = logging.getLogger(__name__)

BackendName = Literal["ollama", "openai", "embedded"]
Role = Literal["system", "user", "assistant"]

CONNECT_TIMEOUT_S = 3.0
"""Seconds to wait for a TCP connection; a local or LAN server answers far sooner."""
HEALTH_TIMEOUT_S = 2.0
"""Total budget of one health probe."""
TOKENIZE_TIMEOUT_S = 10.0
"""Read budget of one ``/tokenize`` call (it does no inference)."""

# Chat templates wrap each message in role markers (Qwen/ChatML: ``<|im_start|>user\n``
# ... ``<|im_end|>\n`` is 5 tokens) and prime the reply with ``<|im_start|>assistant\n``.
MESSAGE_OVERHEAD_TOKENS = 5
REPLY_PRIMER_TOKENS = 3

# Characters that BPE vocabularies of current multilingual models (Qwen, Llama 3, GPT-4o)
# mostly encode as one token each, or more: CJK ideographs, kana, hangul, CJK and
# full-width punctuation.
_CJK = re.compile(
    "[\u2e80-\u2fff\u3000-\u303f\u3040-\u30ff\u3100-\u31ff\u3400-\u4dbf"
    "\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef"
    "\U00020000-\U0003ffff]"
)
CHARS_PER_TOKEN = 3.5


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One chat turn: ``role`` is "system", "user" or "assistant"."""

    role: Role
    content: str

    def as_dict(self) -> dict[str, str]:
        """The ``{"role", "content"}`` mapping that OpenAI and Ollama APIs take."""
        return {"role": self.role, "content": self.content}


class HealthReport(TypedDict):
    """What ``health()`` returns: never raises, ``ok`` False with a ``detail`` on failure."""

    ok: bool
    backend: str
    model: str
    detail: str


def estimate_tokens(text: str) -> int:
    """A conservative token count for when the backend cannot tokenize.

    One token per CJK character (ideograph, kana, hangul, CJK or full-width punctuation)
    plus one per 3.5 other characters, rounded up. Real BPE tokenizers (Qwen2.5, Llama 3)
    give about 0.7-1.0 tokens per Chinese character and 4-5 English characters per token,
    so this errs high: a prompt packed to this count fits the real context.
    """
    if not text:
        return 0
    cjk = len(_CJK.findall(text))
    other = len(text) - cjk
    return cjk + math.ceil(other / CHARS_PER_TOKEN)


def estimate_message_tokens(messages: Sequence[ChatMessage]) -> int:
    """``estimate_tokens`` over a whole chat, with the template's per-message overhead."""
    return count_message_tokens(messages, estimate_tokens)


def count_message_tokens(messages: Sequence[ChatMessage], count: Callable[[str], int]) -> int:
    """Tokens a chat costs once templated: contents plus per-message and reply overhead."""
    if not messages:
        return 0
    body = sum(count(m.content) for m in messages)
    return body + MESSAGE_OVERHEAD_TOKENS * len(messages) + REPLY_PRIMER_TOKENS


def http_timeout(read_s: float) -> httpx.Timeout:
    """Connect within ``CONNECT_TIMEOUT_S``; wait at most ``read_s`` between received bytes."""
    return httpx.Timeout(read_s, connect=min(CONNECT_TIMEOUT_S, read_s))


@runtime_checkable
class LLMBackend(Protocol):
    """A chat model behind one of askwiki's backends (or a test double).

    ``name`` is "ollama", "openai" or "embedded" (test doubles may use their own), ``model``
    the model the backend asks for, ``context_tokens`` the context window it may fill.
    """

    name: str
    model: str
    context_tokens: int

    def stream_chat(
        self, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float
    ) -> Iterator[str]:
        """Yield the answer as text deltas; raise ``LLMError(backend=name)`` on failure."""
        ...

    def chat(self, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float) -> str:
        """The whole answer at once (the joined stream)."""
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens ``text`` costs this model: exact where the backend can tokenize."""
        ...

    def health(self) -> HealthReport:
        """Whether the backend can answer now; never raises, returns within a few seconds."""
        ...

    def close(self) -> None:
        """Release connections (and, for the embedded backend, the model)."""
        ...


class BaseBackend(abc.ABC):
    """Shared behaviour: ``chat`` joins the stream, context-manager support, reports."""

    name: str
    model: str
    context_tokens: int

    @abc.abstractmethod
    def stream_chat(
        self, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float
    ) -> Iterator[str]:
        """Yield the answer as text deltas; raise ``LLMError(backend=name)`` on failure."""

    def chat(self, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float) -> str:
        """The whole answer at once (the joined stream)."""
        return "".join(self.stream_chat(messages, max_tokens=max_tokens, temperature=temperature))

    def count_tokens(self, text: str) -> int:
        """Tokens ``text`` costs; this default is ``estimate_tokens``."""
        return estimate_tokens(text)

    def count_message_tokens(self, messages: Sequence[ChatMessage]) -> int:
        """Tokens a whole chat costs once templated, by this backend's ``count_tokens``."""
        return count_message_tokens(messages, self.count_tokens)

    @abc.abstractmethod
    def health(self) -> HealthReport:
        """Whether the backend can answer now; never raises."""

    def close(self) -> None:  # noqa: B027 - a no-op is the right default
        """Release resources; the default has none."""

    def report(self, ok: bool, detail: str) -> HealthReport:
        """A ``HealthReport`` for this backend."""
        return {"ok": ok, "backend": self.name, "model": self.model, "detail": detail}

    def __enter__(self) -> BaseBackend:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r})"
