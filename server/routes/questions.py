"""The question log over HTTP: past questions, stored answers, feedback and knowledge gaps.

Other readers' questions and answers are masked (``askwiki.questions.public``); with
``ASKWIKI_PUBLIC_QUESTIONS=false`` the list and the stored answers answer 404.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from askwiki.answering.types import Answer
from askwiki.errors import QuestionNotFoundError
from askwiki.privacy import mask_personal
from askwiki.questions import Gap, QuestionRecord, QuestionSummary, find_gaps
from askwiki.questions.editors import visible_record
from askwiki.questions.gaps import GAP_SIMILARITY
from askwiki.questions.public import public_gap, public_record, public_summary
from askwiki.server.admin.routes import require_gaps_access
from askwiki.server.deps import AnswersDep, OffsetQuery, QuestionsDep, SettingsDep
from askwiki.server.routes.ask import answer_json
from askwiki.server.schemas import (
    ErrorOut,
    FeedbackIn,
    GapOut,
    GapsOut,
    NearestPageOut,
    QuestionListOut,
    QuestionSummaryOut,
    StoredAnswerOut,
    VotesOut,
)
from askwiki.settings import Settings

logger = logging.getLogger(__name__)
router = APIRouter(tags=["questions"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "No stored question with this id"},
    410: {"model": ErrorOut, "description": "An editor removed this question"},
}
GAP_ACCESS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "ASKWIKI_PUBLIC_GAPS is false: admin token needed"},
    403: {"model": ErrorOut, "description": "Gaps not public and the admin API disabled"},
}


def summary_out(
    summary: QuestionSummary, answers: AnswersDep, *, public: bool = True
) -> QuestionSummaryOut:
    """A list entry; ``public`` masks personal data (the page URL's slug always is)."""
    shown = public_summary(summary) if public else summary
    return QuestionSummaryOut(
        id=shown.id,
        question=shown.question,
        asked_at=shown.asked_at,
        answer_snippet=shown.answer_snippet,
        status=shown.status,
        language=shown.language,
        asks=shown.asks,
        url=answers.url(shown.id, mask_personal(shown.question)),
    )


def stored_answer_json(
    record: QuestionRecord,
    answers: AnswersDep,
    answer: Answer | None = None,
    *,
    public: bool = True,
) -> dict[str, object]:
    """A stored answer: the ``/api/ask`` object plus what only the log knows.

    ``answer`` is the answer to show (default: what readers see, the curated one if any);
    ``public`` masks personal data (editors get the record as stored).
    """
    if public:
        record = public_record(record)
    shown = answer if answer is not None else answers.shown(record)
    shown.related = answers.related_to(record)
    extra = {
        "asked_at": record.asked_at,
        "url": answers.url(record.id, mask_personal(record.answer.question)),
        "error": record.error,
        "up": record.up,
        "down": record.down,
    }
    return StoredAnswerOut.model_validate({**answer_json(shown), **extra}).model_dump(mode="json")


def _check_public(settings: Settings) -> None:
    if not settings.public_questions:
        raise QuestionNotFoundError(
            "Stored questions are not public here (ASKWIKI_PUBLIC_QUESTIONS=false)"
        )


@router.get("/api/questions", response_model=QuestionListOut, responses=NOT_FOUND)
def list_questions(
    answers: AnswersDep,
    store: QuestionsDep,
    settings: SettingsDep,
    q: Annotated[str, Query(max_length=200, description="Text to look for.")] = "",
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    # Bounded: SQLite integers are 64-bit, a larger offset was a 500 (found by fuzzing).
    offset: OffsetQuery = 0,
) -> QuestionListOut:
    """Past questions (one entry per distinct question), newest first; `q` searches them.

    Personal data (e-mail addresses, phone numbers, ID numbers) is masked; 404 when
    stored questions are not public (`ASKWIKI_PUBLIC_QUESTIONS=false`)."""
    _check_public(settings)
    items, total = store.search(q, limit, offset)
    return QuestionListOut(
        total=total,
        limit=limit,
        offset=offset,
        items=[summary_out(item, answers) for item in items],
    )


@router.get("/api/questions/{question_id}", response_model=StoredAnswerOut, responses=NOT_FOUND)
def get_question(
    question_id: str, answers: AnswersDep, store: QuestionsDep, settings: SettingsDep
) -> object:
    """A stored answer with its sources, votes, page URL and related questions; an editor's
    curated answer replaces the AI's (``curated``: true). 410 once an editor hid it.
    Personal data is masked; 404 when `ASKWIKI_PUBLIC_QUESTIONS=false`."""
    _check_public(settings)
    return stored_answer_json(visible_record(store, question_id), answers)


@router.post("/api/questions/{question_id}/feedback", response_model=VotesOut, responses=NOT_FOUND)
def add_feedback(question_id: str, feedback: FeedbackIn, store: QuestionsDep) -> VotesOut:
    """Vote an answer up or down, with an optional comment; returns the new totals."""
    comment = (feedback.comment or "").strip() or None
    visible_record(store, question_id)
    votes = store.add_feedback(question_id, feedback.vote, comment)
    logger.info("Feedback %s on %s", feedback.vote, question_id)
    return VotesOut(id=question_id, up=votes.up, down=votes.down)


def gap_out(gap: Gap, answers: AnswersDep) -> GapOut:
    return GapOut(
        question=gap.question,
        question_id=gap.question_id,
        count=gap.count,
        no_answer=gap.no_answer,
        downvoted=gap.downvoted,
        last_asked=gap.last_asked,
        examples=[summary_out(s, answers) for s in gap.examples],
        nearest_page=NearestPageOut(**asdict(gap.nearest)) if gap.nearest else None,
        curate_url=curate_url(gap.question_id),
    )


def curate_url(question_id: str) -> str:
    """Where an editor writes the curated answer of a question (the admin API's PUT)."""
    return f"/api/admin/questions/{question_id}/curated"


@router.get(
    "/api/gaps",
    response_model=GapsOut,
    responses=GAP_ACCESS,
    dependencies=[Depends(require_gaps_access)],
)
def gaps(
    answers: AnswersDep,
    store: QuestionsDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    min_similarity: Annotated[float, Query(ge=0, le=1)] = GAP_SIMILARITY,
) -> GapsOut:
    """Knowledge gaps: questions the wiki could not answer (no relevant page, or voted
    down), grouped by similarity, biggest groups first: what editors should write next.
    Needs the admin token unless ASKWIKI_PUBLIC_GAPS is true; CSV: /api/admin/gaps.csv.
    Personal data in the questions is masked."""
    found = [public_gap(g) for g in find_gaps(store, min_similarity=min_similarity, limit=limit)]
    return GapsOut(gaps=[gap_out(gap, answers) for gap in found])
