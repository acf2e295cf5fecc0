"""The one domain error type. Services raise it; each surface renders it in its dialect.

Codes are spec 004's error table (the richest of our specs); other surfaces map them to
their own bodies, so a service never needs to know who is asking.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    UNKNOWN_ERROR = "UNKNOWN_ERROR"
    VALIDATION_ERROR = "VALIDATION_ERROR"
    UNAUTHORIZED = "UNAUTHORIZED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    RATE_LIMITED = "RATE_LIMITED"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    BANNED = "BANNED"
    ACCOUNT_DISABLED = "ACCOUNT_DISABLED"
    PAYMENT_REQUIRED = "PAYMENT_REQUIRED"
    UNAVAILABLE = "UNAVAILABLE"


STATUS: dict[ErrorCode, int] = {
    ErrorCode.UNKNOWN_ERROR: 500,
    ErrorCode.VALIDATION_ERROR: 400,
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.ALREADY_EXISTS: 409,
    ErrorCode.BANNED: 403,
    ErrorCode.ACCOUNT_DISABLED: 403,
    ErrorCode.PAYMENT_REQUIRED: 402,
    ErrorCode.UNAVAILABLE: 503,
}


class GossipError(Exception):
    code: ErrorCode = ErrorCode.UNKNOWN_ERROR
    default_message = "Internal server error"

    def __init__(
        self,
        message: str | None = None,
        *,
        details: list[dict[str, Any]] | None = None,
        status: int | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.details = details or []
        self.status = status or STATUS[self.code]
        super().__init__(self.message)


class ValidationFailed(GossipError):
    code = ErrorCode.VALIDATION_ERROR
    default_message = "Invalid input data"

    @classmethod
    def field(cls, field: str, message: str) -> ValidationFailed:
        return cls(message, details=[{"field": field, "message": message}])


class PayloadTooLarge(ValidationFailed):
    default_message = "Request body too large"

    def __init__(self, limit: int) -> None:
        super().__init__(
            details=[{"field": "body", "message": f"must be at most {limit} bytes"}], status=413
        )


class Unauthorized(GossipError):
    code = ErrorCode.UNAUTHORIZED
    default_message = "Authentication required"


class Forbidden(GossipError):
    code = ErrorCode.FORBIDDEN
    default_message = "Insufficient permissions"


class NotFound(GossipError):
    code = ErrorCode.NOT_FOUND
    default_message = "Resource not found"

    def __init__(self, what: str = "Resource") -> None:
        super().__init__(f"{what} not found")


class AlreadyExists(GossipError):
    code = ErrorCode.ALREADY_EXISTS
    default_message = "Resource already exists"


class Banned(GossipError):
    code = ErrorCode.BANNED
    default_message = "User is banned"


class AccountDisabled(GossipError):
    code = ErrorCode.ACCOUNT_DISABLED
    default_message = "Account is disabled"


class RateLimited(GossipError):
    code = ErrorCode.RATE_LIMITED
    default_message = "You are being rate limited."

    def __init__(self, retry_after: float, headers: dict[str, str] | None = None) -> None:
        super().__init__()
        self.retry_after = retry_after
        self.headers = headers or {}


class PaymentRequired(GossipError):
    code = ErrorCode.PAYMENT_REQUIRED
    default_message = "This needs a paid plan"
