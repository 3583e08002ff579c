"""Management terminals' API (contract §13), base path /manage/v1, authenticated by a
terminal's token (``Authorization: Bearer bcl_mgt_…``, from ``bcl-console terminal add``).

- ``GET  /manage/v1/status`` → the municipality's controls, whether it is open now, today's counts
- ``PUT  /manage/v1/hours`` ``{"open": "HH:MM", "close": "HH:MM"}`` → the status
- ``POST /manage/v1/suspend`` ``{"reason": TEXT}`` → the status
- ``POST /manage/v1/resume`` → the status
- ``GET  /manage/v1/issuances?date=YYYY-MM-DD[&limit=N&offset=N]`` → one day's issuances (Japan time)
- ``GET  /manage/v1/batches[?limit=N]`` → the municipality's linkage batches, newest first

Each route also answers as ``/manage/v1/municipalities/{code}/…``, and takes an optional
``municipality`` (query, or body field): a terminal names its own municipality only; any
other code, registered or not, is 403 ``other_municipality`` and changes nothing. An
unknown, revoked or missing token is 401 on every request, checked afresh each time.
Bad input is 400 (the shape: a field missing or of the wrong kind, a bad date, an unknown
parameter) or 422 (a value the rules refuse: hours that are no times of day, an empty
reason), with the usual ``{"error": {"code", "message"}}``; bodies above 4 KiB are 413.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from aiohttp import web

from bcl_console.domain.errors import BadRequest
from bcl_console.domain.fiscal import tokyo_at
from bcl_console.http.common import RUNTIME_KEY, read_json
from bcl_console.http.kiosk import RateLimiter
from bcl_console.http.terminals import terminal_auth
from bcl_console.services.linkage.service import BatchView
from bcl_console.services.manage.service import (
    MAX_BATCHES,
    MAX_PAGE,
    DayCounts,
    DayListing,
    TerminalStatus,
)
from bcl_console.store.api import TerminalRecord

PREFIX = "/manage/v1"
#: Largest body of any route here (hours or a reason: a few hundred bytes).
MAX_BODY = 4 * 1024
#: Problems shown per rejected batch (the count says how many there were).
MAX_PROBLEMS = 20

TERMINAL: web.RequestKey[TerminalRecord] = web.RequestKey("manage-terminal", TerminalRecord)
MANAGE_LIMIT_KEY: web.AppKey[RateLimiter] = web.AppKey("manage-rate-limiter")

_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
#: The names a request may give its municipality by (query parameter or body field).
_CODE_NAMES = ("municipality", "municipality_code")


manage_auth = terminal_auth("/manage/", lambda runtime: runtime.terminals, TERMINAL, MANAGE_LIMIT_KEY)


# --------------------------------------------------------------------------- requests → values
def _terminal(request: web.Request, *, query: tuple[str, ...] = ()) -> TerminalRecord:
    """The terminal asking, once every municipality the request names (path, query) is its
    own; a query parameter this route does not take is 400."""
    terminal = request[TERMINAL]
    unknown = set(request.query) - set(query) - set(_CODE_NAMES)
    if unknown:
        raise BadRequest(f"unknown query parameter(s): {', '.join(sorted(unknown))}", code="unknown_parameter")
    codes = [request.match_info.get("code")]
    for name in _CODE_NAMES:
        codes.extend(request.query.getall(name, []))
    request.app[RUNTIME_KEY].manage.scope(terminal, *codes)
    return terminal


async def _body(request: web.Request, terminal: TerminalRecord, fields: frozenset[str]) -> dict[str, Any]:
    """The JSON body (may be empty), its municipality checked first, then its fields."""
    body = await read_json(request, MAX_BODY)
    for name in _CODE_NAMES:
        if name in body:
            code = body[name]
            if not isinstance(code, str):
                raise BadRequest(f"{name} must be a municipality code (a string)", code="bad_municipality")
            request.app[RUNTIME_KEY].manage.scope(terminal, code)
    unknown = set(body) - fields - set(_CODE_NAMES)
    if unknown:
        raise BadRequest(f"unknown field(s): {', '.join(sorted(unknown))}", code="unknown_field")
    return body


def _text(body: dict[str, Any], key: str, limit: int, code: str) -> str:
    value = body.get(key)
    if not isinstance(value, str):
        raise BadRequest(f"{key} is required, as a string", code=code)
    if len(value) > limit:
        raise BadRequest(f"{key} may be at most {limit} characters", code=code)
    return value


def _whole(request: web.Request, key: str, default: int, low: int, high: int) -> int:
    text = request.query.get(key)
    if text is None:
        return default
    if not text.isascii() or not text.isdigit() or not low <= int(text) <= high:
        raise BadRequest(f"{key} must be a whole number from {low} to {high}", code=f"bad_{key}")
    return int(text)


def _day(request: web.Request) -> date | None:
    text = request.query.get("date")
    if text is None:
        return None
    try:
        if not _DATE.match(text):
            raise ValueError
        day = date.fromisoformat(text)
        if day.year > 9998:  # the day after must exist too
            raise ValueError
        return day
    except ValueError:
        raise BadRequest(f"date {text[:40]!r} is not a date (YYYY-MM-DD)", code="bad_date") from None


# --------------------------------------------------------------------------- values → JSON
def _jst(iso: str | None) -> str | None:
    """A stored instant (UTC) as Japan time, the way every answer of this API gives times."""
    if iso is None:
        return None
    try:
        return tokyo_at(iso).isoformat()
    except ValueError:  # not an instant as the store writes them: as it is
        return iso


def counts_json(c: DayCounts) -> dict[str, Any]:
    return {"date": c.day.isoformat(), "requests": c.requests, "issued": c.issued,
            "store_issued": c.store_issued, "voided": c.voided, "awaiting_payment": c.awaiting_payment,
            "by_type": c.by_type, "by_channel": c.by_channel}


def status_json(s: TerminalStatus) -> dict[str, Any]:
    v = s.municipality
    m = v.municipality
    return {
        "terminal": {"id": s.terminal.id, "name": s.terminal.name},
        "municipality": v.summary(),
        "controls": {"hours": {"open": m.hours.open, "close": m.hours.close}, "suspended": m.suspended,
                     "suspension_reason": m.suspension_reason,
                     "fees": {t.value: yen for t, yen in v.fees.items()}},
        "open_now": v.closed_reason is None,
        "closed_reason": v.closed_reason,
        "today": counts_json(s.today),
    }


def _listing_json(code: str, d: DayListing) -> dict[str, Any]:
    return {
        "municipality": code, "date": d.counts.day.isoformat(), "counts": counts_json(d.counts),
        "total": d.found.total, "limit": d.limit, "offset": d.offset,
        "issuances": [{"request_id": r.request_id, "type": r.type, "channel": r.channel, "operator": r.operator,
                       "fee": r.fee, "state": r.state, "requested_at": _jst(r.created_at),
                       "issued_at": _jst(r.issued_at), "completed_at": _jst(r.completed_at),
                       "voided_at": _jst(r.voided_at), "certificate_number": r.certificate_number}
                      for r in d.found.rows],
    }


def _batch_json(b: BatchView) -> dict[str, Any]:
    return {"sequence": b.sequence, "kind": b.kind, "received_at": _jst(b.received_at), "source": b.source,
            "outcome": b.outcome, "counts": b.counts, "problem_count": len(b.problems),
            "problems": b.problems[:MAX_PROBLEMS]}


# --------------------------------------------------------------------------- routes
async def status(request: web.Request) -> web.Response:
    terminal = _terminal(request)
    return web.json_response(status_json(await request.app[RUNTIME_KEY].manage.status(terminal)))


async def hours(request: web.Request) -> web.Response:
    terminal = _terminal(request)
    body = await _body(request, terminal, frozenset({"open", "close"}))
    open_, close = _text(body, "open", 16, "bad_hours"), _text(body, "close", 16, "bad_hours")
    done = await request.app[RUNTIME_KEY].manage.set_hours(terminal, open_, close)
    return web.json_response(status_json(done))


async def suspend(request: web.Request) -> web.Response:
    terminal = _terminal(request)
    body = await _body(request, terminal, frozenset({"reason"}))
    reason = _text(body, "reason", 1000, "missing_reason")
    return web.json_response(status_json(await request.app[RUNTIME_KEY].manage.suspend(terminal, reason)))


async def resume(request: web.Request) -> web.Response:
    terminal = _terminal(request)
    await _body(request, terminal, frozenset())
    return web.json_response(status_json(await request.app[RUNTIME_KEY].manage.resume(terminal)))


async def issuances(request: web.Request) -> web.Response:
    terminal = _terminal(request, query=("date", "limit", "offset"))
    manage = request.app[RUNTIME_KEY].manage
    day = _day(request) or manage.today()
    limit = _whole(request, "limit", 200, 1, MAX_PAGE)
    offset = _whole(request, "offset", 0, 0, 10**9)
    listing = await manage.issuances(terminal, day, limit=limit, offset=offset)
    return web.json_response(_listing_json(terminal.municipality_code, listing))


async def batches(request: web.Request) -> web.Response:
    terminal = _terminal(request, query=("limit",))
    limit = _whole(request, "limit", 50, 1, MAX_BATCHES)
    found = await request.app[RUNTIME_KEY].manage.batches(terminal, limit=limit)
    return web.json_response({"municipality": terminal.municipality_code,
                              "batches": [_batch_json(b) for b in found]})


def setup(app: web.Application) -> None:
    app[MANAGE_LIMIT_KEY] = RateLimiter(rate=50.0, burst=200.0)
    for base in (PREFIX, PREFIX + "/municipalities/{code}"):
        app.router.add_get(f"{base}/status", status)
        app.router.add_put(f"{base}/hours", hours)
        app.router.add_post(f"{base}/suspend", suspend)
        app.router.add_post(f"{base}/resume", resume)
        app.router.add_get(f"{base}/issuances", issuances)
        app.router.add_get(f"{base}/batches", batches)
