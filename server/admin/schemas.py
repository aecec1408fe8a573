"""Request and response models of the admin API (they become its OpenAPI schema)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from askwiki.server.admin.jobs import JobKind, JobStatus
from askwiki.server.render import safe_url
from askwiki.server.schemas import QuestionSummaryOut, SourceOut, StoredAnswerOut

_CONTROL = {chr(c) for c in range(32)} - {"\t"}


class PageIn(BaseModel):
    """One wiki page posted as JSON; ``text`` may hold Markdown headings."""

    id: str | None = Field(None, max_length=512, description="Document id (default: the title).")
    title: str | None = Field(None, max_length=512)
    url: str | None = Field(None, max_length=2048, description="http(s) or relative link.")
    text: str = Field(min_length=1, description="The page body (Markdown).")

    @field_validator("id", "title")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        if value is not None and any(char in _CONTROL for char in value):
            raise ValueError("must be one line without control characters")
        return value

    @field_validator("url")
    @classmethod
    def _safe_link(cls, value: str | None) -> str | None:
        if value is not None and value.strip() and safe_url(value) is None:
            raise ValueError("must be an http(s), mailto or relative link")
        return value

    @model_validator(mode="after")
    def _named_with_text(self) -> PageIn:
        if not (self.id or "").strip() and not (self.title or "").strip():
            raise ValueError('a page needs an "id" or a "title"')
        if not self.text.strip():
            raise ValueError('"text" is empty')
        return self

    @property
    def doc_id(self) -> str:
        """The id the JSONL loader gives this page."""
        return (self.id or "").strip() or (self.title or "").strip()


class ReindexIn(BaseModel):
    rebuild: bool = Field(
        True,
        description="Build a fresh index from the uploads folder (documents ingested "
        "from elsewhere by the CLI are dropped); false: update in place and keep them.",
    )


class SyncIn(BaseModel):
    full: bool = Field(
        False, description="List every page of each source again instead of reading changes."
    )
    sources: list[str] | None = Field(
        None, description="Names of configured sources to sync (default: all of this index)."
    )


class RejectedFile(BaseModel):
    file: str = Field(description="The file name as sent.")
    reason: str


class JobAccepted(BaseModel):
    job_id: str
    kind: JobKind
    status: str
    url: str = Field(description="Poll this for the job's status and report.")
    accepted: list[str] = Field(default_factory=list, description="Files queued for ingestion.")
    rejected: list[RejectedFile] = Field(
        default_factory=list, description="Files refused on arrival, with the reason."
    )


class JobOut(BaseModel):
    id: str
    kind: str
    status: JobStatus
    created_at: str
    started_at: str | None = None
    finished_at: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)
    report: dict[str, Any] | None = Field(
        None,
        description="Ingest report: version, counts, new/changed/deleted ids and 'skipped' "
        "files with their reasons.",
    )
    error: str | None = Field(None, description="Why a failed job failed.")


class JobListOut(BaseModel):
    items: list[JobOut]


class DocumentOut(BaseModel):
    doc_id: str
    title: str
    url: str | None
    format: str
    chunks: int
    content_hash: str
    ingested_at: str
    uploaded: bool = Field(description="Whether the file lives in the admin uploads folder.")


class DocumentListOut(BaseModel):
    index_version: str
    total: int
    limit: int
    offset: int
    items: list[DocumentOut]


# -- editors: questions, curated answers, audit ------------------------------------------


class AdminQuestionOut(QuestionSummaryOut):
    """A question as editors list it: hidden ones too, with votes and the curated mark."""

    hidden: bool
    up: int = Field(description="Thumbs-up on its answer (repeats of it included).")
    down: int
    curated: bool = Field(description="An editor wrote or approved its answer.")


class AdminQuestionListOut(BaseModel):
    total: int = Field(description="Distinct questions matching the filters.")
    limit: int
    offset: int
    items: list[AdminQuestionOut]


class CuratedOut(BaseModel):
    """A question's curated answer, as served to readers (minus stale sources)."""

    question_id: str
    question: str
    answer: str = Field(description="Markdown; [n] markers cite `sources` by number.")
    sources: list[SourceOut]
    reviewed_by: str = Field(description="The admin token's name that wrote it last.")
    created_at: str
    updated_at: str
    stale_sources: list[SourceOut] = Field(
        description="Cited pages the served index no longer holds: readers do not see "
        "them; update the answer."
    )


class AdminQuestionDetailOut(BaseModel):
    """One stored question for an editor: the AI's answer, and the curated one if any."""

    question: StoredAnswerOut = Field(description="The stored ask and the AI's answer.")
    hidden: bool
    curated: CuratedOut | None


class QuestionPatchIn(BaseModel):
    """What an editor changes on a question."""

    model_config = ConfigDict(extra="forbid")

    hidden: bool = Field(
        description="true: out of every public list and page (its page answers 410) and "
        "never served from the cache again; false: shown again."
    )


class CitedPageIn(BaseModel):
    """A page a curated answer cites, as [1], [2]... in the order given."""

    model_config = ConfigDict(extra="forbid")

    doc_id: str = Field(min_length=1, max_length=512, description="From GET /api/admin/documents.")
    chunk_id: str | None = Field(
        None, max_length=600, description="One passage of the page (default: its first)."
    )


class CuratedIn(BaseModel):
    """An editor's answer to a question."""

    model_config = ConfigDict(extra="forbid")

    answer: str = Field(min_length=1, max_length=20_000, description="Markdown, citing [n].")
    sources: list[CitedPageIn] | None = Field(
        None,
        max_length=20,
        description="Pages cited as [1], [2]... in order; omitted: keep the AI answer's "
        "sources (an editor correcting its text).",
    )

    @field_validator("answer")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value


class QuestionDeletedOut(BaseModel):
    id: str
    deleted: int = Field(
        description="Stored asks deleted: every ask of the same text and "
        "every repeat of their answer."
    )


class AuditEntryOut(BaseModel):
    at: str = Field(description="When (ISO 8601, UTC).")
    actor: str = Field(
        description="The admin token's name ('admin token' for ASKWIKI_ADMIN_TOKEN)."
    )
    action: Literal["hide", "unhide", "delete", "curate", "uncurate"]
    target: str = Field(description="The question id.")
    detail: str


class AuditOut(BaseModel):
    limit: int
    offset: int
    entries: list[AuditEntryOut]
