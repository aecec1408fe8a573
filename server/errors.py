"""The one place where domain errors become HTTP status codes and JSON bodies."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from askwiki.errors import (
    AdminAuthError,
    AdminDisabledError,
    AskwikiError,
    ConfigError,
    CurationError,
    DocumentNotFoundError,
    IndexCorruptError,
    IndexLockedError,
    IndexMismatchError,
    IndexNotFoundError,
    IndexWriteError,
    InputTooLargeError,
    JobNotFoundError,
    LLMError,
    QuestionHiddenError,
    QuestionNotFoundError,
    StorageError,
    UploadRejectedError,
)

logger = logging.getLogger(__name__)

_STATUS: list[tuple[type[AskwikiError], int, str]] = [
    (LLMError, 503, "llm_unavailable"),
    (IndexNotFoundError, 503, "index_not_found"),
    (IndexCorruptError, 503, "index_corrupt"),
    (IndexMismatchError, 503, "index_model_mismatch"),
    (IndexLockedError, 409, "index_locked"),
    (InputTooLargeError, 413, "too_large"),
    # Before its base class: a hidden question is gone on purpose, not unknown.
    (QuestionHiddenError, 410, "gone"),
    (QuestionNotFoundError, 404, "not_found"),
    (JobNotFoundError, 404, "not_found"),
    (DocumentNotFoundError, 404, "not_found"),
    (AdminAuthError, 401, "unauthorized"),
    (AdminDisabledError, 403, "admin_disabled"),
    (UploadRejectedError, 422, "upload_rejected"),
    (CurationError, 422, "invalid_curation"),
    (StorageError, 507, "insufficient_storage"),
    (IndexWriteError, 507, "insufficient_storage"),
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


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AskwikiError)
    async def _domain_error(request: Request, exc: AskwikiError) -> JSONResponse:
        status, body = error_body(exc)
        logger.warning("%s %s -> %d %s", request.method, request.url.path, status, exc)
        # RFC 9110: a 401 names the scheme the client should use.
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, AdminAuthError) else None
        return JSONResponse(body, status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's own list of problems stays in "detail"; "error" matches every other error.
        # Inputs echoed back may be bytes that are not UTF-8 (a fuzzer found that 500).
        detail = jsonable_encoder(exc.errors(), custom_encoder={bytes: _text})
        body = {"error": "invalid_request", "detail": detail}
        return JSONResponse(body, status_code=422)
