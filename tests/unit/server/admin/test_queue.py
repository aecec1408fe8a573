"""The admin job queue in the shared database: every job once, one at a time, any replica."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from sqlalchemy import update

from askwiki.database import open_engine, upgrade
from askwiki.database.tables import admin_jobs
from askwiki.errors import JobNotFoundError
from askwiki.server.admin.jobs import Job
from askwiki.server.admin.queue import DatabaseJobRunner


class Recorder:
    """The dispatch of the test's runners: records who ran what, and any overlap."""

    def __init__(self) -> None:
        self.ran: list[tuple[str, str]] = []
        self.active = 0
        self.most_active = 0
        self.lock = threading.Lock()

    def for_replica(self, name: str) -> Any:
        def run(job: Job) -> dict[str, Any]:
            with self.lock:
                self.active += 1
                self.most_active = max(self.most_active, self.active)
            time.sleep(0.05)
            with self.lock:
                self.active -= 1
                self.ran.append((job.id, name))
            if job.detail.get("fail"):
                raise ValueError("broken upload")
            return {"ran_on": name}

        return run


def _runners(url: str, recorder: Recorder, n: int) -> list[DatabaseJobRunner]:
    runners = []
    for i in range(n):
        engine = open_engine(url)
        upgrade(engine)
        runners.append(DatabaseJobRunner(engine, "default", recorder.for_replica(f"r{i}")))
    return runners


def test_jobs_from_any_replica_run_exactly_once_one_at_a_time(database_url: str) -> None:
    recorder = Recorder()
    replicas = _runners(database_url, recorder, 3)
    try:
        jobs = [
            replicas[n % 3].submit("upload", lambda: {}, {"files": [f"{n}.md"], "fail": n == 4})
            for n in range(9)
        ]
        finished = [replicas[(n + 1) % 3].wait(job.id, 30) for n, job in enumerate(jobs)]
    finally:
        for runner in replicas:
            runner.close()

    assert sorted(job_id for job_id, _ in recorder.ran) == sorted(j.id for j in jobs)
    assert recorder.most_active == 1
    assert [j.status for j in finished] == ["succeeded"] * 4 + ["failed"] + ["succeeded"] * 4
    assert finished[4].error == "ValueError: broken upload"
    assert finished[0].report is not None and finished[0].report["ran_on"].startswith("r")


def test_a_job_whose_replica_died_is_interrupted_and_the_queue_moves_on(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("askwiki.server.admin.queue.STALE_S", 0.5)
    recorder = Recorder()
    (submitter,) = _runners(database_url, recorder, 1)
    submitter.close()  # no worker: the jobs stay queued
    engine = open_engine(database_url)
    submitter = DatabaseJobRunner(engine, "default", recorder.for_replica("x"), worker=False)
    dead = submitter.submit("reindex", lambda: {}, {"rebuild": True})
    with engine.begin() as conn:  # claimed by a replica that was then killed
        conn.execute(
            update(admin_jobs)
            .where(admin_jobs.c.id == dead.id)
            .values(status="running", heartbeat_at=time.time() - 60, claimed_by="gone")
        )
    waiting = submitter.submit("reindex", lambda: {}, {"rebuild": False})
    (worker,) = _runners(database_url, recorder, 1)
    try:
        done = worker.wait(waiting.id, 30)
        interrupted = worker.get(dead.id)
    finally:
        worker.close()
        engine.dispose()

    assert interrupted.status == "interrupted" and "stopped" in (interrupted.error or "")
    assert done.status == "succeeded"
    with pytest.raises(JobNotFoundError):
        worker.get("0123456789abcdef")


def test_a_page_posted_to_one_replica_is_ingested_once_and_reported_by_another(
    make_client: Any, database_url: str
) -> None:
    from tests.support.admin import AUTH, TOKEN, wait_job

    first, second = (make_client(admin_token=TOKEN, database_url=database_url) for _ in range(2))
    page = {"id": "animals/wombat", "title": "Wombat", "text": "Wombats make cubes."}

    accepted = first.post("/api/admin/documents", headers=AUTH, json=page).json()
    job = wait_job(second, accepted["job_id"])

    assert job["status"] == "succeeded" and job["report"]["new"] == ["animals/wombat"], job
    listed = second.get("/api/admin/jobs", headers=AUTH).json()["items"]
    assert [j["id"] for j in listed] == [accepted["job_id"]]
    # The replica that ran it serves it at once; the other after its announcement or poll.
    deadline = time.monotonic() + 5
    found: list[str] = []
    while "animals/wombat" not in found and time.monotonic() < deadline:
        results = second.get("/api/search", params={"q": "wombat cubes"}).json()["results"]
        found = [r["doc_id"] for r in results]
        time.sleep(0.1)
    assert "animals/wombat" in found


def test_a_sync_job_runs_from_the_database_queue(
    make_client: Any, database_url: str, tmp_path: Any
) -> None:
    from tests.support.admin import AUTH, TOKEN, wait_job
    from tests.unit.server.test_sync_api import handbook

    _, config = handbook(tmp_path)
    client = make_client(admin_token=TOKEN, sync_config=config, database_url=database_url)

    job = wait_job(client, client.post("/api/admin/sync", headers=AUTH).json()["job_id"])

    assert job["status"] == "succeeded", job
    assert job["kind"] == "sync" and job["report"]["new"] == ["handbook:zebra.md"]
