"""Annotated dependencies: routes take what the lifespan put on ``app.state``."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends, Header, Query, Request
from fastapi.exceptions import RequestValidationError

from askwiki.answering.service import AnswerService
from askwiki.live_index import LiveIndex
from askwiki.questions import QuestionDesk, QuestionStore
from askwiki.questions.editors import Editors
from askwiki.settings import Settings


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _service(request: Request) -> AnswerService:
    service: AnswerService = request.app.state.service
    return service


def _live_index(request: Request) -> LiveIndex:
    live: LiveIndex = request.app.state.live_index
    return live


def _desk(request: Request) -> QuestionDesk:
    desk: QuestionDesk = request.app.state.answers
    return desk


def _questions(request: Request) -> QuestionStore:
    store: QuestionStore = request.app.state.questions
    return store


def _editors(request: Request) -> Editors:
    editors: Editors = request.app.state.editors
    return editors


# nginx's $request_id is 32 hex digits; UUIDs and most tracing ids fit too.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


BAD_REQUEST_ID = "X-Request-ID must be 1-128 letters, digits or . _ : -"


def valid_request_id(value: str | None) -> bool:
    """Whether an ``X-Request-ID`` header (None: absent) may name an ask."""
    return value is None or _REQUEST_ID.fullmatch(value) is not None


def _request_id(x_request_id: Annotated[str | None, Header()] = None) -> str | None:
    """The load balancer's id of this request, the same on each of its retries."""
    if not valid_request_id(x_request_id):
        raise RequestValidationError(
            [{"loc": ("header", "x-request-id"), "msg": BAD_REQUEST_ID, "type": "value_error"}]
        )
    return x_request_id


SettingsDep = Annotated[Settings, Depends(_settings)]
ServiceDep = Annotated[AnswerService, Depends(_service)]
LiveIndexDep = Annotated[LiveIndex, Depends(_live_index)]
AnswersDep = Annotated[QuestionDesk, Depends(_desk)]
QuestionsDep = Annotated[QuestionStore, Depends(_questions)]
EditorsDep = Annotated[Editors, Depends(_editors)]
# Asks that name the same request id are one ask (``QuestionDesk``): retries store nothing new.
RequestIdDep = Annotated[str | None, Depends(_request_id)]
# Every list's offset: a bound keeps it an integer every database takes (2**63 was a 500).
OffsetQuery = Annotated[int, Query(ge=0, le=10_000_000)]
