"""Helpers for admin API tests: the token, its header, waiting for a job."""

from __future__ import annotations

import time
from typing import Any

TOKEN = "test-admin-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def wait_job(client: Any, job_id: str, timeout_s: float = 60.0) -> dict[str, Any]:
    """Poll ``/api/admin/jobs/{id}`` (TestClient or httpx client) until the job is done."""
    deadline = time.monotonic() + timeout_s
    while True:
        job: dict[str, Any] = client.get(f"/api/admin/jobs/{job_id}", headers=AUTH).json()
        if job["status"] not in ("queued", "running"):
            return job
        assert time.monotonic() < deadline, f"job {job_id} still {job['status']}"
        time.sleep(0.05)
