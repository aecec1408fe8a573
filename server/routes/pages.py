"""The HTML pages: home, question pages, the question list and the knowledge gaps.

Everything works without JavaScript: asking is a form that answers and redirects to the
question's page, feedback is a form. Other readers' questions and answers are shown masked
(``askwiki.questions.public``); with ``ASKWIKI_PUBLIC_QUESTIONS=false`` no stored question
is listed or has a page, and the form shows the asker's answer without a redirect. ``/static/ask.js`` adds streaming on top. Templates
autoescape; the answer Markdown goes through ``server.render`` and no raw HTML from the
LLM or the wiki reaches a page.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from functools import cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials
from jinja2 import Environment, FileSystemLoader, select_autoescape

from askwiki.errors import (
    AdminAccessError,
    AdminAuthError,
    AskwikiError,
    QuestionHiddenError,
    QuestionNotFoundError,
)
from askwiki.llm.base import ChatMessage
from askwiki.privacy import mask_personal
from askwiki.questions import QuestionRecord, QuestionSummary, find_gaps
from askwiki.questions.editors import visible_record
from askwiki.questions.public import public_gap, public_record, public_summary
from askwiki.questions.text import answer_snippet, question_path
from askwiki.server.admin.routes import require_gaps_access
from askwiki.server.deps import AnswersDep, OffsetQuery, QuestionsDep, RequestIdDep, SettingsDep
from askwiki.server.i18n import pick_language, translator
from askwiki.server.render import render_answer, safe_url, section_tail, short_date
from askwiki.text import Language

logger = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
LIST_SIZE = 8
PAGE_SIZE = 20
HISTORY_CHARS = 4000
# Pages run no inline script or style, so the policy can forbid both.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}
# The admin page's form for a question's curated answer (the "write a curated answer" link).
CURATE_PAGE = "/admin/questions/{id}"
LangQuery = Annotated[str | None, Query(alias="lang", pattern="^(zh|en)$")]


@cache
def templates() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["date"] = short_date
    env.filters["safe_url"] = safe_url
    env.filters["section_tail"] = section_tail
    return env


def _page(
    request: Request,
    template: str,
    language: Language,
    explicit: bool,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    other: Language = "en" if language == "zh" else "zh"
    query = {k: v for k, v in request.query_params.items() if k not in ("lang", "voted")}
    toggle = request.url.path + "?" + urlencode({**query, "lang": other})
    html = (
        templates()
        .get_template(template)
        .render(
            lang=language,
            other_lang=other,
            t=translator(language),
            lang_explicit=explicit,
            lang_query=f"?lang={language}" if explicit else "",
            toggle_url=toggle,
            max_chars=request.app.state.settings.max_question_chars,
            public_questions=request.app.state.settings.public_questions,
            public_gaps=request.app.state.settings.public_gaps,
            **context,
        )
    )
    return HTMLResponse(html, status_code=status_code, headers=PAGE_HEADERS)


def _item(summary: QuestionSummary) -> dict[str, Any]:
    shown = public_summary(summary)
    return {**asdict(shown), "path": question_path(shown.id, shown.question)}


def _not_found(request: Request, lang: str | None) -> HTMLResponse:
    language = pick_language(lang, None, _accepts(request))
    heading = translator(language)["not_found"]
    return _page(request, "error.html", language, lang is not None, 404, heading=heading)


def _accepts(request: Request) -> str | None:
    return request.headers.get("accept-language")


@router.get("/", response_class=HTMLResponse)
def home(
    request: Request, store: QuestionsDep, settings: SettingsDep, lang: LangQuery = None
) -> HTMLResponse:
    """Home: the ask box, recent and popular questions (when they are public)."""
    language = pick_language(lang, None, _accepts(request))
    public = settings.public_questions
    return _page(
        request,
        "home.html",
        language,
        lang is not None,
        recent=[_item(s) for s in store.recent(LIST_SIZE)] if public else [],
        popular=[_item(s) for s in store.popular(LIST_SIZE)] if public else [],
    )


def _answer_and_redirect(
    request: Request,
    answers: AnswersDep,
    store: QuestionsDep,
    settings: SettingsDep,
    question: str,
    parent: str | None,
    lang: str | None,
    fresh: bool,
    request_id: str | None,
) -> Response:
    question = question.strip()
    language = pick_language(lang, None, _accepts(request))
    if not question:
        return RedirectResponse("/" + (f"?lang={lang}" if lang else ""), status_code=303)
    t = translator(language)
    if len(question) > settings.max_question_chars:
        detail = f"{len(question)} > {settings.max_question_chars}"
        return _page(request, "error.html", language, False, 422, heading=t["error"], detail=detail)
    history: list[ChatMessage] = []
    if parent:
        try:
            earlier = answers.shown(visible_record(store, parent))
            history = [
                ChatMessage("user", earlier.question),
                ChatMessage("assistant", earlier.answer[:HISTORY_CHARS]),
            ]
        except QuestionNotFoundError:
            # Unknown or hidden: a hidden question's text must not leak into a new answer.
            logger.info("Follow-up names unknown question %s; asking without history", parent)
    try:
        answer = answers.ask(question, history, fresh=fresh, request_id=request_id)
    except AskwikiError as exc:
        # The failure is already in the question log; the reader gets a page, not JSON.
        logger.warning("Form ask failed: %s", exc)
        return _page(
            request,
            "error.html",
            language,
            False,
            503,
            heading=t["failed"],
            detail=t["failed_detail"],
            question=question,
        )
    if not settings.public_questions:
        # No page to redirect to: the asker gets the answer here.
        return _own_answer_page(request, answers, store.get(answer.id), lang, None)
    shown = mask_personal(answer.question)
    target = question_path(answer.id, shown) + (f"?lang={lang}" if lang else "")
    return RedirectResponse(target, status_code=303)


def _own_answer_page(
    request: Request,
    answers: AnswersDep,
    record: QuestionRecord,
    lang: str | None,
    voted: str | None,
) -> HTMLResponse:
    """The asker's own answer when questions have no public page (nothing to mask)."""
    language = pick_language(lang, record.answer.language)
    context = _question_context(request, record, answers)
    return _page(request, "question.html", language, lang is not None, voted=voted, **context)


@router.post("/ask")
def ask_form(
    request: Request,
    answers: AnswersDep,
    store: QuestionsDep,
    settings: SettingsDep,
    request_id: RequestIdDep,
    question: Annotated[str, Form()] = "",
    parent: Annotated[str | None, Form()] = None,
    lang: Annotated[str | None, Form()] = None,
    fresh: Annotated[bool, Form()] = False,
) -> Response:
    """The ask box without JavaScript: answer, then redirect to the question's page."""
    return _answer_and_redirect(
        request, answers, store, settings, question, parent, lang, fresh, request_id
    )


@router.get("/ask")
def ask_link(
    request: Request,
    answers: AnswersDep,
    store: QuestionsDep,
    settings: SettingsDep,
    request_id: RequestIdDep,
    question: Annotated[str, Query(alias="q")] = "",
    lang: LangQuery = None,
) -> Response:
    """``/ask?q=...``: a link that asks a question and lands on its page."""
    return _answer_and_redirect(
        request, answers, store, settings, question, None, lang, False, request_id
    )


def _question_context(
    request: Request, record: QuestionRecord, answers: AnswersDep
) -> dict[str, Any]:
    answer = answers.shown(record)
    path = question_path(answer.id, answer.question)
    numbers = {s.n for s in answer.sources}
    return {
        "record": record,
        "answer": answer,
        "answer_html": render_answer(answer.answer, numbers),
        "references": sorted(answer.sources, key=lambda s: (not s.cited, s.n)),
        "related": answers.related_to(record),
        "path": path,
        "canonical": answers.url(answer.id, answer.question)
        if answers.base_url
        else str(request.base_url).rstrip("/") + path,
        "snippet": answer_snippet(answer.answer, 160),
        "history": [
            {"role": "user", "content": answer.question},
            {"role": "assistant", "content": answer.answer[:HISTORY_CHARS]},
        ],
    }


@router.get("/q/{question_id}", response_class=HTMLResponse)
@router.get("/q/{question_id}/{slug}", response_class=HTMLResponse)
def question_page(
    request: Request,
    question_id: str,
    answers: AnswersDep,
    store: QuestionsDep,
    settings: SettingsDep,
    lang: LangQuery = None,
    voted: Annotated[str | None, Query()] = None,
    partial: Annotated[bool, Query()] = False,
    slug: str = "",
) -> HTMLResponse:
    """A question's permanent page; ``?partial=1`` returns only the answer (for ask.js)."""
    if not settings.public_questions:
        return _not_found(request, lang)
    try:
        record = public_record(visible_record(store, question_id))
    except QuestionNotFoundError as exc:
        language = pick_language(lang, None, _accepts(request))
        hidden = isinstance(exc, QuestionHiddenError)
        heading = translator(language)["removed" if hidden else "not_found"]
        status = 410 if hidden else 404
        return _page(request, "error.html", language, lang is not None, status, heading=heading)
    language = pick_language(lang, record.answer.language)
    context = _question_context(request, record, answers)
    template = "_answer.html" if partial else "question.html"
    return _page(request, template, language, lang is not None, voted=voted, **context)


@router.post("/q/{question_id}/feedback")
def feedback_form(
    request: Request,
    question_id: str,
    answers: AnswersDep,
    store: QuestionsDep,
    settings: SettingsDep,
    vote: Annotated[str, Form(pattern="^(up|down)$")],
    comment: Annotated[str, Form(max_length=2000)] = "",
    lang: Annotated[str | None, Form()] = None,
) -> Response:
    """Feedback buttons without JavaScript: store the vote, back to the page."""
    record = visible_record(store, question_id)
    store.add_feedback(question_id, "up" if vote == "up" else "down", comment.strip() or None)
    if not settings.public_questions:
        return _own_answer_page(request, answers, store.get(question_id), lang, vote)
    query = urlencode({"voted": vote, **({"lang": lang} if lang in ("zh", "en") else {})})
    path = question_path(record.id, mask_personal(record.answer.question))
    return RedirectResponse(f"{path}?{query}#feedback-{record.id}", status_code=303)


@router.get("/questions", response_class=HTMLResponse)
def questions_page(
    request: Request,
    store: QuestionsDep,
    settings: SettingsDep,
    q: Annotated[str, Query(max_length=200)] = "",
    offset: OffsetQuery = 0,
    lang: LangQuery = None,
) -> HTMLResponse:
    """Past questions, newest first, with search."""
    if not settings.public_questions:
        return _not_found(request, lang)
    language = pick_language(lang, None, _accepts(request))
    items, total = store.search(q, PAGE_SIZE, offset)

    def link(to: int) -> str:
        params = {"q": q, "offset": to, **({"lang": lang} if lang else {})}
        return "/questions?" + urlencode({k: v for k, v in params.items() if v not in ("", 0)})

    return _page(
        request,
        "questions.html",
        language,
        lang is not None,
        query=q,
        total=total,
        items=[_item(s) for s in items],
        previous_url=link(max(offset - PAGE_SIZE, 0)) if offset else None,
        next_url=link(offset + PAGE_SIZE) if offset + PAGE_SIZE < total else None,
    )


@router.get("/gaps", response_class=HTMLResponse)
def gaps_page(request: Request, store: QuestionsDep, lang: LangQuery = None) -> HTMLResponse:
    """Knowledge gaps: what the wiki could not answer, grouped, biggest first. Editors only
    (the admin token) unless ASKWIKI_PUBLIC_GAPS is true."""
    language = pick_language(lang, None, _accepts(request))
    try:
        require_gaps_access(request, _bearer_credentials(request))
    except AdminAccessError as exc:
        t = translator(language)
        status = 401 if isinstance(exc, AdminAuthError) else 403
        return _page(
            request, "error.html", language, lang is not None, status, heading=t["gaps_private"]
        )
    found = [public_gap(g) for g in find_gaps(store)]
    gaps = [
        {
            **asdict(g),
            "examples": [_item(s) for s in g.examples],
            "curate_path": CURATE_PAGE.format(id=g.question_id),
        }
        for g in found
    ]
    return _page(request, "gaps.html", language, lang is not None, gaps=gaps)


def _bearer_credentials(request: Request) -> HTTPAuthorizationCredentials | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    return HTTPAuthorizationCredentials(scheme=scheme, credentials=token.strip())
