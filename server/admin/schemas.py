"""Request and response models of the admin API (they become its OpenAPI schema)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, field_validator, model_validator

from askwiki.server.admin.jobs import JobKind, JobStatus
from askwiki.server.render import safe_url

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
