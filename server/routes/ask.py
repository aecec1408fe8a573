"""``POST /api/ask``: a cited answer as JSON, or streamed as Server-Sent Events."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Header
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse

from askwiki.answering.types import (
    Answer,
    AnswerEvent,
    DoneEvent,
    SourcesEvent,
    TokenEvent,
    final_answer,
)
from askwiki.errors import AskwikiError
from askwiki.llm.base import ChatMessage
from askwiki.server.deps import AnswersDep, RequestIdDep, SettingsDep
from askwiki.server.errors import error_body
from askwiki.server.schemas import AnswerOut, AskRequest, ErrorOut
from askwiki.server.sse import SSE_HEADERS, sse_event

logger = logging.getLogger(__name__)
router = APIRouter(tags=["ask"])


def answer_json(answer: Answer) -> dict[str, object]:
    """The one serialisation of an answer shared by JSON, SSE ``done`` and stored answers.

    Includes ``cached``/``cached_from`` and the ``related`` questions the question desk attached.
    """
    return AnswerOut.model_validate(asdict(answer)).model_dump(mode="json")


def event_payload(event: AnswerEvent) -> object:
    match event:
        case SourcesEvent(sources=sources):
            return {"sources": [asdict(s) for s in sources]}
        case TokenEvent(text=text):
            return {"text": text}
        case DoneEvent(answer=answer):
            return answer_json(answer)


def check_question(question: str, limit: int, loc: tuple[str, str] = ("body", "question")) -> None:
    """A 422 for an empty question or one over ``ASKWIKI_MAX_QUESTION_CHARS``; ``loc`` names
    where the request carried it."""
    name = loc[-1]
    if not question.strip():
        raise RequestValidationError(
            [{"loc": loc, "msg": f"{name} is empty", "type": "value_error"}]
        )
    if len(question) > limit:
        raise RequestValidationError(
            [
                {
                    "loc": loc,
                    "msg": f"{name} has {len(question)} characters; the limit is {limit} (ASKWIKI_MAX_QUESTION_CHARS)",
                    "type": "value_error",
                }
            ]
        )


@router.post(
    "/api/ask",
    response_model=AnswerOut,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "JSON answer, or SSE when streaming",
        },
        503: {"model": ErrorOut, "description": "The LLM backend or the index is unavailable"},
    },
)
def ask(
    request: AskRequest,
    answers: AnswersDep,
    settings: SettingsDep,
    request_id: RequestIdDep,
    accept: Annotated[str | None, Header()] = None,
) -> object:
    """Answer a question from the wiki with numbered citations.

    With `"stream": true` (or `Accept: text/event-stream`) the answer arrives as events:
    `sources` (the numbered list), `token` (`{"text": delta}`) and `done` (the final
    object, identical to the JSON answer, with verified citations).

    A question meaning the same as one already answered against the same index version
    returns that answer at once (`cached: true`, `cached_from`, its `created_at`);
    `"fresh": true` forces a new answer. Every answer, and every failure, is stored and
    gets a page at `/q/{id}`; `related` lists other people's questions.

    An `X-Request-ID` header (nginx sets one) makes retries safe: a request whose answer
    is already stored gets that answer again, and is stored only once.
    """
    check_question(request.question, settings.max_question_chars)
    history = [ChatMessage(turn.role, turn.content) for turn in request.history]
    streaming = request.stream or "text/event-stream" in (accept or "")
    events = answers.stream(
        request.question.strip(),
        history,
        request.top_k,
        fresh=request.fresh,
        request_id=request_id,
    )
    if not streaming:
        return answer_json(final_answer(events))
    # Pull the first event before answering 200, so a dead LLM or missing index is a 503.
    first = next(events)
    return StreamingResponse(
        _sse(first, events), media_type="text/event-stream", headers=SSE_HEADERS
    )


def _sse(first: AnswerEvent, events: Iterator[AnswerEvent]) -> Iterator[str]:
    yield sse_event(first.kind, event_payload(first))
    try:
        for event in events:
            yield sse_event(event.kind, event_payload(event))
    except AskwikiError as exc:
        status, body = error_body(exc)
        logger.warning("Stream failed with %d: %s", status, exc)
        yield sse_event("error", {**body, "status": status})
