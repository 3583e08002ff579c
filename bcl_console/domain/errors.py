"""Errors that the rules raise, each one sentence that a user can act on."""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

E = TypeVar("E", bound=StrEnum)


class DomainError(Exception):
    """Base of every error the system reports to a user as one sentence.

    ``code`` is machine-readable (an API's error code); a class names its own, and one
    raise may name a more precise one (``NotFound(…, code="unknown_session")``). What a
    kind of error means to a transport (an HTTP status, an exit code) is decided there,
    by the class, never at the raise."""

    code = "error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.file = file
        self.line = line
        self.field = field

    def sentence(self) -> str:
        """The message prefixed with the file, line and field, when it comes from a file."""
        if not self.file:
            return self.message
        where = [self.file]
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.field:
            where.append(f"column {self.field!r}")
        prefix = ", ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message


class InvalidInput(DomainError):
    """The input breaks a rule; nothing was changed (CLI exit 3, HTTP 400/422)."""

    code = "invalid_input"


class NotFound(DomainError):
    """The thing named does not exist (CLI exit 3, HTTP 404)."""

    code = "not_found"


class Conflict(DomainError):
    """The request conflicts with the current state (CLI exit 3, HTTP 409)."""

    code = "conflict"


class BadRequest(InvalidInput):
    """The request itself is malformed: a field missing, of the wrong kind or out of range."""

    code = "bad_request"


class Unauthenticated(DomainError):
    """Who asks cannot be established (a signature that does not verify)."""

    code = "unauthenticated"


class Refused(DomainError):
    """Who asks is known and is refused (a revoked card, a restricted resident)."""

    code = "refused"


class Unavailable(DomainError):
    """The service is closed for this request now (suspended, outside hours, a drill)."""

    code = "unavailable"


class UpstreamFailed(DomainError):
    """A system this one depends on failed or answered what cannot be used."""

    code = "upstream_failed"


class UpstreamTimeout(UpstreamFailed):
    """A system this one depends on did not answer in time."""

    code = "upstream_timeout"


def parse_choice(choices: type[E], text: str, what: str, field: str) -> E:
    """One of an enumeration's values, or InvalidInput naming them all:
    ``unknown kind 'borough' (one of designated-city, city, …)``."""
    try:
        return choices(text)
    except ValueError:
        allowed = ", ".join(c.value for c in choices)
        raise InvalidInput(f"unknown {what} {text!r} (one of {allowed})", field=field) from None
