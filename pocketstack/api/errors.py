"""One error tree for every service.

Handlers and domain code raise these; the request pipeline turns them into the
service's own error body (Keystone's, Nova's, Neutron's, ...) in one place
(:meth:`pocketstack.api.service.Service.render_error`).
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    code = 500
    title = "Internal Server Error"
    default_message = "An unexpected error prevented the server from fulfilling your request."

    def __init__(self, message: str | None = None, *, error_type: str | None = None,
                 headers: dict[str, str] | None = None, **extra: Any) -> None:
        self.message = message or self.default_message
        # A service-specific name for the error (Neutron's "NetworkNotFound", ...).
        self.error_type = error_type or type(self).__name__
        self.headers = headers or {}
        self.extra = extra
        super().__init__(self.message)


class BadRequest(ApiError):
    code = 400
    title = "Bad Request"
    default_message = "The request you have made is invalid."


class ValidationError(BadRequest):
    pass


class Unauthorized(ApiError):
    code = 401
    title = "Unauthorized"
    default_message = "The request you have made requires authentication."


class Forbidden(ApiError):
    code = 403
    title = "Forbidden"
    default_message = "You are not authorized to perform the requested action."


class PolicyNotAuthorized(Forbidden):
    def __init__(self, action: str, message: str | None = None) -> None:
        super().__init__(message or f"Policy doesn't allow {action} to be performed.")
        self.action = action


class OverQuota(Forbidden):
    pass


class NotFound(ApiError):
    code = 404
    title = "Not Found"
    default_message = "Could not find the requested resource."


class MethodNotAllowed(ApiError):
    code = 405
    title = "Method Not Allowed"
    default_message = "The method is not allowed for the requested URL."


class NotAcceptable(ApiError):
    code = 406
    title = "Not Acceptable"
    default_message = "The requested version or media type is not supported."


class Conflict(ApiError):
    code = 409
    title = "Conflict"
    default_message = "Conflict occurred attempting to store the resource."


class Gone(ApiError):
    code = 410
    title = "Gone"


class PreconditionFailed(ApiError):
    code = 412
    title = "Precondition Failed"
    default_message = "The resource has changed since it was read."


class RequestEntityTooLarge(ApiError):
    code = 413
    title = "Request Entity Too Large"
    default_message = "The request is larger than the server is willing to process."


class UnsupportedMediaType(ApiError):
    code = 415
    title = "Unsupported Media Type"
    default_message = "The media type of the request body is not supported."


class RangeNotSatisfiable(ApiError):
    code = 416
    title = "Requested Range Not Satisfiable"


class NotImplementedYet(ApiError):
    """A route or option that pocketstack does not implement (yet): a clean 501."""

    code = 501
    title = "Not Implemented"
    default_message = "This operation is not implemented by pocketstack yet."


class ServiceUnavailable(ApiError):
    code = 503
    title = "Service Unavailable"
