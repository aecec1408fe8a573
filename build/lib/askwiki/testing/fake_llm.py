"""A scripted stand-in for an LLM backend, for unit tests of code that talks to one.

    llm = FakeLLM(["巴黎是法国的首都 [1]。", "I don't know."])
    answer = llm.chat([ChatMessage("user", "...")], max_tokens=64, temperature=0)
    assert llm.calls[-1].messages[0].content == "..."

Replies are used in turn (cycling) and streamed piece by piece: each CJK character, each
run of whitespace-separated text with its trailing spaces. ``max_tokens`` caps the pieces.
``fail_with`` makes calls raise ``LLMError`` (after ``fail_after`` pieces), ``delay_s`` sleeps
before each piece, and ``healthy=False`` makes ``health()`` report a failure.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from askwiki.errors import LLMError
from askwiki.llm.base import BaseBackend, ChatMessage, HealthReport

_PIECE = re.compile(
    r"\s+"
    r"|[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]\s*"
    r"|[^\s\u3000-\u303f\u3400-\u9fff\uff00-\uffef]+\s*"
)


def split_pieces(text: str) -> list[str]:
    """The deltas a reply streams as; ``"".join(split_pieces(t)) == t``."""
    return _PIECE.findall(text)


@dataclass
class FakeCall:
    """One ``stream_chat``/``chat`` call as the fake received it."""

    messages: list[ChatMessage]
    max_tokens: int
    temperature: float
    streamed: list[str] = field(default_factory=list)


class FakeLLM(BaseBackend):
    """Implements the ``LLMBackend`` protocol with scripted replies; records what it got."""

    def __init__(
        self,
        replies: Sequence[str] = ("This is a fake answer.",),
        *,
        delay_s: float = 0.0,
        fail_with: str | None = None,
        fail_after: int = 0,
        healthy: bool = True,
        name: str = "fake",
        model: str = "fake-llm",
        context_tokens: int = 4096,
    ) -> None:
        if not replies:
            raise ValueError("FakeLLM needs at least one reply")
        self.name = name
        self.model = model
        self.context_tokens = context_tokens
        self.replies = list(replies)
        self.delay_s = delay_s
        self.fail_with = fail_with
        self.fail_after = fail_after
        self.healthy = healthy
        self.calls: list[FakeCall] = []
        self.closed = False
        self._next = 0
        self._lock = threading.Lock()

    @property
    def last_messages(self) -> list[ChatMessage]:
        """Messages of the latest call (empty before any)."""
        return self.calls[-1].messages if self.calls else []

    def stream_chat(
        self, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float
    ) -> Iterator[str]:
        with self._lock:
            call = FakeCall(list(messages), max_tokens, temperature)
            self.calls.append(call)
            reply = self.replies[self._next % len(self.replies)]
            self._next += 1
        return self._stream(call, reply)

    def _stream(self, call: FakeCall, reply: str) -> Iterator[str]:
        pieces = split_pieces(reply)[: max(call.max_tokens, 0)]
        for index, piece in enumerate(pieces):
            if self.fail_with is not None and index == self.fail_after:
                raise LLMError(self.fail_with, backend=self.name)
            if self.delay_s:
                time.sleep(self.delay_s)
            call.streamed.append(piece)
            yield piece
        if self.fail_with is not None and self.fail_after >= len(pieces):
            raise LLMError(self.fail_with, backend=self.name)

    def health(self) -> HealthReport:
        return self.report(self.healthy, "fake backend" if self.healthy else "fake outage")

    def close(self) -> None:
        self.closed = True
