"""Admin jobs for N replicas: a queue in the shared database, each job run exactly once.

Any replica accepts a job (its files already spooled under the shared
``ASKWIKI_DATA_DIR``) and inserts it as ``queued``; a worker thread on every replica
claims the oldest queued job of its index with ``SELECT ... FOR UPDATE SKIP LOCKED``
(PostgreSQL) or inside ``BEGIN IMMEDIATE`` (SQLite), marks it ``running`` and runs it.
Claims of one index are serialised by a transaction-scoped advisory lock and wait while
a job of that index is running, because the index has one writer. A running job's
worker refreshes ``heartbeat_at``; a job whose worker stopped beating for ``STALE_S``
(a replica killed mid-job) is marked ``interrupted``. Any replica reports any job.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import zlib
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, and_, insert, select, text, update
from sqlalchemy.engine import RowMapping

from askwiki.database import write_transaction
from askwiki.database.tables import admin_jobs
from askwiki.errors import JobNotFoundError
from askwiki.server.admin.jobs import (
    INTERRUPTED,
    JOB_THREAD,
    Job,
    JobKind,
    JobWork,
    _now,
    job_outcome,
    new_job_id,
    run_after_job,
    wait_for_job,
)

logger = logging.getLogger(__name__)

POLL_S = 0.5
HEARTBEAT_S = 2.0
STALE_S = 15.0
# Rebuilds a job's work from its record: another replica may be the one that runs it.
Dispatch = Callable[[Job], dict[str, Any]]


def _job(row: RowMapping) -> Job:
    return Job(
        id=row["id"],
        kind=row["kind"],
        status=row["status"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        detail=json.loads(row["detail"]),
        report=json.loads(row["report"]) if row["report"] else None,
        error=row["error"],
    )


class DatabaseJobRunner:
    """``JobRunner``'s interface over the ``admin_jobs`` table; ``close`` stops the worker."""

    def __init__(
        self,
        engine: Engine,
        index_name: str,
        dispatch: Dispatch,
        *,
        after_each: Callable[[], object] | None = None,
        worker: bool = True,
    ) -> None:
        self.engine = engine
        self.index_name = index_name
        self._dispatch = dispatch
        self._after_each = after_each
        self._name = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._stop = threading.Event()
        self._running: str | None = None
        self._thread: threading.Thread | None = None
        if worker:
            self._thread = threading.Thread(target=self._work, name=JOB_THREAD, daemon=True)
            self._thread.start()

    def submit(
        self, kind: JobKind, work: JobWork, detail: dict[str, Any], job_id: str | None = None
    ) -> Job:
        """Queue a job; ``work`` is not used (``dispatch`` rebuilds it where it runs)."""
        job = Job(id=job_id or new_job_id(), kind=kind, detail=detail)
        with write_transaction(self.engine) as tx:
            tx.execute(
                insert(admin_jobs),
                {
                    "id": job.id,
                    "index_name": self.index_name,
                    "kind": kind,
                    "status": "queued",
                    "created_at": job.created_at,
                    "detail": json.dumps(detail, ensure_ascii=False),
                },
            )
        logger.info("Queued %s job %s in the database", kind, job.id)
        return job

    def get(self, job_id: str) -> Job:
        with self.engine.connect() as conn:
            row = (
                conn.execute(select(admin_jobs).where(admin_jobs.c.id == job_id)).mappings().first()
            )
        if row is None:
            raise JobNotFoundError(
                f"No job {job_id!r}; job ids come from the 202 answers of the admin API"
            )
        return _job(row)

    def recent(self, limit: int = 50) -> list[Job]:
        query = (
            select(admin_jobs)
            .where(admin_jobs.c.index_name == self.index_name)
            .order_by(admin_jobs.c.created_at.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [_job(row) for row in conn.execute(query).mappings()]

    def wait(self, job_id: str, timeout_s: float) -> Job:
        return wait_for_job(self.get, job_id, timeout_s)

    def close(self, timeout_s: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        self.engine.dispose()

    # The worker ---------------------------------------------------------------
    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                job = self._claim()
            except Exception:  # the database may be away for a while; keep trying
                logger.exception("Cannot claim admin jobs; retrying")
                job = None
            if job is None:
                self._stop.wait(POLL_S)
                continue
            self._run(job)

    def _claim(self) -> Job | None:
        now = time.time()
        with write_transaction(self.engine) as tx:
            if tx.dialect.name == "postgresql":
                key = zlib.crc32(f"askwiki-jobs:{self.index_name}".encode())
                tx.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
            mine = admin_jobs.c.index_name == self.index_name
            tx.execute(
                update(admin_jobs)
                .where(
                    and_(
                        mine,
                        admin_jobs.c.status == "running",
                        admin_jobs.c.heartbeat_at < now - STALE_S,
                    )
                )
                .values(
                    status="interrupted",
                    finished_at=_now(),
                    error=INTERRUPTED.format(status="running"),
                )
            )
            busy = tx.execute(
                select(admin_jobs.c.id).where(and_(mine, admin_jobs.c.status == "running"))
            ).first()
            if busy is not None:
                return None
            row = (
                tx.execute(
                    select(admin_jobs)
                    .where(and_(mine, admin_jobs.c.status == "queued"))
                    .order_by(admin_jobs.c.created_at)
                    .limit(1)
                    .with_for_update(skip_locked=True)
                )
                .mappings()
                .first()
            )
            if row is None:
                return None
            started = _now()
            tx.execute(
                update(admin_jobs)
                .where(admin_jobs.c.id == row["id"])
                .values(
                    status="running", started_at=started, heartbeat_at=now, claimed_by=self._name
                )
            )
        job = _job(row)
        job.status, job.started_at = "running", started
        return job

    def _run(self, job: Job) -> None:
        logger.info("Running %s job %s (claimed by %s)", job.kind, job.id, self._name)
        beating = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(job.id, beating), daemon=True)
        beat.start()
        outcome = job_outcome(job, lambda: json.dumps(self._dispatch(job), ensure_ascii=False))
        beating.set()
        beat.join()
        run_after_job(self._after_each, job)
        with write_transaction(self.engine) as tx:
            tx.execute(
                update(admin_jobs)
                .where(admin_jobs.c.id == job.id)
                .values(finished_at=_now(), **outcome)
            )

    def _heartbeat(self, job_id: str, done: threading.Event) -> None:
        while not done.wait(HEARTBEAT_S):
            try:
                with write_transaction(self.engine) as tx:
                    tx.execute(
                        update(admin_jobs)
                        .where(admin_jobs.c.id == job_id)
                        .values(heartbeat_at=time.time())
                    )
            except Exception:
                logger.exception("Heartbeat of job %s failed", job_id)
