"""The editors' admin API: moderate questions, curate answers, read the audit log.

Every route needs an admin token; each change is recorded under the token's name
(``ASKWIKI_ADMIN_TOKENS``, or "admin token"). The admin page calls the same
``askwiki.questions.editors.Editors`` service.
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response
from fastapi.responses import PlainTextResponse

from askwiki.answering.types import Status
from askwiki.questions import QuestionSummary, find_gaps
from askwiki.questions.editors import CitedPage
from askwiki.questions.store import CuratedAnswer, QuestionFilter
from askwiki.server.admin.routes import ERRORS, ActorDep
from askwiki.server.admin.schemas import (
    AdminQuestionDetailOut,
    AdminQuestionListOut,
    AdminQuestionOut,
    AuditEntryOut,
    AuditOut,
    CuratedIn,
    CuratedOut,
    QuestionDeletedOut,
    QuestionPatchIn,
)
from askwiki.server.deps import AnswersDep, EditorsDep, OffsetQuery
from askwiki.server.routes.questions import curate_url, stored_answer_json, summary_out
from askwiki.server.schemas import ErrorOut, SourceOut, StoredAnswerOut

router = APIRouter(tags=["admin"], responses=ERRORS)

QUESTION_ID = Annotated[str, Path(max_length=64, description="A stored question's id.")]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "No stored question with this id"},
}
INVALID: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorOut, "description": "Invalid body, or a cited page the index lacks"},
}
CSV_COLUMNS = (
    "question",
    "question_id",
    "count",
    "no_answer",
    "downvoted",
    "last_asked",
    "nearest_page",
    "nearest_url",
    "curate_url",
    "examples",
)


def _admin_summary(summary: QuestionSummary, answers: AnswersDep) -> AdminQuestionOut:
    return AdminQuestionOut(
        **summary_out(summary, answers, public=False).model_dump(),
        hidden=summary.hidden,
        up=summary.up,
        down=summary.down,
        curated=summary.curated,
    )


def _curated_out(curated: CuratedAnswer, editors: EditorsDep) -> CuratedOut:
    stale = editors.stale_sources(curated)
    return CuratedOut(
        question_id=curated.question_id,
        question=curated.question,
        answer=curated.answer,
        sources=[SourceOut.model_validate(asdict(s)) for s in curated.sources],
        reviewed_by=curated.reviewed_by,
        created_at=curated.created_at,
        updated_at=curated.updated_at,
        stale_sources=[SourceOut.model_validate(asdict(s)) for s in stale],
    )


def _detail(question_id: str, editors: EditorsDep, answers: AnswersDep) -> AdminQuestionDetailOut:
    record = editors.question(question_id)
    stored = stored_answer_json(record, answers, record.answer, public=False)
    return AdminQuestionDetailOut(
        question=StoredAnswerOut.model_validate(stored),
        hidden=record.hidden,
        curated=_curated_out(record.curated, editors) if record.curated else None,
    )


@router.get("/api/admin/questions", response_model=AdminQuestionListOut)
def list_questions(
    _actor: ActorDep,
    editors: EditorsDep,
    answers: AnswersDep,
    q: Annotated[str, Query(max_length=200, description="Text to look for.")] = "",
    status: Annotated[Status | None, Query(description="Only this answer status.")] = None,
    hidden: Annotated[bool | None, Query(description="Only hidden (true) or shown.")] = None,
    curated: Annotated[bool | None, Query(description="Only with a curated answer.")] = None,
    votes: Annotated[
        Literal["up", "down", "any"] | None,
        Query(description="'down': more thumbs-down than up; 'up': the reverse; 'any': voted."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: OffsetQuery = 0,
) -> AdminQuestionListOut:
    """Stored questions (one entry per distinct text), hidden ones included, newest first.
    Without `status`, failed asks are left out."""
    filters = QuestionFilter(query=q, status=status, hidden=hidden, curated=curated, votes=votes)
    items, total = editors.questions(filters, limit, offset)
    return AdminQuestionListOut(
        total=total,
        limit=limit,
        offset=offset,
        items=[_admin_summary(item, answers) for item in items],
    )


@router.get(
    "/api/admin/questions/{question_id}",
    response_model=AdminQuestionDetailOut,
    responses=NOT_FOUND,
)
def get_question(
    question_id: QUESTION_ID, _actor: ActorDep, editors: EditorsDep, answers: AnswersDep
) -> AdminQuestionDetailOut:
    """One stored question, hidden or not: the AI's answer and sources (a start for a
    curated answer), and its curated answer with any `stale_sources`."""
    return _detail(question_id, editors, answers)


@router.patch(
    "/api/admin/questions/{question_id}",
    response_model=AdminQuestionDetailOut,
    responses={**NOT_FOUND, **INVALID},
)
def patch_question(
    question_id: QUESTION_ID,
    body: QuestionPatchIn,
    actor: ActorDep,
    editors: EditorsDep,
    answers: AnswersDep,
) -> AdminQuestionDetailOut:
    """Hide a question (`{"hidden": true}`) or show it again. Acts on every ask of the same
    text: hidden, it leaves every public list, its page answers 410 and its answer is never
    served from the cache again (nor its curated answer)."""
    editors.hide(question_id, body.hidden, actor)
    return _detail(question_id, editors, answers)


@router.delete(
    "/api/admin/questions/{question_id}",
    response_model=QuestionDeletedOut,
    responses=NOT_FOUND,
)
def delete_question(
    question_id: QUESTION_ID, actor: ActorDep, editors: EditorsDep
) -> QuestionDeletedOut:
    """Delete a question for good: every ask of the same text, every repeat of its answer,
    their sources, votes and curated answer. The audit log keeps only the id."""
    return QuestionDeletedOut(id=question_id, deleted=editors.delete(question_id, actor))


@router.put(
    "/api/admin/questions/{question_id}/curated",
    response_model=CuratedOut,
    responses={**NOT_FOUND, **INVALID},
)
def put_curated(
    question_id: QUESTION_ID, body: CuratedIn, actor: ActorDep, editors: EditorsDep
) -> CuratedOut:
    """Write (or replace) the curated answer: served, marked "reviewed by an editor", to
    this question and to every ask meaning the same (the answer cache's test) on any index
    version; follow-ups still go through retrieval. `sources` omitted keeps the AI answer's."""
    pages = None
    if body.sources is not None:
        pages = [CitedPage(page.doc_id, page.chunk_id) for page in body.sources]
    return _curated_out(editors.curate(question_id, body.answer, pages, actor), editors)


@router.delete(
    "/api/admin/questions/{question_id}/curated",
    status_code=204,
    response_class=Response,
    responses={404: {"model": ErrorOut, "description": "No such question, or no curated answer"}},
)
def delete_curated(question_id: QUESTION_ID, actor: ActorDep, editors: EditorsDep) -> Response:
    """Remove the curated answer; readers get the AI's answers again."""
    editors.uncurate(question_id, actor)
    return Response(status_code=204)


@router.get("/api/admin/audit", response_model=AuditOut)
def audit(
    _actor: ActorDep,
    editors: EditorsDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: OffsetQuery = 0,
) -> AuditOut:
    """Every editor action, newest first: who (the token's name), what, on which question."""
    entries = editors.audit(limit, offset)
    return AuditOut(
        limit=limit,
        offset=offset,
        entries=[AuditEntryOut.model_validate(asdict(e)) for e in entries],
    )


@router.get(
    "/api/admin/gaps.csv",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/csv": {}}}},
)
def gaps_csv(
    _actor: ActorDep,
    editors: EditorsDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> PlainTextResponse:
    """The knowledge gaps as CSV (UTF-8 with BOM, for spreadsheets), biggest first."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for gap in find_gaps(editors.store, limit=limit):
        writer.writerow(
            [
                _cell(gap.question),
                gap.question_id,
                gap.count,
                gap.no_answer,
                gap.downvoted,
                gap.last_asked,
                _cell(gap.nearest.title) if gap.nearest else "",
                gap.nearest.url or "" if gap.nearest else "",
                curate_url(gap.question_id),
                _cell(" | ".join(s.question for s in gap.examples)),
            ]
        )
    return PlainTextResponse(
        "\ufeff" + out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="askwiki-gaps.csv"'},
    )


def _cell(text: str) -> str:
    """Readers' text in a spreadsheet cell: a leading = + - @ would run as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
