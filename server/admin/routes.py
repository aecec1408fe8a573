"""The admin API: upload, delete and list documents, re-index, follow jobs. Token required.

With ``ASKWIKI_ADMIN_TOKEN`` unset every admin route answers 403 ``admin_disabled``: the
API is off, never open. Changes run as background jobs through the ingestion pipeline
(one at a time); the query service keeps answering from the version it has until the
job publishes a new one, which is then swapped in at once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import ValidationError

from askwiki.database import open_engine, upgrade
from askwiki.embedding.embedder import Embedder
from askwiki.errors import (
    AdminAuthError,
    AdminDisabledError,
    DocumentNotFoundError,
    UploadRejectedError,
)
from askwiki.live_index import LiveIndex
from askwiki.server.admin.jobs import Job, JobRunner, new_job_id
from askwiki.server.admin.multipart import MultipartSpooler
from askwiki.server.admin.operations import AdminOperations
from askwiki.server.admin.queue import DatabaseJobRunner
from askwiki.server.admin.schemas import (
    DocumentListOut,
    DocumentOut,
    JobAccepted,
    JobListOut,
    JobOut,
    PageIn,
    ReindexIn,
    RejectedFile,
    SyncIn,
)
from askwiki.server.admin.uploads import UploadFolders, page_file_name, write_page_file
from askwiki.server.deps import LiveIndexDep, OffsetQuery, SettingsDep
from askwiki.server.schemas import ErrorOut
from askwiki.server.sync import SyncService
from askwiki.settings import Settings

logger = logging.getLogger(__name__)

MAX_FILES_PER_UPLOAD = 1000
MIN_TOKEN_CHARS = 24
JOB_ID = Annotated[str, Path(pattern="^[0-9a-f]{16}$", description="Id from a 202 answer.")]
_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <ASKWIKI_ADMIN_TOKEN>")


@dataclass
class AdminState:
    """What the admin routes share: the job runner and the operations it runs."""

    runner: JobRunner | DatabaseJobRunner
    operations: AdminOperations
    folders: UploadFolders


def start_admin(
    settings: Settings, embedder: Embedder, live: LiveIndex, sync: SyncService | None = None
) -> AdminState | None:
    """Start the job worker when the admin API is enabled (called by the app's lifespan)."""
    if not settings.admin_enabled:
        logger.info("Admin API disabled (ASKWIKI_ADMIN_TOKEN and ASKWIKI_ADMIN_TOKENS are unset)")
        return None
    for name, token in settings.named_admin_tokens().items():
        if len(token) < MIN_TOKEN_CHARS:
            logger.warning(
                "The admin token %r is shorter than %d characters; use a long random secret "
                "(python -c 'import secrets; print(secrets.token_urlsafe(32))')",
                name,
                MIN_TOKEN_CHARS,
            )
    folders = UploadFolders.of(settings)
    folders.clear_stale_spool()

    operations = AdminOperations(settings, embedder, folders)
    runner: JobRunner | DatabaseJobRunner
    if settings.database_url:
        # Several replicas: a queue in the shared database, each job run exactly once.
        engine = open_engine(settings.database_url)
        upgrade(engine)

        def dispatch(job: Job) -> dict[str, Any]:
            if job.kind == "sync" and sync is not None:
                return sync.run(bool(job.detail.get("full")), job.detail.get("sources"))
            return operations.run(job)

        runner = DatabaseJobRunner(engine, settings.index, dispatch, after_each=live.refresh)
    else:
        # Serve the new version now, not at the next poll.
        runner = JobRunner(settings.data_dir / "jobs" / settings.index, after_each=live.refresh)
    return AdminState(runner, operations, folders)


def stop_admin(state: AdminState | None) -> None:
    if state is not None:
        state.runner.close()


def admin_actor(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """The name of the admin token the request carries (for the audit log); refuses others."""
    settings: Settings = request.app.state.settings
    state: AdminState | None = getattr(request.app.state, "admin", None)
    if not settings.admin_enabled or state is None:
        raise AdminDisabledError(
            "The admin API is disabled; set ASKWIKI_ADMIN_TOKEN to a long random secret "
            "and restart to enable it"
        )
    actor = settings.admin_actor(credentials.credentials if credentials else "")
    if actor is None:
        raise AdminAuthError("Missing or wrong admin token; send 'Authorization: Bearer <token>'")
    return actor


def require_admin(request: Request, _actor: Annotated[str, Depends(admin_actor)]) -> AdminState:
    """The admin state, if the request carries an admin token (checked in constant time)."""
    state: AdminState = request.app.state.admin
    return state


def require_gaps_access(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Knowledge gaps list what readers asked: editors only, unless ASKWIKI_PUBLIC_GAPS."""
    settings: Settings = request.app.state.settings
    if not settings.public_gaps:
        admin_actor(request, credentials)


AdminDep = Annotated[AdminState, Depends(require_admin)]
ActorDep = Annotated[str, Depends(admin_actor)]
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "No or wrong bearer token"},
    403: {"model": ErrorOut, "description": "Admin API disabled (ASKWIKI_ADMIN_TOKEN unset)"},
}
router = APIRouter(tags=["admin"], responses=ERRORS)

UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "files": {"type": "array", "items": {"type": "string", "format": "binary"}}
                    },
                    "required": ["files"],
                }
            },
            "application/json": {"schema": PageIn.model_json_schema()},
        },
    }
}


def _accepted(job: Job, **extra: Any) -> JobAccepted:
    return JobAccepted(
        job_id=job.id,
        kind=job.kind,
        status=job.status,
        url=f"/api/admin/jobs/{job.id}",
        **extra,
    )


@router.post(
    "/api/admin/documents",
    status_code=202,
    response_model=JobAccepted,
    openapi_extra=UPLOAD_BODY,
    responses={
        413: {"model": ErrorOut, "description": "Upload over ASKWIKI_MAX_UPLOAD_MB"},
        422: {"model": ErrorOut, "description": "No file accepted, or an invalid page"},
    },
)
async def upload_documents(
    request: Request, response: Response, admin: AdminDep, settings: SettingsDep
) -> JobAccepted:
    """Add or replace documents: files as `multipart/form-data` (field `files`, any number;
    the formats of `askwiki ingest`; up to ASKWIKI_MAX_UPLOAD_MB in all), or one page as
    JSON `{"id", "title", "url", "text"}` (up to ASKWIKI_MAX_BODY_KB).

    Files are streamed to disk and checked on arrival (safe name, supported type, content
    matching the name, ASKWIKI_MAX_FILE_MB each); refused files are listed in `rejected`
    and the others are ingested by a background job. Poll `url` for its report.
    """
    content_type = request.headers.get("content-type", "")
    kind = content_type.lower()
    job_id = new_job_id()
    if kind.startswith("application/json"):
        job = await _submit_page(request, admin, job_id)
        accepted = _accepted(job, accepted=[job.detail["doc_id"]])
    elif kind.startswith("multipart/form-data"):
        accepted = await _submit_files(request, admin, settings, content_type, job_id)
    else:
        raise UploadRejectedError(
            f"Content-Type {content_type or '(none)'} is not accepted; send files as "
            "multipart/form-data or one page as application/json"
        )
    response.headers["Location"] = accepted.url
    return accepted


async def _submit_page(request: Request, admin: AdminState, job_id: str) -> Job:
    try:
        page = PageIn.model_validate_json(await request.body())
    except ValidationError as exc:
        # Without the input: it may be bytes that are not UTF-8 (and it is the whole body).
        raise RequestValidationError(exc.errors(include_url=False, include_input=False)) from exc
    spool = admin.folders.job_spool(job_id)
    try:
        write_page_file(spool, page.model_dump())
    except BaseException:
        admin.folders.discard_spool(job_id)
        raise
    work = lambda: admin.operations.ingest_page(job_id, page.doc_id)  # noqa: E731
    return admin.runner.submit("page", work, {"doc_id": page.doc_id}, job_id=job_id)


async def _submit_files(
    request: Request, admin: AdminState, settings: Settings, content_type: str, job_id: str
) -> JobAccepted:
    spool = admin.folders.job_spool(job_id)
    max_file = int(min(settings.max_file_mb, settings.max_upload_mb) * 1024 * 1024)
    spooler: MultipartSpooler | None = None
    try:
        spooler = MultipartSpooler(content_type, spool, max_file, MAX_FILES_PER_UPLOAD)
        async for chunk in request.stream():
            # Parsing and disk writes run in a worker thread, off the event loop.
            await run_in_threadpool(spooler.write, chunk)
        result = await run_in_threadpool(spooler.finish)
    except BaseException:
        if spooler is not None:
            spooler.close()
        admin.folders.discard_spool(job_id)
        raise
    if not result.accepted:
        admin.folders.discard_spool(job_id)
        reasons = "; ".join(f"{r['file']}: {r['reason']}" for r in result.rejected)
        raise UploadRejectedError(f"No file accepted ({reasons or 'the upload holds no file'})")
    names, rejected = list(result.accepted), list(result.rejected)
    work = lambda: admin.operations.ingest_upload(job_id, names, rejected)  # noqa: E731
    job = admin.runner.submit("upload", work, {"files": names, "rejected": rejected}, job_id)
    return _accepted(
        job, accepted=names, rejected=[RejectedFile.model_validate(r) for r in rejected]
    )


@router.get("/api/admin/documents", response_model=DocumentListOut)
def list_documents(
    admin: AdminDep,
    live_index: LiveIndexDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: OffsetQuery = 0,
) -> DocumentListOut:
    """Documents of the served index version, by id: title, url, chunk count, content hash."""
    index = live_index.retriever().index
    documents = list(index.docstore.documents().values())
    page = documents[offset : offset + limit]
    return DocumentListOut(
        index_version=index.version,
        total=len(documents),
        limit=limit,
        offset=offset,
        items=[
            DocumentOut(
                doc_id=d.doc_id,
                title=d.title,
                url=d.url,
                format=d.format,
                chunks=d.chunk_count,
                content_hash=d.content_hash,
                ingested_at=d.ingested_at,
                uploaded=admin.folders.is_uploaded(FilePath(d.source)),
            )
            for d in page
        ],
    )


@router.delete(
    "/api/admin/documents/{doc_id:path}",
    status_code=202,
    response_model=JobAccepted,
    responses={404: {"model": ErrorOut, "description": "No such document"}},
)
def delete_document(
    doc_id: Annotated[str, Path(min_length=1, max_length=1024)],
    response: Response,
    admin: AdminDep,
    live_index: LiveIndexDep,
) -> JobAccepted:
    """Remove a document from the index (and its file from the uploads folder), as a job."""
    known = live_index.loaded and doc_id in live_index.retriever().index.docstore.documents()
    candidates = [admin.folders.uploads / doc_id, admin.folders.pages / page_file_name(doc_id)]
    uploaded = any(admin.folders.is_uploaded(p) and p.is_file() for p in candidates)
    if not known and not uploaded:
        raise DocumentNotFoundError(
            f"No document {doc_id!r} in the served index; GET /api/admin/documents lists them"
        )
    work = lambda: admin.operations.delete_document(doc_id)  # noqa: E731
    accepted = _accepted(admin.runner.submit("delete", work, {"doc_id": doc_id}))
    response.headers["Location"] = accepted.url
    return accepted


@router.post("/api/admin/reindex", status_code=202, response_model=JobAccepted)
def reindex(response: Response, admin: AdminDep, body: ReindexIn | None = None) -> JobAccepted:
    """Ingest the uploads folder again as a job (default: rebuild the index from it)."""
    rebuild = body.rebuild if body is not None else True
    work = lambda: admin.operations.reindex(rebuild)  # noqa: E731
    accepted = _accepted(admin.runner.submit("reindex", work, {"rebuild": rebuild}))
    response.headers["Location"] = accepted.url
    return accepted


@router.post("/api/admin/sync", status_code=202, response_model=JobAccepted)
def sync(
    request: Request, response: Response, admin: AdminDep, body: SyncIn | None = None
) -> JobAccepted:
    """Pull the changes of the index's wiki sources (askwiki.toml) now, as a job."""
    options = body or SyncIn(full=False, sources=None)
    service: SyncService = request.app.state.sync
    work = lambda: service.run(options.full, options.sources)  # noqa: E731
    detail = {"full": options.full, "sources": options.sources}
    accepted = _accepted(admin.runner.submit("sync", work, detail))
    response.headers["Location"] = accepted.url
    return accepted


@router.get(
    "/api/admin/jobs/{job_id}",
    response_model=JobOut,
    responses={404: {"model": ErrorOut, "description": "Unknown job id"}},
)
def job_status(job_id: JOB_ID, admin: AdminDep) -> JobOut:
    """A job's status (`queued`, `running`, `succeeded`, `failed`, `interrupted`) and report."""
    return JobOut.model_validate(admin.runner.get(job_id).to_dict())


@router.get("/api/admin/jobs", response_model=JobListOut)
def list_jobs(admin: AdminDep, limit: Annotated[int, Query(ge=1, le=200)] = 50) -> JobListOut:
    """The most recent jobs, newest first."""
    return JobListOut(
        items=[JobOut.model_validate(j.to_dict()) for j in admin.runner.recent(limit)]
    )


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
)
def metrics(request: Request, _admin: AdminDep) -> PlainTextResponse:
    """Prometheus metrics of this replica (admin token only: they reveal traffic)."""
    registry = request.app.state.metrics
    live = request.app.state.live_index
    if live.loaded:
        registry.serving(live.index_path.name, live.retriever().index.version)
    return PlainTextResponse(generate_latest(registry.registry), media_type=CONTENT_TYPE_LATEST)
