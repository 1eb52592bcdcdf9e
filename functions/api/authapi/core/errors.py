"""Domain errors. Services raise these; `authapi.http_errors` is the one place that
turns them into HTTP responses, so a service never knows about status codes.

Each error carries the contract's machine-readable `code` and a human sentence.
"""

from __future__ import annotations


class DomainError(Exception):
    code: str = "ERROR"
    detail: str = "The request failed."

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail or self.detail)
        if detail is not None:
            self.detail = detail


class InvalidCredentials(DomainError):
    # One code and one sentence for every failed login step (unknown user, wrong password,
    # wrong or reused code, disabled user), so a response never reveals which step failed.
    code = "INVALID_CREDENTIALS"
    detail = "Invalid credentials."


class NotAuthenticated(DomainError):
    code = "NOT_AUTHENTICATED"
    detail = "Not authenticated."


class Forbidden(DomainError):
    code = "FORBIDDEN"
    detail = "You do not have permission to do this."


class MfaSetupRequired(DomainError):
    code = "MFA_SETUP_REQUIRED"
    detail = "Two-factor authentication is not set up yet: sign in with /auth/login to enroll."


class UserNotFound(DomainError):
    code = "USER_NOT_FOUND"
    detail = "No such user."


class PasskeyNotFound(DomainError):
    code = "PASSKEY_NOT_FOUND"
    detail = "No such passkey."


class UsernameTaken(DomainError):
    code = "USERNAME_TAKEN"
    detail = "That username is already taken."


class EmailTaken(DomainError):
    code = "EMAIL_TAKEN"
    detail = "That email address is already in use."


class LastAdmin(DomainError):
    code = "LAST_ADMIN"
    detail = "The change would leave no enabled admin."


class Conflict(DomainError):
    code = "CONFLICT"
    detail = "The user was changed by another request; retry."


class PasskeyExists(Conflict):
    detail = "This passkey is already registered."


class PolicyViolation(DomainError):
    """Input that is well-formed but breaks a policy (e.g. a weak password)."""

    code = "VALIDATION_ERROR"
    detail = "The request breaks a policy."


class TooManyAttempts(DomainError):
    """The failure budget of the account (or of an unknown name) is spent for now."""

    code = "TOO_MANY_ATTEMPTS"
    detail = "Too many failed attempts; wait before trying again."

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(f"Too many failed attempts; try again in {retry_after_seconds} s.")
        self.retry_after_seconds = retry_after_seconds


class ServiceUnavailable(DomainError):
    code = "SERVICE_UNAVAILABLE"
    detail = "A backing service is unavailable; retry shortly."
    retry_after_seconds = 1


# Errors the framework answers before any service runs (no route, wrong method, a body
# over the limit, a crash). Never raised by services: they give these answers their
# `code`, so the list of codes below is complete.


class NotFound(DomainError):
    code = "NOT_FOUND"
    detail = "No such resource."


class MethodNotAllowed(DomainError):
    code = "METHOD_NOT_ALLOWED"
    detail = "Method not allowed."


class PayloadTooLarge(DomainError):
    code = "PAYLOAD_TOO_LARGE"
    detail = "The request body is too large."


class HttpError(DomainError):
    code = "HTTP_ERROR"
    detail = "Request failed."


class InternalError(DomainError):
    code = "INTERNAL_ERROR"
    detail = "Internal error."


def error_codes() -> list[str]:
    """Every `code` an error body can carry: the one source of the OpenAPI enum."""
    found: set[str] = set()
    pending: list[type[DomainError]] = [DomainError]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls is not DomainError:
            found.add(cls.code)
    return sorted(found)
