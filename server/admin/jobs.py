"""Background jobs of the admin API: one worker thread runs them in order, one at a time.

One at a time because every job writes the same index and the index has one writer (a
flock); a queue in front of it turns concurrent admin requests into an orderly sequence
instead of ``IndexLockedError``. Each job's record (status, report, error) is written to
``<data_dir>/jobs/<index>/<id>.json`` as it changes, so a restart still answers for
earlier jobs; one that was queued or running when the process died reads ``interrupted``.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from askwiki.errors import AskwikiError, JobNotFoundError

logger = logging.getLogger(__name__)

JobStatus = Literal["queued", "running", "succeeded", "failed", "interrupted"]
JobKind = Literal["upload", "page", "delete", "reindex", "sync"]
# What a job does; returns its report.
JobWork = Callable[[], dict[str, Any]]
KEEP_JOBS = 200
JOB_THREAD = "askwiki-admin-jobs"
INTERRUPTED = (
    "The server stopped while this job was {status}; the index kept its previous version. "
    "Upload again, or POST /api/admin/reindex to rebuild from the uploaded files."
)


def wait_for_job(get: Callable[[str], Job], job_id: str, timeout_s: float) -> Job:
    """Poll ``get`` until the job finished or ``timeout_s`` passed; the last record read."""
    deadline = time.monotonic() + timeout_s
    job = get(job_id)
    while job.status in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.05)
        job = get(job_id)
    return job


def new_job_id() -> str:
    """16 hex characters: safe as a folder name, unguessable enough to not enumerate."""
    return secrets.token_hex(8)


def job_outcome(job: Job, work: Callable[[], object]) -> dict[str, Any]:
    """Runs ``work``; the job's final fields: succeeded with its report, or failed with why.

    Never raises: the worker thread that runs jobs must survive any of them.
    """
    try:
        return {"status": "succeeded", "report": work()}
    except AskwikiError as exc:
        logger.error("Job %s failed: %s", job.id, exc)
        return {"status": "failed", "error": str(exc)}
    except Exception as exc:
        logger.exception("Job %s failed unexpectedly", job.id)
        return {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}


def run_after_job(hook: Callable[[], object] | None, job: Job) -> None:
    """The runner's after-job hook (the server refreshes its index), which must not kill it."""
    if hook is None:
        return
    try:
        hook()
    except Exception:
        logger.exception("After-job hook failed for job %s", job.id)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass
class Job:
    """One admin job and what became of it."""

    id: str
    kind: JobKind
    status: JobStatus = "queued"
    created_at: str = field(default_factory=_now)
    started_at: str | None = None
    finished_at: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    report: dict[str, Any] | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class JobRunner:
    """A queue of jobs and the one thread that runs them; ``close`` stops it.

    ``after_each`` runs after every job's work and before its final status is recorded (the
    server refreshes its index there), so a client that sees a job finished is already
    served its new version, instead of at the next poll.
    """

    def __init__(
        self,
        records: Path,
        *,
        after_each: Callable[[], object] | None = None,
        keep: int = KEEP_JOBS,
    ) -> None:
        self.records = records
        self._after_each = after_each
        self._keep = keep
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._queue: queue.Queue[tuple[Job, JobWork] | None] = queue.Queue()
        self._load_records()
        self._thread = threading.Thread(target=self._work, name=JOB_THREAD, daemon=True)
        self._thread.start()

    def submit(
        self, kind: JobKind, work: JobWork, detail: dict[str, Any], job_id: str | None = None
    ) -> Job:
        """Queue ``work``; the returned record is updated as the job runs."""
        job = Job(id=job_id or new_job_id(), kind=kind, detail=detail)
        with self._lock:
            self._jobs[job.id] = job
            self._save(job)
            self._forget_old()
        self._queue.put((job, work))
        logger.info("Queued %s job %s", kind, job.id)
        return job

    def get(self, job_id: str) -> Job:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                raise JobNotFoundError(
                    f"No job {job_id!r}; job ids come from the 202 answers of the admin API "
                    f"(the last {self._keep} are kept)"
                )
            return Job(**job.to_dict())

    def recent(self, limit: int = 50) -> list[Job]:
        """The newest jobs first."""
        with self._lock:  # the dict is in submission order
            return [Job(**j.to_dict()) for j in reversed(self._jobs.values())][:limit]

    def wait(self, job_id: str, timeout_s: float) -> Job:
        """Block until the job finished or ``timeout_s`` passed (tests and the CLI use it)."""
        return wait_for_job(self.get, job_id, timeout_s)

    def close(self, timeout_s: float = 30.0) -> None:
        """Let the running job finish (up to ``timeout_s``); queued jobs stay queued on disk."""
        self._queue.put(None)
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            logger.warning("Admin job still running after %.0f s; leaving it behind", timeout_s)

    # The worker ---------------------------------------------------------------
    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            job, work = item
            self._update(job, status="running", started_at=_now())
            logger.info("Running %s job %s", job.kind, job.id)
            outcome = job_outcome(job, work)
            # The hook runs first: whoever sees the job finished also sees its result served.
            run_after_job(self._after_each, job)
            self._update(job, finished_at=_now(), **outcome)
            if outcome["status"] == "succeeded":
                logger.info("Job %s succeeded", job.id)

    def _update(self, job: Job, **changes: Any) -> None:
        with self._lock:
            for key, value in changes.items():
                setattr(job, key, value)
            self._save(job)

    # Records on disk ------------------------------------------------------------
    def _save(self, job: Job) -> None:
        """Write the record atomically; a full disk costs the record, never the job."""
        try:
            self.records.mkdir(parents=True, exist_ok=True)
            temp = self.records / f".{job.id}.tmp"
            temp.write_text(json.dumps(job.to_dict(), ensure_ascii=False), encoding="utf-8")
            os.replace(temp, self.records / f"{job.id}.json")
        except OSError as exc:
            logger.warning("Cannot save the record of job %s (%s)", job.id, exc)

    def _load_records(self) -> None:
        if not self.records.is_dir():
            return
        loaded: list[Job] = []
        for path in self.records.glob("*.json"):
            try:
                loaded.append(Job(**json.loads(path.read_text(encoding="utf-8"))))
            except (OSError, ValueError, TypeError) as exc:
                logger.warning("Ignoring unreadable job record %s (%s)", path, exc)
        for job in sorted(loaded, key=lambda j: j.created_at):
            if job.status in ("queued", "running"):
                job.error = INTERRUPTED.format(status=job.status)
                job.status = "interrupted"
                self._save(job)
            self._jobs[job.id] = job
        self._forget_old()

    def _forget_old(self) -> None:
        finished = [j for j in self._jobs.values() if j.status not in ("queued", "running")]
        for job in finished[: max(0, len(self._jobs) - self._keep)]:
            del self._jobs[job.id]
            (self.records / f"{job.id}.json").unlink(missing_ok=True)
