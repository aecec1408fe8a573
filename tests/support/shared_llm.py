"""The integration session's one loaded LLM, lent to each app under test."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from askwiki.llm.base import ChatMessage, HealthReport, LLMBackend


class SharedLLM:
    """The session's model, shared: the app may 'close' it without stopping it."""

    def __init__(self, backend: LLMBackend) -> None:
        self._backend = backend
        self.name, self.model = backend.name, backend.model
        self.context_tokens = backend.context_tokens

    def stream_chat(
        self, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float
    ) -> Iterator[str]:
        return self._backend.stream_chat(messages, max_tokens=max_tokens, temperature=temperature)

    def chat(self, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float) -> str:
        return self._backend.chat(messages, max_tokens=max_tokens, temperature=temperature)

    def count_tokens(self, text: str) -> int:
        return self._backend.count_tokens(text)

    def health(self) -> HealthReport:
        return self._backend.health()

    def close(self) -> None:
        pass
