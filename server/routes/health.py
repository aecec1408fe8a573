"""Liveness and readiness probes."""

from __future__ import annotations

import os
import socket

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from askwiki.server.deps import LiveIndexDep, ServiceDep

router = APIRouter(tags=["health"])
# Which replica answered (behind a load balancer, several do): host and process id.
REPLICA = f"{socket.gethostname()}:{os.getpid()}"


@router.get("/api/health")
def health() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/api/ready")
def ready(live_index: LiveIndexDep, service: ServiceDep) -> JSONResponse:
    """Readiness: an index is loaded and the LLM backend answers (503 otherwise, with details)."""
    index: dict[str, object] = {"ok": live_index.loaded, "path": str(live_index.index_path)}
    if live_index.loaded:
        manifest = live_index.retriever().index.manifest
        index.update(version=manifest.version, documents=manifest.documents, chunks=manifest.chunks)
    if live_index.last_error:
        index["detail"] = live_index.last_error
    try:
        llm = dict(service.llm.health())
    except Exception as exc:  # creating the backend can fail in many ways; report, not raise
        llm = {"ok": False, "backend": service.settings.llm_backend, "detail": str(exc)}
    ok = bool(index["ok"]) and bool(llm.get("ok"))
    body = {"ready": ok, "replica": REPLICA, "index": index, "llm": llm}
    return JSONResponse(body, status_code=200 if ok else 503)
