"""What editors do to the question log: hide, delete, curate, and the audit of it.

``Editors`` is the service the admin API and the admin page share; every action names its
actor (the admin token's name) and the store records it in the audit log. The functions
below it are what public paths use: ``visible_record`` refuses hidden questions and
``shown_answer`` puts a question's curated answer in place of the AI's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

from askwiki.answering.types import Answer, Source
from askwiki.errors import CurationError, QuestionHiddenError
from askwiki.live_index import LiveIndex
from askwiki.questions.store import (
    AuditEntry,
    CuratedAnswer,
    QuestionFilter,
    QuestionRecord,
    QuestionStore,
    QuestionSummary,
)
from askwiki.store.docstore import Docstore

logger = logging.getLogger(__name__)

EXCERPT_CHARS = 300
CURATED_MODEL = "editor"


@dataclass(frozen=True)
class CitedPage:
    """A page an editor cites: a document, and optionally one of its chunks (a section)."""

    doc_id: str
    chunk_id: str | None = None


def served_docstore(live_index: LiveIndex) -> Docstore | None:
    """The pages of the index being served, to check curated sources against; None before
    a first index is loaded."""
    return live_index.retriever().index.docstore if live_index.loaded else None


def visible_record(store: QuestionStore, question_id: str) -> QuestionRecord:
    """The stored question for a public page or API; ``QuestionHiddenError`` if hidden."""
    record = store.get(question_id)
    if record.hidden:
        raise QuestionHiddenError(f"Question {question_id!r} was removed by an editor")
    return record


def stale_sources(curated: CuratedAnswer, docstore: Docstore | None) -> list[Source]:
    """The curated answer's sources whose page the served index no longer holds."""
    if docstore is None:
        return []
    return [s for s in curated.sources if docstore.document(s.doc_id) is None]


def checked_sources(curated: CuratedAnswer, docstore: Docstore | None) -> list[Source]:
    """The sources to show readers: the stale ones dropped, with a warning for editors."""
    stale = stale_sources(curated, docstore)
    if stale:
        logger.warning(
            "Curated answer of %s cites page(s) no longer in the index: %s; editors should "
            "update it",
            curated.question_id,
            ", ".join(sorted({s.doc_id for s in stale})),
        )
    gone = {s.n for s in stale}
    return [replace(s, chunk_ids=list(s.chunk_ids)) for s in curated.sources if s.n not in gone]


def shown_answer(record: QuestionRecord, docstore: Docstore | None) -> Answer:
    """The answer readers see on a question's page: the curated one if an editor wrote it."""
    curated = record.curated
    if curated is None:
        return record.answer
    return replace(
        record.answer,
        answer=curated.answer,
        sources=checked_sources(curated, docstore),
        status="answered",
        curated=True,
        reviewed_by=curated.reviewed_by,
        closest=[],
    )


class Editors:
    """The editors' actions on the question log, checked against the served index."""

    def __init__(self, store: QuestionStore, live_index: LiveIndex) -> None:
        self.store = store
        self.live_index = live_index

    def questions(
        self, filters: QuestionFilter, limit: int, offset: int
    ) -> tuple[list[QuestionSummary], int]:
        """Questions as editors see them (hidden ones included), filtered, and the total."""
        return self.store.browse(filters, limit, offset)

    def question(self, question_id: str) -> QuestionRecord:
        """One stored question, hidden or not, with its AI answer and curated answer."""
        return self.store.get(question_id)

    def hide(self, question_id: str, hidden: bool, actor: str) -> None:
        self.store.set_hidden(question_id, hidden, actor)

    def delete(self, question_id: str, actor: str) -> int:
        """Delete a question for good; returns how many stored asks went with it."""
        return self.store.delete_question(question_id, actor)

    def curate(
        self,
        question_id: str,
        answer: str,
        pages: Sequence[CitedPage] | None,
        actor: str,
    ) -> CuratedAnswer:
        """Write a question's curated answer. ``pages`` None keeps the AI answer's sources
        (the editor corrected its text); otherwise the pages cited as [1], [2]... in order."""
        if not answer.strip():
            raise CurationError("A curated answer needs text; write the answer readers should get")
        record = self.store.get(question_id)
        if pages is None:
            sources = [replace(s, chunk_ids=list(s.chunk_ids)) for s in record.answer.sources]
        else:
            sources = [self._cite(n, page) for n, page in enumerate(pages, start=1)]
        return self.store.put_curated(question_id, answer.strip(), sources, actor)

    def _cite(self, n: int, page: CitedPage) -> Source:
        docstore = served_docstore(self.live_index)
        if docstore is None:
            raise CurationError("No index is loaded, so no page can be cited; ingest one first")
        document = docstore.document(page.doc_id)
        if document is None:
            raise CurationError(
                f"Source {n}: no page {page.doc_id!r} in the served index; "
                "use a doc_id from GET /api/admin/documents"
            )
        chunks = [c.chunk for c in docstore.chunks_of(page.doc_id)]
        if page.chunk_id is not None:
            chunks = [c for c in chunks if c.chunk_id == page.chunk_id]
            if not chunks:
                raise CurationError(
                    f"Source {n}: page {page.doc_id!r} has no chunk {page.chunk_id!r}"
                )
        first = chunks[0] if chunks else None
        return Source(
            n=n,
            id=first.chunk_id if first else page.doc_id,
            doc_id=page.doc_id,
            title=document.title,
            section=first.section if first else document.title,
            url=(first.url if first else None) or document.url,
            excerpt=first.text[:EXCERPT_CHARS] if first else "",
            score=1.0,
            cited=True,
            page=first.page if first else None,
            chunk_ids=[first.chunk_id] if first else [],
        )

    def uncurate(self, question_id: str, actor: str) -> None:
        self.store.remove_curated(question_id, actor)

    def stale_sources(self, curated: CuratedAnswer) -> list[Source]:
        """The curated answer's sources the served index no longer holds (to fix them)."""
        return stale_sources(curated, served_docstore(self.live_index))

    def sign_out(self, session_id: str, expires: int) -> None:
        """End an admin page session everywhere, not only in the browser that signs out."""
        self.store.revoke_session(session_id, expires, int(time.time()))

    def signed_out(self, session_id: str) -> bool:
        return self.store.session_revoked(session_id)

    def audit(self, limit: int, offset: int) -> list[AuditEntry]:
        return self.store.audit_log(limit, offset)
