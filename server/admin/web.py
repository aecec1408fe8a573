"""``/admin``: the editors' web page, server-rendered like the question pages.

Sign in with an admin token (a session cookie, ``server.admin.session``), then: the
questions with search and filters, each with hide/unhide, delete and a curated-answer
form started from the AI's answer and its sources; the knowledge gaps; documents and
ingest/sync jobs (uploads go through the admin API's own functions); the audit log.
Editors see questions as asked (unmasked) and hidden ones too. Every form post carries a
CSRF token and is refused with 403 without it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from askwiki.errors import AskwikiError, QuestionNotFoundError
from askwiki.privacy import mask_personal
from askwiki.questions import find_gaps
from askwiki.questions.editors import CitedPage, Editors
from askwiki.questions.store import QuestionFilter
from askwiki.questions.text import question_path
from askwiki.server.admin import routes as admin_api
from askwiki.server.admin.jobs import new_job_id
from askwiki.server.admin.session import (
    AdminSession,
    csrf_matches,
    current_session,
    end_session,
    login_csrf,
    login_csrf_matches,
    set_login_csrf,
    start_session,
)
from askwiki.server.deps import OffsetQuery, SettingsDep
from askwiki.server.i18n import pick_language, translator
from askwiki.server.render import render_answer
from askwiki.server.routes.pages import PAGE_HEADERS, LangQuery, templates
from askwiki.text import Language

logger = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)

PAGE_SIZE = 30
JOBS_SHOWN = 20
ADMIN_HEADERS = {**PAGE_HEADERS, "Cache-Control": "no-store", "X-Frame-Options": "DENY"}
CsrfForm = Annotated[str, Form()]
VOTES = ("up", "down", "any")
STATUSES = ("answered", "no_answer", "failed", "extractive")


def _language(request: Request) -> tuple[Language, bool]:
    lang = request.query_params.get("lang")
    return pick_language(lang, None, request.headers.get("accept-language")), lang in ("zh", "en")


def _render(
    request: Request,
    template: str,
    session: AdminSession | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    language, explicit = _language(request)
    other: Language = "en" if language == "zh" else "zh"
    query = {k: v for k, v in request.query_params.items() if k not in ("lang", "csrf")}
    html = (
        templates()
        .get_template(template)
        .render(
            lang=language,
            other_lang=other,
            t=translator(language),
            lang_explicit=explicit,
            lang_query=f"?lang={language}" if explicit else "",
            toggle_url=request.url.path + "?" + urlencode({**query, "lang": other}),
            max_chars=request.app.state.settings.max_question_chars,
            public_questions=request.app.state.settings.public_questions,
            session=session,
            **context,
        )
    )
    return HTMLResponse(html, status_code=status_code, headers=ADMIN_HEADERS)


def _message(request: Request, session: AdminSession | None, status: int, key: str) -> HTMLResponse:
    language, _ = _language(request)
    heading = translator(language)[key]
    return _render(request, "error.html", session, status, heading=heading)


def _failure(request: Request, session: AdminSession, status: int, exc: Exception) -> HTMLResponse:
    language, _ = _language(request)
    heading = translator(language)["error"]
    return _render(request, "error.html", session, status, heading=heading, detail=str(exc))


def _login_page(request: Request, status_code: int = 200, wrong: bool = False) -> HTMLResponse:
    settings = request.app.state.settings
    if not settings.admin_enabled:
        return _render(request, "admin_login.html", None, 403, disabled=True)
    token = login_csrf(request)
    response = _render(
        request, "admin_login.html", None, status_code, wrong=wrong, login_csrf=token
    )
    set_login_csrf(request, response, token)
    return response


def _signed_in(request: Request) -> AdminSession | None:
    """The request's admin session, unless it was signed out (in any browser, on any replica)."""
    session = current_session(request, request.app.state.settings)
    if session is None or _editors(request).signed_out(session.session_id):
        return None
    return session


def _form_session(request: Request, csrf: str | None) -> AdminSession | HTMLResponse:
    """The session of a form post, or the 403 page when it has no session or no CSRF token."""
    session = _signed_in(request)
    if session is None or not csrf_matches(session, csrf):
        logger.warning(
            "Refused admin form post to %s: no session or wrong CSRF token", request.url.path
        )
        return _message(request, session, 403, "admin_refused")
    return session


def _editors(request: Request) -> Editors:
    editors: Editors = request.app.state.editors
    return editors


def _back(request: Request, path: str) -> RedirectResponse:
    lang = request.query_params.get("lang")
    suffix = f"?lang={lang}" if lang in ("zh", "en") else ""
    return RedirectResponse(path + suffix, status_code=303)


# -- signing in and out ----------------------------------------------------------------


@router.post("/admin/login")
def sign_in(
    request: Request,
    settings: SettingsDep,
    token: Annotated[str, Form(max_length=4096)] = "",
    csrf: CsrfForm = "",
) -> Response:
    """Exchange an admin token for a session cookie."""
    if not login_csrf_matches(request, csrf):
        return _message(request, None, 403, "admin_refused")
    if not settings.admin_enabled:
        return _login_page(request)
    actor = settings.admin_actor(token)
    if actor is None:
        logger.warning("Admin sign-in with a wrong token from %s", request.client)
        return _login_page(request, 401, wrong=True)
    response = _back(request, "/admin")
    start_session(request, response, settings, actor)
    logger.info("Editor %r signed in to the admin page", actor)
    return response


@router.post("/admin/logout")
def sign_out(request: Request, csrf: CsrfForm = "") -> Response:
    session = _form_session(request, csrf)
    if isinstance(session, HTMLResponse):
        return session
    _editors(request).sign_out(session.session_id, session.expires)
    response = _back(request, "/admin")
    end_session(request, response)
    logger.info("Editor %r signed out of the admin page", session.actor)
    return response


# -- questions ---------------------------------------------------------------------------


@router.get("/admin", response_class=HTMLResponse)
def questions_page(
    request: Request,
    q: Annotated[str, Query(max_length=200)] = "",
    status: Annotated[str, Query(max_length=20)] = "",
    votes: Annotated[str, Query(max_length=10)] = "",
    hidden: Annotated[str, Query(max_length=1)] = "",
    offset: OffsetQuery = 0,
    lang: LangQuery = None,
) -> HTMLResponse:
    """Sign-in form, or the stored questions with search and filters."""
    session = _signed_in(request)
    if session is None:
        return _login_page(request)
    filters = QuestionFilter(
        query=q,
        status=status if status in STATUSES else None,
        hidden={"1": True, "0": False}.get(hidden),
        votes=votes if votes in VOTES else None,  # type: ignore[arg-type]
    )
    items, total = _editors(request).questions(filters, PAGE_SIZE, offset)
    params = {"q": q, "status": status, "votes": votes, "hidden": hidden, "lang": lang or ""}

    def link(to: int) -> str:
        kept = {k: v for k, v in {**params, "offset": to}.items() if v not in ("", 0)}
        return "/admin?" + urlencode(kept)

    return _render(
        request,
        "admin_questions.html",
        session,
        filters=filters,
        hidden_value=hidden if hidden in ("0", "1") else "",
        items=[asdict(s) for s in items],
        total=total,
        back=link(offset),
        previous_url=link(max(offset - PAGE_SIZE, 0)) if offset else None,
        next_url=link(offset + PAGE_SIZE) if offset + PAGE_SIZE < total else None,
    )


@router.get("/admin/questions/{question_id}", response_class=HTMLResponse)
def question_page(request: Request, question_id: str, lang: LangQuery = None) -> HTMLResponse:
    """One question as asked, its AI answer and sources, and the curated-answer form."""
    session = _signed_in(request)
    if session is None:
        return _login_page(request)
    editors = _editors(request)
    try:
        record = editors.question(question_id)
    except QuestionNotFoundError:
        return _message(request, session, 404, "not_found")
    answer = record.answer
    curated = record.curated
    cited = curated.sources if curated is not None else answer.sources
    return _render(
        request,
        "admin_question.html",
        session,
        record=record,
        answer_html=render_answer(answer.answer, {s.n for s in answer.sources}),
        public_path=question_path(record.id, mask_personal(answer.question)),
        draft=curated.answer if curated is not None else answer.answer,
        draft_pages="\n".join(s.doc_id for s in sorted(cited, key=lambda s: s.n)),
        stale=editors.stale_sources(curated) if curated is not None else [],
    )


def _editor_action(
    request: Request,
    csrf: str,
    action: Callable[[AdminSession], object],
    redirect: RedirectResponse,
    invalid_status: int = 404,
) -> Response:
    """One form post: session and CSRF check, the action, its error page or the redirect.

    A question or page that does not exist answers 404; other refusals ``invalid_status``.
    """
    session = _form_session(request, csrf)
    if isinstance(session, HTMLResponse):
        return session
    try:
        action(session)
    except QuestionNotFoundError as exc:
        return _failure(request, session, 404, exc)
    except AskwikiError as exc:
        return _failure(request, session, invalid_status, exc)
    return redirect


@router.post("/admin/questions/{question_id}/hidden")
def hide_question(
    request: Request,
    question_id: str,
    csrf: CsrfForm = "",
    hidden: Annotated[str, Form(pattern="^[01]$")] = "1",
    back: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Hide a question from every public list and page, or show it again."""
    # Back to the list the button was on; only to a page of this admin site.
    if back.startswith("/admin") and not back.startswith("//"):
        redirect = RedirectResponse(back, status_code=303)
    else:
        redirect = _back(request, f"/admin/questions/{question_id}")
    return _editor_action(
        request,
        csrf,
        lambda session: _editors(request).hide(question_id, hidden == "1", session.actor),
        redirect,
    )


@router.post("/admin/questions/{question_id}/delete")
def delete_question(request: Request, question_id: str, csrf: CsrfForm = "") -> Response:
    """Delete a question for good, with its repeats, votes and curated answer."""
    return _editor_action(
        request,
        csrf,
        lambda session: _editors(request).delete(question_id, session.actor),
        _back(request, "/admin"),
    )


@router.post("/admin/questions/{question_id}/curated")
def curate(
    request: Request,
    question_id: str,
    csrf: CsrfForm = "",
    answer: Annotated[str, Form(max_length=20_000)] = "",
    pages: Annotated[str, Form(max_length=20_000)] = "",
) -> Response:
    """Write the curated answer; the pages listed are its sources [1], [2]..."""
    editors = _editors(request)
    listed = [line.strip() for line in pages.splitlines() if line.strip()]

    def write(session: AdminSession) -> None:
        record = editors.question(question_id)
        ai_pages = [s.doc_id for s in sorted(record.answer.sources, key=lambda s: s.n)]
        # The AI's own pages unchanged: keep its sources as they are (sections included).
        cited = None if listed == ai_pages else [CitedPage(doc_id) for doc_id in listed]
        editors.curate(question_id, answer, cited, session.actor)

    return _editor_action(
        request, csrf, write, _back(request, f"/admin/questions/{question_id}"), 422
    )


@router.post("/admin/questions/{question_id}/curated/delete")
def uncurate(request: Request, question_id: str, csrf: CsrfForm = "") -> Response:
    """Remove the curated answer: readers get the AI's answers again."""
    return _editor_action(
        request,
        csrf,
        lambda session: _editors(request).uncurate(question_id, session.actor),
        _back(request, f"/admin/questions/{question_id}"),
    )


# -- gaps, audit ---------------------------------------------------------------------------


@router.get("/admin/gaps", response_class=HTMLResponse)
def gaps_page(request: Request, lang: LangQuery = None) -> HTMLResponse:
    """Knowledge gaps as asked, each example linking to its curated-answer form."""
    session = _signed_in(request)
    if session is None:
        return _login_page(request)
    gaps = [asdict(g) for g in find_gaps(_editors(request).store)]
    return _render(request, "admin_gaps.html", session, gaps=gaps)


@router.get("/admin/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    offset: OffsetQuery = 0,
    lang: LangQuery = None,
) -> HTMLResponse:
    """Every editor action, newest first."""
    session = _signed_in(request)
    if session is None:
        return _login_page(request)
    entries = _editors(request).audit(PAGE_SIZE + 1, offset)
    suffix = f"&lang={lang}" if lang else ""
    return _render(
        request,
        "admin_audit.html",
        session,
        entries=entries[:PAGE_SIZE],
        previous_url=f"/admin/audit?offset={max(offset - PAGE_SIZE, 0)}{suffix}"
        if offset
        else None,
        next_url=f"/admin/audit?offset={offset + PAGE_SIZE}{suffix}"
        if len(entries) > PAGE_SIZE
        else None,
    )


# -- documents and jobs --------------------------------------------------------------------


@router.get("/admin/documents", response_class=HTMLResponse)
def documents_page(request: Request, lang: LangQuery = None) -> HTMLResponse:
    """The served index's documents, recent jobs, upload, sync and re-index."""
    session = _signed_in(request)
    if session is None:
        return _login_page(request)
    live = request.app.state.live_index
    state: admin_api.AdminState = request.app.state.admin
    documents = None
    version = None
    if live.loaded:
        index = live.retriever().index
        documents = list(index.docstore.documents().values())
        version = index.version
    jobs = [job.to_dict() for job in state.runner.recent(JOBS_SHOWN)]
    return _render(
        request,
        "admin_documents.html",
        session,
        documents=documents,
        index_version=version,
        jobs=jobs,
    )


@router.post("/admin/documents")
async def upload(
    request: Request, settings: SettingsDep, csrf: Annotated[str, Query()] = ""
) -> Response:
    """The upload form: the files go to the admin API's upload, as one ingest job.

    The CSRF token is in the query string: the body is streamed to disk as it arrives.
    """
    session = _form_session(request, csrf)
    if isinstance(session, HTMLResponse):
        return session
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        return _failure(request, session, 415, ValueError("Send the files as multipart/form-data"))
    state: admin_api.AdminState = request.app.state.admin
    try:
        await admin_api._submit_files(request, state, settings, content_type, new_job_id())
    except AskwikiError as exc:
        return _failure(request, session, 422, exc)
    return _back(request, "/admin/documents")


@router.post("/admin/documents/delete")
def delete_document(
    request: Request,
    csrf: CsrfForm = "",
    doc_id: Annotated[str, Form(min_length=1, max_length=1024)] = "",
) -> Response:
    """Remove a document from the index, as a job."""
    state: admin_api.AdminState = request.app.state.admin
    return _editor_action(
        request,
        csrf,
        lambda _: admin_api.delete_document(
            doc_id, Response(), state, request.app.state.live_index
        ),
        _back(request, "/admin/documents"),
    )


@router.post("/admin/sync")
def sync(request: Request, csrf: CsrfForm = "") -> Response:
    """Pull the wiki sources' changes now, as a job."""
    return _editor_action(
        request,
        csrf,
        lambda _: admin_api.sync(request, Response(), request.app.state.admin, None),
        _back(request, "/admin/documents"),
    )


@router.post("/admin/reindex")
def reindex(request: Request, csrf: CsrfForm = "") -> Response:
    """Rebuild the index from the uploads folder, as a job."""
    return _editor_action(
        request,
        csrf,
        lambda _: admin_api.reindex(Response(), request.app.state.admin, None),
        _back(request, "/admin/documents"),
    )
