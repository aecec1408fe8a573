"""What readers see of other readers' questions: the stored records with personal data masked.

The question log keeps every question and answer as asked and given (editors see them);
every public page, list and API goes through these functions (``askwiki.privacy``).
"""

from __future__ import annotations

from dataclasses import replace

from askwiki.privacy import mask_personal, mask_snippet
from askwiki.questions.gaps import Gap
from askwiki.questions.store import QuestionRecord, QuestionSummary


def public_summary(summary: QuestionSummary) -> QuestionSummary:
    """A list entry with its question and answer snippet masked."""
    return replace(
        summary,
        question=mask_personal(summary.question),
        answer_snippet=mask_snippet(summary.answer_snippet),
    )


def public_record(record: QuestionRecord) -> QuestionRecord:
    """A copy of a stored answer with the question, answer and error masked."""
    answer = record.answer
    masked = replace(
        answer,
        question=mask_personal(answer.question),
        answer=mask_personal(answer.answer),
        standalone_question=(
            mask_personal(answer.standalone_question) if answer.standalone_question else None
        ),
        related=list(answer.related),
    )
    return replace(record, answer=masked, error=mask_personal(record.error or "") or None)


def public_gap(gap: Gap) -> Gap:
    """A knowledge gap with its label and examples masked."""
    return replace(
        gap,
        question=mask_personal(gap.question),
        examples=[public_summary(s) for s in gap.examples],
    )
