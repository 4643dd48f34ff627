"""Typed errors of the HTTP clients, under one root: `ClientError`.

A request error from either server becomes an `ApiError` subclass chosen by HTTP status, carrying
the server's `error_type`, `details`, the human `detail` and the status. Both body shapes are
read: production's `{error, error_type, details, detail?}` and the virtual server's
`WorkflowResponse`-shaped `{status: "error", error, result: {error_type, details}, virtual_db}`
(whose blob, the input blob for a call that wrote nothing, is kept on the error).
"""

from __future__ import annotations

from typing import Any

import httpx


class ClientError(Exception):
    """Root of every error this package raises."""


class ApiError(ClientError):
    """The server answered a request error (4xx/5xx) before doing any work."""

    status: int
    error_type: str
    details: dict[str, Any]
    detail: str
    virtual_db: str | None
    retry_after: float | None

    def __init__(self, status: int, error_type: str, detail: str,
                 details: dict[str, Any] | None = None, *, body: Any = None,
                 virtual_db: str | None = None, retry_after: float | None = None) -> None:
        super().__init__(f"{status} {error_type}: {detail}")
        self.status = status
        self.error_type = error_type
        self.detail = detail
        self.details = details or {}
        self.body = body
        self.virtual_db = virtual_db
        self.retry_after = retry_after


class BadRequest(ApiError):
    """400: the body, query or workflow is invalid."""


class Unauthorized(ApiError):
    """401: no valid credential (or a revoked one)."""


class Forbidden(ApiError):
    """403: authenticated, but not allowed."""


class NotFound(ApiError):
    """404: no such run, interaction or route (another user's run looks the same)."""


class Conflict(ApiError):
    """409: the run is not in a state that allows this (e.g. the interaction is not pending)."""


class PayloadTooLarge(ApiError):
    """413: the body or blob is over a limit."""


class RateLimited(ApiError):
    """429: too many logins or open streams."""


class Overloaded(ApiError):
    """503: the engine pool is full; `retry_after` says when to try again."""


class ServerError(ApiError):
    """500 or another unexpected status."""


class StreamError(ClientError):
    """An SSE stream broke its contract: malformed frame, or no terminal frame before the end."""


class AnswerError(ClientError):
    """An answer helper does not fit the pending interaction (type, index, id, option)."""


class RunError(ClientError):
    """A run ended somewhere other than where the caller needed it (error, validation failure,
    an interaction nobody scripted); `response` is the last `WorkflowResponse` or frame."""

    def __init__(self, message: str, response: Any = None) -> None:
        super().__init__(message)
        self.response = response


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound, 405: BadRequest,
    409: Conflict, 413: PayloadTooLarge, 422: BadRequest, 429: RateLimited, 503: Overloaded,
}


def _error_fields(body: Any) -> tuple[str | None, str | None, dict[str, Any], str | None]:
    """(error_type, human message, details, blob) from either server's error body."""
    if not isinstance(body, dict):
        return None, None, {}, None
    result: Any = body.get("result") if isinstance(body.get("result"), dict) else {}
    error_type = body.get("error_type") or result.get("error_type")
    details: Any = body.get("details") if isinstance(body.get("details"), dict) else \
        result.get("details") if isinstance(result.get("details"), dict) else {}
    message = body.get("detail") or body.get("error") or body.get("message")
    blob = body.get("virtual_db") or result.get("virtual_db")
    return (str(error_type) if error_type else None, str(message) if message else None,
            dict(details), blob if isinstance(blob, str) else None)


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers["retry-after"])
    except (KeyError, ValueError):
        return None


def error_from_response(response: httpx.Response) -> ApiError:
    """The typed error for a non-2xx response whose body has been read."""
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
    error_type, message, details, blob = _error_fields(body)
    status = response.status_code
    cls = _BY_STATUS.get(status, ServerError if status >= 500 else ApiError)
    return cls(status, error_type or f"http_{status}", message or response.reason_phrase,
               details, body=body, virtual_db=blob, retry_after=_retry_after(response))


__all__ = ["AnswerError", "ApiError", "BadRequest", "ClientError", "Conflict", "Forbidden",
           "NotFound", "Overloaded", "PayloadTooLarge", "RateLimited", "RunError", "ServerError",
           "StreamError", "Unauthorized", "error_from_response"]
