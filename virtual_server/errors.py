"""Every virtual-server error as a `WorkflowResponse`-shaped body with the right HTTP code.

WIRE-7: error responses (2xx or not) carry `status: "error"`, `error`, and
`result = {error_type, details}`, the blob at the top level as in every virtual response
(`result.virtual_db` with `X-Virtual-Db-In: result`, shapes.py); `workflow_run_id` and
`virtual_run_id` are `""` when no run is known.
WIRE-8: client input never produces a 500 — framework validation errors, oversized or deeply
nested bodies and hostile blobs all map to 4xx here; only genuine bugs reach `internal_error`.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, NotFoundException, ValidationException

from engine import EngineError, VirtualWorkflowResponse
from virtual_server.shapes import shaped, wants_rev3

log = logging.getLogger("virtual_server")

UNAUTHORIZED_MESSAGE = "Unauthorized"
JSON = "application/json"


class ApiError(Exception):
    """A request error raised by the server (or an engine request error given context).

    `virtual_db` is the blob the error body reports (VS-5): the input blob when the call wrote
    nothing, null when there was no valid blob.
    """

    def __init__(self, status: int, error_type: str, message: str,
                 details: dict[str, Any] | None = None, *, run_id: str = "",
                 virtual_db: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message
        self.details = details or {}
        self.run_id = run_id
        self.virtual_db = virtual_db
        self.headers = headers or {}

    @classmethod
    def from_engine(cls, exc: EngineError, *, run_id: str = "",
                    virtual_db: str | None = None) -> "ApiError":
        status = exc.http_status if exc.http_status != 200 else 400
        headers = {"Retry-After": "1"} if status == 503 else None
        return cls(status, exc.error_type, exc.message, dict(exc.details), run_id=run_id,
                   virtual_db=virtual_db, headers=headers)


def bad_request(message: str, **details: Any) -> ApiError:
    return ApiError(400, "bad_request", message, details)


def unauthorized() -> ApiError:
    return ApiError(401, "unauthorized", UNAUTHORIZED_MESSAGE)


def error_body(error_type: str, message: str, details: dict[str, Any] | None = None, *,
               run_id: str = "", virtual_db: str | None = None) -> VirtualWorkflowResponse:
    return VirtualWorkflowResponse(workflow_run_id=run_id, status="error", message=message,
                                   error=message,
                                   result={"error_type": error_type, "details": details or {}},
                                   virtual_run_id=run_id, virtual_db=virtual_db)


def json_response(body: Any, status: int = 200,
                  headers: dict[str, str] | None = None) -> Response[Any]:
    return Response(content=msgspec.json.encode(body), status_code=status, media_type=JSON,
                    headers=headers or {})


def raw_json_response(content: bytes, status: int = 200) -> Response[Any]:
    """A body already encoded (in the engine pool, shapes.encoded)."""
    return Response(content=content, status_code=status, media_type=JSON)


def api_error_parts(exc: ApiError, rev3: bool = False) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and encoded body of an error (a worker process answers with these)."""
    body = error_body(exc.error_type, exc.message, exc.details, run_id=exc.run_id,
                      virtual_db=exc.virtual_db)
    return exc.status, dict(exc.headers), msgspec.json.encode(shaped(body, rev3))


def answer_response(status: int, headers: dict[str, str], content: bytes) -> Response[Any]:
    """An answer computed elsewhere (an engine process, jobs.py) as the response it stands for."""
    return Response(content=content, status_code=status, media_type=JSON, headers=headers)


def api_error_response(exc: ApiError, rev3: bool = False) -> Response[Any]:
    return answer_response(*api_error_parts(exc, rev3))


def handle_api_error(request: Request[Any, Any, Any], exc: ApiError) -> Response[Any]:
    return api_error_response(exc, wants_rev3(request))


def handle_engine_error(request: Request[Any, Any, Any], exc: EngineError) -> Response[Any]:
    return api_error_response(ApiError.from_engine(exc), wants_rev3(request))


def _validation_errors(exc: HTTPException) -> list[Any]:
    extra = getattr(exc, "extra", None)
    if isinstance(extra, list) and extra:
        return [{k: v for k, v in item.items() if k in ("message", "key", "source")}
                if isinstance(item, dict) else str(item) for item in extra]
    return [str(exc.detail)]


def _http_error(exc: HTTPException) -> ApiError:
    status = exc.status_code
    if isinstance(exc, NotFoundException) or status == 404:
        return ApiError(404, "not_found", "Not found")
    if isinstance(exc, ValidationException) or status == 400:
        return bad_request("Invalid request body", errors=_validation_errors(exc))
    if status == 401:
        return unauthorized()
    if status == 413:
        return ApiError(413, "payload_too_large", "Request body too large")
    if status == 405:  # `Allow` lists the path's methods (RFC 9110 §15.5.6)
        return ApiError(405, "bad_request", "Method not allowed", headers=dict(exc.headers or {}))
    error_type = "bad_request" if status < 500 else "internal_error"
    message = str(exc.detail) if status < 500 else "Internal server error"
    return ApiError(status, error_type, message, headers=dict(exc.headers or {}))


def handle_http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    return api_error_response(_http_error(exc), wants_rev3(request))


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if isinstance(exc, RecursionError):
        error = bad_request("Request body nested too deeply")
    else:
        log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        error = ApiError(500, "internal_error", "Internal server error")
    return api_error_response(error, wants_rev3(request))


EXCEPTION_HANDLERS: dict[Any, Any] = {
    ApiError: handle_api_error,
    EngineError: handle_engine_error,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}
