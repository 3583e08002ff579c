"""Management terminals over real HTTP (contract §13): a terminal of 北山町 (993611)
controls 北山町 only, is refused at once when revoked, and changes the very controls the
console changes; bad input gets the standard error JSON."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import aiohttp
import pytest

from bcl_console.domain.terminals import MANAGE
from bcl_console.http.app import start_http
from bcl_console.services.platform.actor import Actor
from bcl_console.services.platform.runtime import Runtime
from tests.conftest import dump, query

TOWN, VILLAGE = "993611", "994821"  # 北山町, 桜川村 (the demo's)
CONSOLE = Actor("sato", "console")


@pytest.fixture
async def centre(demo_runtime: Runtime) -> AsyncIterator[tuple[Runtime, str, str]]:
    """The demo centre served on a loopback port, and a new terminal of 北山町 with its token."""
    server = await start_http(demo_runtime, "127.0.0.1", 0)
    issued = await demo_runtime.terminals.add(TOWN, "総務課 LGWAN端末", actor=CONSOLE)
    yield demo_runtime, server.url, issued.token


async def call(method: str, url: str, token: str | None, *, body: Any = None, raw: bytes | None = None,
               headers: dict[str, str] | None = None) -> tuple[int, Any]:
    sent = dict(headers or {})
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    async with aiohttp.ClientSession() as http:
        kw: dict[str, Any] = {"headers": sent}
        if raw is not None:
            kw["data"] = raw
            sent.setdefault("Content-Type", "application/json")
        elif body is not None:
            kw["json"] = body
        async with http.request(method, url, **kw) as r:
            assert r.content_type == "application/json", (r.status, await r.text())
            return r.status, await r.json()


def error_code(doc: Any) -> str:
    assert set(doc) == {"error"} and set(doc["error"]) == {"code", "message"} and doc["error"]["message"]
    return str(doc["error"]["code"])


async def test_status_and_each_control_of_its_own_municipality(centre: tuple[Runtime, str, str]) -> None:
    rt, url, token = centre
    assert token.startswith(MANAGE.token_prefix)
    status, doc = await call("GET", f"{url}/manage/v1/status", token)
    assert status == 200, doc
    assert doc["terminal"]["name"] == "総務課 LGWAN端末"
    assert doc["municipality"]["code"] == TOWN and doc["municipality"]["name"] == "北山町"
    assert doc["controls"] == {"hours": {"open": "06:30", "close": "23:00"}, "suspended": False,
                               "suspension_reason": None,
                               "fees": {"residence": 300, "seal": 300, "tax": 300, "disaster": 0,
                                        "disaster-victim": 0}}
    assert doc["open_now"] is True and doc["closed_reason"] is None  # 10:00 on a weekday
    # today's requests are the demo's own of 北山町 (its layout re-test's), nothing else
    today = query(rt.settings.db_path, "SELECT count(*) FROM issuances WHERE municipality_code = ? "
                  "AND created_at >= ? AND created_at < ?", TOWN, "2026-06-16T15:00:00+00:00",
                  "2026-06-17T15:00:00+00:00")[0][0]
    assert doc["today"]["date"] == "2026-06-17" and doc["today"]["requests"] == today

    status, doc = await call("PUT", f"{url}/manage/v1/hours", token, body={"open": "08:00", "close": "20:00"})
    assert status == 200 and doc["controls"]["hours"] == {"open": "08:00", "close": "20:00"}
    status, doc = await call("POST", f"{url}/manage/v1/suspend", token, body={"reason": "庁舎 停電"})
    assert status == 200 and doc["controls"]["suspended"] is True
    assert doc["open_now"] is False and doc["closed_reason"] == "suspended"
    assert doc["municipality"]["state"] == "suspended"
    status, doc = await call("POST", f"{url}/manage/v1/resume", token)  # no body at all
    assert status == 200 and doc["controls"]["suspended"] is False and doc["open_now"] is True

    # each change is in the audit trail: the terminal's name, interface manage, old → new
    trail = await rt.municipalities.audit_trail(TOWN, limit=3)
    assert [(e.actor, e.interface, e.action, e.old_value, e.new_value) for e in trail] == [
        ("総務課 LGWAN端末", "manage", "resume", "suspended: 庁舎 停電", "running"),
        ("総務課 LGWAN端末", "manage", "suspend", "running", "suspended: 庁舎 停電"),
        ("総務課 LGWAN端末", "manage", "hours", "06:30-23:00", "08:00-20:00"),
    ]
    # the own code may be named, in the path, the query or the body
    for path in (f"/manage/v1/municipalities/{TOWN}/status", f"/manage/v1/status?municipality={TOWN}"):
        assert (await call("GET", url + path, token))[0] == 200
    lines = len(await rt.municipalities.audit_trail(TOWN, limit=1000))
    status, _ = await call("PUT", f"{url}/manage/v1/hours", token,
                           body={"open": "08:00", "close": "20:00", "municipality": TOWN})
    assert status == 200  # the same value again: no new line
    assert len(await rt.municipalities.audit_trail(TOWN, limit=1000)) == lines


async def test_the_console_and_the_terminal_change_the_same_controls(centre: tuple[Runtime, str, str]) -> None:
    rt, url, token = centre
    svc = rt.municipalities
    # the terminal changes → the console's service sees it
    await call("PUT", f"{url}/manage/v1/hours", token, body={"open": "07:15", "close": "21:45"})
    await call("POST", f"{url}/manage/v1/suspend", token, body={"reason": "システム点検"})
    view = await svc.get(TOWN)
    assert (view.municipality.hours.open, view.municipality.hours.close) == ("07:15", "21:45")
    assert view.municipality.suspended and view.municipality.suspension_reason == "システム点検"
    # the console changes → the terminal sees it
    await svc.resume(TOWN, actor=CONSOLE)
    await svc.set_hours(TOWN, "09:00", "17:00", actor=CONSOLE)
    await svc.set_fee(TOWN, "seal", 250, actor=CONSOLE)
    status, doc = await call("GET", f"{url}/manage/v1/status", token)
    assert status == 200 and doc["controls"]["hours"] == {"open": "09:00", "close": "17:00"}
    assert doc["controls"]["suspended"] is False and doc["controls"]["fees"]["seal"] == 250
    # and the trail tells the interfaces apart
    trail = [(e.actor, e.interface, e.action) for e in await svc.audit_trail(TOWN, limit=5)]
    assert trail == [("sato", "console", "fee"), ("sato", "console", "hours"), ("sato", "console", "resume"),
                     ("総務課 LGWAN端末", "manage", "suspend"), ("総務課 LGWAN端末", "manage", "hours")]


async def test_every_route_touching_another_municipality_is_403(centre: tuple[Runtime, str, str]) -> None:
    rt, url, token = centre
    before = dump(rt.settings.db_path)
    bodies: dict[str, Any] = {"hours": {"open": "01:00", "close": "02:00"}, "suspend": {"reason": "乗っ取り"},
                              "resume": {}}
    routes = [("GET", "status"), ("PUT", "hours"), ("POST", "suspend"), ("POST", "resume"),
              ("GET", "issuances"), ("GET", "batches")]
    tried = 0
    for other in (VILLAGE, "992011", "000000", "99482", TOWN + " "):  # another, a third, unknown, malformed
        for method, route in routes:
            body = bodies.get(route)
            attempts: list[tuple[str, Any]] = [
                (f"/manage/v1/municipalities/{other}/{route}", body),
                (f"/manage/v1/{route}?municipality={other}", body),
                (f"/manage/v1/{route}?municipality_code={other}", body),
                (f"/manage/v1/{route}?municipality={TOWN}&municipality={other}", body),
            ]
            if method != "GET":
                attempts.append((f"/manage/v1/{route}", {**(body or {}), "municipality": other}))
                attempts.append((f"/manage/v1/{route}", {**(body or {}), "municipality_code": other}))
                # the other code wins over a body's own mistakes: 403, not 400
                attempts.append((f"/manage/v1/{route}", {"municipality": other, "bogus": 1}))
            if route == "issuances":
                attempts.append((f"/manage/v1/issuances?date=2026-06-16&municipality={other}", None))
            for path, sent in attempts:
                status, doc = await call(method, url + path, token, body=sent)
                assert status == 403, (method, path, sent, doc)
                assert error_code(doc) == "other_municipality", (path, doc)
                assert VILLAGE not in str(doc) or other == VILLAGE  # nothing of anyone else
                tried += 1
    assert tried > 150
    assert dump(rt.settings.db_path) == before  # nothing changed, nothing audited
    village = await rt.municipalities.get(VILLAGE)
    assert village.municipality.hours.open == "06:30" and not village.municipality.suspended


@pytest.mark.sqlite_only
async def test_a_revoked_token_is_401_at_once(centre: tuple[Runtime, str, str]) -> None:
    rt, url, token = centre
    village = await rt.terminals.add(VILLAGE, "桜川村 住民課", actor=CONSOLE)
    assert (await call("GET", f"{url}/manage/v1/status", token))[0] == 200

    record, changed = await rt.terminals.revoke(TOWN, "総務課 LGWAN端末", actor=CONSOLE)
    assert changed and not record.active
    for method, route, body in (("GET", "status", None), ("PUT", "hours", {"open": "08:00", "close": "09:00"}),
                                ("POST", "suspend", {"reason": "x"}), ("POST", "resume", None),
                                ("GET", "issuances", None), ("GET", "batches", None)):
        status, doc = await call(method, f"{url}/manage/v1/{route}", token, body=body)
        assert status == 401 and error_code(doc) == "unauthorized", (route, doc)
    # another terminal is untouched; revoking again changes nothing
    status, doc = await call("GET", f"{url}/manage/v1/status", village.token)
    assert status == 200 and doc["municipality"]["code"] == VILLAGE
    assert (await rt.terminals.revoke(TOWN, str(record.id), actor=CONSOLE))[1] is False
    # no token, a wrong one, one of another kind, a malformed header: 401 alike
    kiosk = await rt.tokens.issue("kiosk", "テスト", actor=CONSOLE)
    for sent, headers in ((None, None), (MANAGE.token_prefix + "x" * 43, None), (kiosk, None),
                          (None, {"Authorization": f"Basic {village.token}"}), ("x" * 5000, None)):
        status, doc = await call("GET", f"{url}/manage/v1/status", sent, headers=headers)
        assert status == 401 and error_code(doc) == "unauthorized"
    # a terminal revoked from its name may be registered again under that name: a new token
    again = await rt.terminals.add(TOWN, "総務課 LGWAN端末", actor=CONSOLE)
    assert again.token != token and (await call("GET", f"{url}/manage/v1/status", again.token))[0] == 200
    assert (await call("GET", f"{url}/manage/v1/status", token))[0] == 401
    # only the token's hash is kept
    assert not query(rt.settings.db_path, "SELECT 1 FROM terminals WHERE token_sha256 = ?", token)
    assert token.encode() not in rt.settings.db_path.read_bytes()


async def test_bad_input_is_the_standard_error_and_changes_nothing(centre: tuple[Runtime, str, str]) -> None:
    rt, url, token = centre
    before = dump(rt.settings.db_path)
    cases: list[tuple[str, str, dict[str, Any], int, str]] = [
        ("PUT", "hours", {"body": {"open": "25:00", "close": "26:00"}}, 422, "invalid_input"),
        ("PUT", "hours", {"body": {"open": "20:00", "close": "08:00"}}, 422, "invalid_input"),
        ("PUT", "hours", {"body": {"open": "8時", "close": "20:00"}}, 422, "invalid_input"),
        ("PUT", "hours", {"body": {"open": "08:00"}}, 400, "bad_hours"),
        ("PUT", "hours", {"body": {"open": 800, "close": 2000}}, 400, "bad_hours"),
        ("PUT", "hours", {"body": {"open": "08:00", "close": "20:00", "days": 5}}, 400, "unknown_field"),
        ("PUT", "hours", {"body": ["08:00", "20:00"]}, 400, "malformed_json"),
        ("PUT", "hours", {"raw": b'{"open": "08:00", "close": '}, 400, "malformed_json"),
        ("PUT", "hours", {"raw": b'{"open": "\\ud800", "close": "20:00"}'}, 400, "malformed_json"),
        ("PUT", "hours", {"raw": b"\xff\xfe"}, 400, "malformed_json"),
        ("PUT", "hours", {"raw": b"[" * 40 + b"]" * 40}, 400, "malformed_json"),
        ("PUT", "hours", {"raw": b'{"open": "' + b"0" * 5000 + b'"}'}, 413, "too_large"),
        ("POST", "suspend", {"body": {}}, 400, "missing_reason"),
        ("POST", "suspend", {}, 400, "missing_reason"),
        ("POST", "suspend", {"body": {"reason": None}}, 400, "missing_reason"),
        ("POST", "suspend", {"body": {"reason": "   "}}, 422, "invalid_input"),
        ("POST", "suspend", {"body": {"reason": "長" * 201}}, 422, "invalid_input"),
        ("POST", "suspend", {"body": {"reason": "x" * 1001}}, 400, "missing_reason"),
        ("POST", "suspend", {"raw": b'{"reason": "' + b"x" * 4096 + b'"}'}, 413, "too_large"),
        ("POST", "suspend", {"body": {"reason": "x", "municipality": 993611}}, 400, "bad_municipality"),
        ("POST", "resume", {"body": {"now": True}}, 400, "unknown_field"),
        ("GET", "issuances?date=2026-02-30", {}, 400, "bad_date"),
        ("GET", "issuances?date=20260617", {}, 400, "bad_date"),
        ("GET", "issuances?date=yesterday", {}, 400, "bad_date"),
        ("GET", "issuances?date=9999-12-31", {}, 400, "bad_date"),
        ("GET", "issuances?date=%EF%BC%92%EF%BC%90%EF%BC%92%EF%BC%96-06-17", {}, 400, "bad_date"),  # full-width
        ("GET", "issuances?day=2026-06-17", {}, 400, "unknown_parameter"),
        ("GET", "issuances?limit=0", {}, 400, "bad_limit"),
        ("GET", "issuances?limit=99999999999999999999999", {}, 400, "bad_limit"),
        ("GET", "issuances?offset=-1", {}, 400, "bad_offset"),
        ("GET", "batches?limit=x", {}, 400, "bad_limit"),
        ("GET", "status?verbose=1", {}, 400, "unknown_parameter"),
        ("GET", "nothing-here", {}, 404, "not_found"),
    ]
    for method, route, kw, want, code in cases:
        status, doc = await call(method, f"{url}/manage/v1/{route}", token, **kw)
        assert (status, error_code(doc)) == (want, code), (method, route, kw, doc)
    assert dump(rt.settings.db_path) == before
    # a right method on a wrong route is 405, with the same error shape
    status, doc = await call("DELETE", f"{url}/manage/v1/hours", token)
    assert status == 405 and error_code(doc) == "method_not_allowed"


@pytest.mark.sqlite_only
async def test_a_days_issuances_and_the_batches(centre: tuple[Runtime, str, str]) -> None:
    rt, url, token = centre
    status, before = await call("GET", f"{url}/manage/v1/issuances", token)  # the demo's own of today
    assert status == 200
    resident = query(rt.settings.db_path, "SELECT resident_code FROM residents WHERE municipality_code = ? "
                     "AND status = 'active' AND restricted = 0 LIMIT 1", TOWN)[0][0]
    doc_ = await rt.issuance.issue(resident, "residence", {"scope": "self"}, channel="counter")
    village_resident = query(rt.settings.db_path, "SELECT resident_code FROM residents WHERE municipality_code = ? "
                             "AND status = 'active' AND restricted = 0 LIMIT 1", VILLAGE)[0][0]
    await rt.issuance.issue(village_resident, "residence", {"scope": "self"}, channel="counter")

    status, doc = await call("GET", f"{url}/manage/v1/issuances", token)  # today by default
    assert status == 200 and doc["municipality"] == TOWN and doc["date"] == "2026-06-17"
    known = {i["request_id"] for i in before["issuances"]}
    new = [i for i in doc["issuances"] if i["request_id"] not in known]
    assert [i["request_id"] for i in new] == [doc_.record.request_id]  # not 桜川村's
    item = new[0]
    assert item["type"] == "residence" and item["channel"] == "counter" and item["state"] == "issued"
    assert item["requested_at"].endswith("+09:00") and item["certificate_number"]
    assert resident not in str(doc)  # no resident code, no document
    assert doc["counts"]["issued"] == before["counts"]["issued"] + 1
    assert doc["counts"]["store_issued"] == before["counts"]["store_issued"]
    assert doc["counts"]["by_channel"] == {**before["counts"]["by_channel"],
                                           "counter": before["counts"]["by_channel"].get("counter", 0) + 1}
    status, st = await call("GET", f"{url}/manage/v1/status", token)
    assert st["today"] == doc["counts"]

    # a past day of the demo's history: every store issuance of that day in Japan, paged
    day = date(2026, 6, 17) - timedelta(days=3)
    status, doc = await call("GET", f"{url}/manage/v1/issuances?date={day}&limit=2", token)
    assert status == 200, doc
    want = query(rt.settings.db_path, "SELECT count(*) FROM issuances WHERE municipality_code = ? "
                 "AND date(datetime(created_at, '+9 hours')) = ?", TOWN, day.isoformat())[0][0]
    assert want > 0 and doc["total"] == want and len(doc["issuances"]) == min(2, want)
    assert all(i["requested_at"].startswith(day.isoformat()) for i in doc["issuances"])
    assert doc["counts"]["requests"] == want and doc["counts"]["store_issued"] == doc["counts"]["issued"]
    status, page2 = await call("GET", f"{url}/manage/v1/issuances?date={day}&limit=2&offset=2", token)
    assert status == 200 and not {i["request_id"] for i in page2["issuances"]} & {
        i["request_id"] for i in doc["issuances"]}

    status, doc = await call("GET", f"{url}/manage/v1/batches", token)
    assert status == 200 and doc["municipality"] == TOWN and doc["batches"]
    kept = query(rt.settings.db_path, "SELECT count(*) FROM linkage_batches WHERE municipality_code = ?", TOWN)[0][0]
    assert len(doc["batches"]) == kept
    assert {b["outcome"] for b in doc["batches"]} <= {"applied", "rejected", "already-applied"}
    assert all(b["received_at"].endswith("+09:00") for b in doc["batches"])


async def test_the_demo_has_a_terminal_for_each_live_municipality(demo_runtime: Runtime) -> None:
    live = {v.code for v in await demo_runtime.municipalities.all() if v.state.value == "live"}
    terminals = await demo_runtime.terminals.list()
    assert live == {TOWN, VILLAGE, "992011"}
    assert sorted(t.municipality_code for t in terminals) == sorted(live) and all(t.active for t in terminals)
    assert {t.name for t in terminals} >= {"北山町 管理端末", "桜川村 管理端末"}
