"""Request errors as `ErrorBody` responses (wire-api.md §2.2/§2.3).

Engine request errors carry their own `error_type` and `http_status`; everything else a handler
raises is mapped here so no client input can produce a 500 with internals (WIRE-8). A missing
run and another user's run must be indistinguishable (AUTH-5), so every `not_found` body is the
same fixed body, whatever id or message produced it.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, NotFoundException, ValidationException

from engine import EngineError, ErrorBody, ExecutionError

log = logging.getLogger("production_server")

NOT_FOUND_BODY = ErrorBody(error="Not found", error_type="not_found", detail="Not found")
UNAUTHORIZED_MESSAGE = "Unauthorized"


class ApiError(Exception):
    """A request error raised by the server itself (not by the engine)."""

    def __init__(self, status: int, error_type: str, message: str,
                 details: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message
        self.details = details or {}
        self.headers = headers or {}


def bad_request(message: str, **details: Any) -> ApiError:
    return ApiError(400, "bad_request", message, details)


def unauthorized() -> ApiError:
    return ApiError(401, "unauthorized", UNAUTHORIZED_MESSAGE)


def not_found() -> ApiError:
    return ApiError(404, "not_found", NOT_FOUND_BODY.error)


def error_response(status: int, error_type: str, message: str, details: dict[str, Any] | None = None,
                   headers: dict[str, str] | None = None) -> Response[bytes]:
    body = NOT_FOUND_BODY if error_type == "not_found" else \
        ErrorBody(error=message, error_type=error_type, details=details or {}, detail=message)
    return Response(content=msgspec.json.encode(body), status_code=status,
                    media_type="application/json", headers=headers or {})


def engine_error_response(exc: EngineError) -> Response[bytes]:
    status = exc.http_status if exc.http_status != 200 else 400
    headers = {"Retry-After": "1"} if status == 503 else None
    return error_response(status, exc.error_type, exc.message, dict(exc.details), headers)


def handle_api_error(_: Request[Any, Any, Any], exc: ApiError) -> Response[bytes]:
    return error_response(exc.status, exc.error_type, exc.message, exc.details, exc.headers)


def handle_engine_error(_: Request[Any, Any, Any], exc: EngineError) -> Response[bytes]:
    if isinstance(exc, ExecutionError):
        # Execution errors are results; a route that lets one escape has no run to report it on.
        return error_response(400, exc.error_type, exc.message, dict(exc.details))
    return engine_error_response(exc)


def handle_http_exception(_: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    if isinstance(exc, NotFoundException) or exc.status_code == 404:
        return error_response(404, "not_found", "Not found")
    if isinstance(exc, ValidationException) or exc.status_code == 400:
        return error_response(400, "bad_request", "Invalid request", {"errors": [str(exc.detail)]})
    if exc.status_code == 401:
        return error_response(401, "unauthorized", UNAUTHORIZED_MESSAGE)
    if exc.status_code == 413:
        return error_response(413, "payload_too_large", "Request body too large")
    return error_response(exc.status_code, "bad_request" if exc.status_code < 500 else "internal_error",
                          str(exc.detail), headers=dict(exc.headers or {}))


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    if isinstance(exc, RecursionError):
        return error_response(400, "bad_request", "Request nested too deeply")
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal_error", "Internal server error")


EXCEPTION_HANDLERS: dict[Any, Any] = {
    ApiError: handle_api_error,
    EngineError: handle_engine_error,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}
