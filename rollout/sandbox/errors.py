"""Kubernetes ``Status`` errors for the sandbox API server.

This module owns the mapping from "something went wrong" to the exact
``metav1.Status`` body and HTTP code the real API server sends, because
clients (the official Python client, kubectl, our controller) branch on
``status.code`` and ``status.reason``; a plain-text 500 would not exercise
the same code paths.
"""

from __future__ import annotations

from typing import Any

JSON = dict[str, Any]

# Reason strings are metav1.StatusReason constants; clients switch on them.
_REASON_BY_CODE: dict[int, str] = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Gone",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


def reason_for(code: int) -> str:
    """The StatusReason the API server uses for ``code`` ("Unknown" otherwise)."""
    return _REASON_BY_CODE.get(code, "Unknown")


class ApiError(Exception):
    """Raised anywhere in request handling; rendered verbatim as a Status body."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        reason: str | None = None,
        details: JSON | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason or reason_for(code)
        self.details = details
        self.headers = headers or {}

    def status(self) -> JSON:
        """The ``Status`` object for the response body."""
        body: JSON = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body


def _details(group: str, resource: str, name: str) -> JSON:
    # Real servers put the *resource* (plural) in details.kind for these errors.
    out: JSON = {"kind": resource}
    if name:
        out["name"] = name
    if group:
        out["group"] = group
    return out


def qualified(group: str, resource: str) -> str:
    """``deployments.apps`` / ``pods``: the GroupResource string used in messages."""
    return f"{resource}.{group}" if group else resource


def not_found(group: str, resource: str, name: str) -> ApiError:
    return ApiError(
        404,
        f'{qualified(group, resource)} "{name}" not found',
        details=_details(group, resource, name),
    )


def already_exists(group: str, resource: str, name: str) -> ApiError:
    return ApiError(
        409,
        f'{qualified(group, resource)} "{name}" already exists',
        reason="AlreadyExists",
        details=_details(group, resource, name),
    )


def conflict(group: str, resource: str, name: str, why: str | None = None) -> ApiError:
    why = why or (
        "the object has been modified; "
        "please apply your changes to the latest version and try again"
    )
    return ApiError(
        409,
        f'Operation cannot be fulfilled on {qualified(group, resource)} "{name}": {why}',
        details=_details(group, resource, name),
    )


def invalid(group: str, kind: str, name: str, causes: list[tuple[str, str]]) -> ApiError:
    """422 Invalid; ``causes`` are (field, message) pairs, as field.ErrorList renders them."""
    text = ", ".join(f"{field}: {msg}" for field, msg in causes)
    gk = f"{kind}.{group}" if group else kind
    details: JSON = {
        "name": name,
        "kind": kind,
        "causes": [
            {"reason": "FieldValueInvalid", "message": msg, "field": field} for field, msg in causes
        ],
    }
    if group:
        details["group"] = group
    return ApiError(422, f'{gk} "{name}" is invalid: {text}', details=details)


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


def forbidden(message: str) -> ApiError:
    return ApiError(403, message)


def method_not_allowed(
    message: str = "the server does not allow this method on the requested resource",
) -> ApiError:
    return ApiError(405, message)


def unsupported_media_type(content_type: str, accepted: list[str]) -> ApiError:
    return ApiError(
        415,
        f"the body of the request was in an unknown format - accepted media types include: "
        f"{', '.join(accepted)}",
        details={"causes": [{"message": f"unsupported content type {content_type!r}"}]},
    )


def expired(requested: int, oldest: int) -> ApiError:
    # Exactly the watch-cache wording; client-go matches on reason Expired / code 410.
    return ApiError(410, f"too old resource version: {requested} ({oldest})", reason="Expired")


def internal(message: str) -> ApiError:
    return ApiError(
        500, f"Internal error occurred: {message}", details={"causes": [{"message": message}]}
    )


def generic(code: int, message: str) -> ApiError:
    """Any other code (used by fault injection); reason follows the code."""
    return ApiError(code, message)
