"""The one place where domain errors become HTTP status codes and JSON bodies."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from askwiki.errors import (
    AskwikiError,
    ConfigError,
    IndexCorruptError,
    IndexLockedError,
    IndexMismatchError,
    IndexNotFoundError,
    InputTooLargeError,
    LLMError,
    QuestionNotFoundError,
)

logger = logging.getLogger(__name__)

_STATUS: list[tuple[type[AskwikiError], int, str]] = [
    (LLMError, 503, "llm_unavailable"),
    (IndexNotFoundError, 503, "index_not_found"),
    (IndexCorruptError, 503, "index_corrupt"),
    (IndexMismatchError, 503, "index_model_mismatch"),
    (IndexLockedError, 409, "index_locked"),
    (InputTooLargeError, 413, "too_large"),
    (QuestionNotFoundError, 404, "not_found"),
    (ConfigError, 500, "config_error"),
]


def error_body(exc: AskwikiError) -> tuple[int, dict[str, str | None]]:
    """HTTP status and JSON body for a domain error."""
    status, code = next(
        ((status, code) for kind, status, code in _STATUS if isinstance(exc, kind)), (500, "error")
    )
    body: dict[str, str | None] = {"error": code, "detail": str(exc)}
    if isinstance(exc, LLMError):
        body["backend"] = exc.backend
    return status, body


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AskwikiError)
    async def _domain_error(request: Request, exc: AskwikiError) -> JSONResponse:
        status, body = error_body(exc)
        logger.warning("%s %s -> %d %s", request.method, request.url.path, status, exc)
        return JSONResponse(body, status_code=status)
