"""Annotated dependencies: routes take what the lifespan put on ``app.state``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

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


SettingsDep = Annotated[Settings, Depends(_settings)]
ServiceDep = Annotated[AnswerService, Depends(_service)]
LiveIndexDep = Annotated[LiveIndex, Depends(_live_index)]
AnswersDep = Annotated[QuestionDesk, Depends(_desk)]
QuestionsDep = Annotated[QuestionStore, Depends(_questions)]
EditorsDep = Annotated[Editors, Depends(_editors)]
