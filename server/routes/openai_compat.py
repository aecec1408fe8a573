"""``POST /v1/chat/completions``: the answer service behind the OpenAI chat API.

Chat UIs that speak the OpenAI API work unchanged: the last user message is the question,
earlier turns are the history. The answer carries its citations inline, reference lines
(``[n] Title › Section — url``) at the end, and the structured list in an extra
``sources`` field (on the response, or on the final chunk when streaming).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import asdict
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from askwiki.answering.types import Answer, AnswerEvent, DoneEvent, TokenEvent, final_answer
from askwiki.errors import AskwikiError
from askwiki.llm.base import ChatMessage
from askwiki.server.deps import AnswersDep, RequestIdDep, SettingsDep
from askwiki.server.errors import error_body
from askwiki.server.routes.ask import check_question
from askwiki.server.sse import SSE_HEADERS, sse_data
from askwiki.text import Language

router = APIRouter(tags=["openai"])
MODEL_NAME = "askwiki"


class OpenAIMessage(BaseModel):
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[dict[str, object]] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return " ".join(str(part.get("text", "")) for part in self.content)
        return self.content or ""


class ChatCompletionRequest(BaseModel):
    model: str = MODEL_NAME
    messages: list[OpenAIMessage] = Field(min_length=1, max_length=50)
    stream: bool = False
    max_tokens: int | None = None
    temperature: float | None = None


HEADINGS: dict[Language, dict[str, str]] = {
    "en": {"sources": "Sources:", "closest": "Closest pages (none of them answers this):"},
    "zh": {"sources": "参考来源：", "closest": "最接近的页面（都没有回答这个问题）："},
}


def reference_lines(answer: Answer) -> str:
    """Markdown list of the cited sources (all if none is cited), or of the closest pages.

    The heading speaks the answer's language, like the answer itself.
    """
    if answer.closest:
        kind, chosen = "closest", answer.closest
    else:
        kind, chosen = "sources", [s for s in answer.sources if s.cited] or answer.sources
    lines = []
    for source in chosen:
        link = f" — {source.url}" if source.url else ""
        lines.append(f"[{source.n}] {source.section}{link}")
    heading = HEADINGS[answer.language][kind]
    return f"\n\n{heading}\n" + "\n".join(lines) if lines else ""


def _split(request: ChatCompletionRequest) -> tuple[str, list[ChatMessage]]:
    turns = [m for m in request.messages if m.role in ("user", "assistant")]
    last_user = max((i for i, m in enumerate(turns) if m.role == "user"), default=None)
    if last_user is None:
        from fastapi.exceptions import RequestValidationError

        raise RequestValidationError(
            [{"loc": ("body", "messages"), "msg": "no user message", "type": "value_error"}]
        )
    history = [ChatMessage(m.role, m.text()) for m in turns[:last_user]]  # type: ignore[arg-type]
    return turns[last_user].text(), history


def _extension(answer: Answer) -> dict[str, object]:
    return {
        "answer_id": answer.id,
        "answer": answer.answer,
        "status": answer.status,
        "closest": [asdict(s) for s in answer.closest],
    }


def _completion(answer: Answer) -> dict[str, object]:
    content = answer.answer + reference_lines(answer)
    return {
        "id": f"chatcmpl-{answer.id}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": MODEL_NAME,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        "sources": [asdict(s) for s in answer.sources],
        "askwiki": _extension(answer),
    }


@router.post("/v1/chat/completions")
def chat_completions(
    request: ChatCompletionRequest,
    answers: AnswersDep,
    settings: SettingsDep,
    request_id: RequestIdDep,
) -> object:
    """OpenAI-compatible chat completion answered from the wiki, with sources attached.

    Like `/api/ask`, a repeated `X-Request-ID` gets the answer stored the first time.
    """
    question, history = _split(request)
    check_question(question, settings.max_question_chars)
    events = answers.stream(question.strip(), history, request_id=request_id)
    if not request.stream:
        return _completion(final_answer(events))
    first = next(events)
    return StreamingResponse(
        _chunks(first, events), media_type="text/event-stream", headers=SSE_HEADERS
    )


@router.get("/v1/models")
def models() -> dict[str, object]:
    """The one model name this endpoint answers to."""
    return {
        "object": "list",
        "data": [{"id": MODEL_NAME, "object": "model", "owned_by": "askwiki"}],
    }


def _chunk(
    answer_id: str, delta: dict[str, str], finish: str | None = None, **extra: object
) -> dict[str, object]:
    return {
        "id": f"chatcmpl-{answer_id}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": MODEL_NAME,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **extra,
    }


def _chunks(first: AnswerEvent, events: Iterator[AnswerEvent]) -> Iterator[str]:
    stream_id = f"{int(time.time() * 1000):x}"
    yield sse_data(_chunk(stream_id, {"role": "assistant", "content": ""}))
    streamed = False
    try:
        for event in _chain(first, events):
            if isinstance(event, TokenEvent):
                streamed = True
                yield sse_data(_chunk(stream_id, {"content": event.text}))
            elif isinstance(event, DoneEvent):
                answer = event.answer
                text = (
                    reference_lines(answer) if streamed else answer.answer + reference_lines(answer)
                )
                yield sse_data(
                    _chunk(
                        stream_id,
                        {"content": text},
                        "stop",
                        sources=[asdict(s) for s in answer.sources],
                        askwiki=_extension(answer),
                    )
                )
    except AskwikiError as exc:
        status, body = error_body(exc)
        yield sse_data({"error": {**body, "status": status}})
    yield sse_data("[DONE]")


def _chain(first: AnswerEvent, events: Iterator[AnswerEvent]) -> Iterator[AnswerEvent]:
    yield first
    yield from events
