from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from askwiki.errors import DocumentError, JobNotFoundError
from askwiki.server.admin.jobs import JobRunner


def test_jobs_run_one_at_a_time_in_submission_order(tmp_path: Path) -> None:
    order: list[str] = []
    running = 0
    overlap = False
    lock = threading.Lock()

    def work(name: str) -> Any:
        def run() -> dict[str, Any]:
            nonlocal running, overlap
            with lock:
                running += 1
                overlap = overlap or running > 1
            order.append(name)
            with lock:
                running -= 1
            return {"name": name}

        return run

    runner = JobRunner(tmp_path)
    jobs = [runner.submit("upload", work(str(n)), {}) for n in range(5)]
    finished = [runner.wait(job.id, 5) for job in jobs]
    runner.close()
    assert order == ["0", "1", "2", "3", "4"] and not overlap
    assert [j.status for j in finished] == ["succeeded"] * 5
    assert finished[2].report == {"name": "2"}


def test_a_failing_job_records_its_error_and_the_worker_carries_on(tmp_path: Path) -> None:
    def broken() -> dict[str, Any]:
        raise DocumentError("no such file: x.md")

    def crashing() -> dict[str, Any]:
        raise ZeroDivisionError("bug")

    runner = JobRunner(tmp_path)
    first = runner.submit("upload", broken, {})
    second = runner.submit("upload", crashing, {})
    third = runner.submit("reindex", lambda: {"ok": True}, {})
    assert runner.wait(first.id, 5).error == "no such file: x.md"
    assert runner.wait(second.id, 5).error == "ZeroDivisionError: bug"
    assert runner.wait(third.id, 5).status == "succeeded"
    runner.close()


def test_a_job_reads_finished_only_after_the_after_each_hook_ran(tmp_path: Path) -> None:
    seen_by_hook: list[str] = []
    hook_done = threading.Event()
    runner: JobRunner

    def hook() -> None:  # the server swaps in the new index version here
        time.sleep(0.2)
        seen_by_hook.append(runner.recent(1)[0].status)
        hook_done.set()

    runner = JobRunner(tmp_path, after_each=hook)
    ok = runner.submit("reindex", lambda: {"version": "v2"}, {})
    assert runner.wait(ok.id, 5).status == "succeeded"
    assert hook_done.is_set()  # a client that saw "succeeded" is served the new version
    failed = runner.submit("reindex", lambda: 1 / 0, {})
    assert runner.wait(failed.id, 5).status == "failed"
    runner.close()
    assert seen_by_hook == ["running", "running"]


def test_unknown_job_id_raises_not_found(tmp_path: Path) -> None:
    runner = JobRunner(tmp_path)
    with pytest.raises(JobNotFoundError, match="0123456789abcdef"):
        runner.get("0123456789abcdef")
    runner.close()


def test_records_survive_a_restart_and_unfinished_jobs_read_interrupted(tmp_path: Path) -> None:
    release = threading.Event()
    runner = JobRunner(tmp_path)
    done = runner.submit("upload", lambda: {"files": 1}, {})
    runner.wait(done.id, 5)
    stuck = runner.submit("upload", lambda: {"ok": release.wait(10)}, {"files": ["a.md"]})
    queued = runner.submit("reindex", lambda: {}, {})
    # A crash: the records on disk are all that is left of this runner.
    records = {p.stem: json.loads(p.read_text()) for p in tmp_path.glob("*.json")}
    assert records[stuck.id]["status"] in ("queued", "running")
    assert records[queued.id]["status"] == "queued"

    restarted = JobRunner(tmp_path)
    assert restarted.get(done.id).status == "succeeded"
    for job_id in (stuck.id, queued.id):
        job = restarted.get(job_id)
        assert job.status == "interrupted" and "reindex" in (job.error or "")
    release.set()
    runner.close()
    restarted.close()


def test_only_the_newest_records_are_kept(tmp_path: Path) -> None:
    runner = JobRunner(tmp_path, keep=3)
    jobs = []
    for _ in range(6):
        jobs.append(runner.submit("reindex", lambda: {}, {}))
        runner.wait(jobs[-1].id, 5)
    runner.close()
    assert len(list(tmp_path.glob("*.json"))) == 3
    assert runner.get(jobs[-1].id).status == "succeeded"
    with pytest.raises(JobNotFoundError):
        runner.get(jobs[0].id)
