"""The log file's two formats, and what a line knows of the HTTP request it was written in.

``human`` (the default) is ``time LEVEL logger: message``. ``json`` (``--log-format json``,
``$BCL_LOG_FORMAT``, ``log-format`` in config.toml) writes each event as one JSON object
on one line: ``time``, ``level``, ``logger``, ``event`` (the message), and, for what is
written while an HTTP request is served, ``request_id``, ``route``, ``method``,
``municipality`` (once known), and on the access line ``status``, ``latency_ms``,
``path`` and ``bytes``.

Nothing here adds personal data: the fields are a random request id (or the caller's
``X-Request-Id`` when it is a plain token), the route's template (``/kiosk/v1/requests/{id}``),
a municipality code and numbers; the access line's path is the one the access log already
redacts (``http.common.loggable_path``: no query, no resident or verification code).
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from typing import Any

FORMATS = ("human", "json")

#: The human format, as it has always been.
HUMAN = "%(asctime)s %(levelname)s %(name)s: %(message)s"

#: The fields of the request being served in this task (a dict shared with the request,
#: so that what the services note is seen by the access line written after them).
_FIELDS: ContextVar[dict[str, Any] | None] = ContextVar("bcl_log_fields", default=None)

#: A caller's request id is taken only when it is a plain token (no spaces, no quotes).
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")

#: The record attribute that carries fields of one line (the access line's status, …).
EXTRA = "bcl_fields"


def begin_request(route: str, method: str, caller_id: str | None) -> tuple[dict[str, Any], Token[Any]]:
    """Start the fields of one HTTP request (its middleware calls this first, and
    ``end_request`` with the token when the request is answered)."""
    request_id = caller_id if caller_id and _REQUEST_ID.match(caller_id) else uuid.uuid4().hex[:16]
    fields: dict[str, Any] = {"request_id": request_id, "route": route, "method": method}
    return fields, _FIELDS.set(fields)


def end_request(token: Token[Any]) -> None:
    """What is logged after the request (the next one on its connection) is not its."""
    _FIELDS.reset(token)


def note_municipality(code: str) -> None:
    """The municipality the request being served is about (a service learns it)."""
    fields = _FIELDS.get()
    if fields is not None:
        fields["municipality"] = code


class JsonFormatter(logging.Formatter):
    """One JSON object per line; never more than one line (newlines are escaped)."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "event": record.getMessage(),
        }
        context = getattr(record, EXTRA, None) or _FIELDS.get()
        if context:
            doc.update(context)
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False, default=str)


def formatter(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else logging.Formatter(HUMAN)
