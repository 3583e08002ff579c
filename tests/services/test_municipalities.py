from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bcl_console.domain.errors import Conflict, InvalidInput, NotFound
from bcl_console.domain.municipality import CertificateType
from bcl_console.services.platform.actor import Actor
from bcl_console.services.platform.events import Event, MunicipalityChanged
from bcl_console.services.platform.runtime import Runtime

OPERATOR = Actor("sato", "console")


async def add_town(rt: Runtime, code: str = "131016", **kw: object) -> None:
    args: dict[str, object] = dict(code=code, name="千代田区", kind="special-ward", population=68_000,
                                   service_start="2020-04-01", actor=OPERATOR)
    args.update(kw)
    await rt.municipalities.add(**args)  # type: ignore[arg-type]


async def test_add_list_show(runtime: Runtime) -> None:
    events: list[Event] = []
    runtime.bus.subscribe(events.append)
    await add_town(runtime)
    await runtime.municipalities.add(
        code="011011", name="札幌市", kind="designated-city", population=1_960_000,
        hosting="own-server", server_url="http://127.0.0.1:9000/issuance", actor=OPERATOR,
    )
    views = await runtime.municipalities.all()
    assert [v.code for v in views] == ["011011", "131016"]
    assert views[0].summary() == {
        "code": "011011", "name": "札幌市", "kind": "designated-city", "population": 1_960_000,
        "hosting": "own-server", "service_start": None, "state": "onboarding",
    }
    detail = (await runtime.municipalities.get("131016")).detail()
    assert detail["state"] == "live"
    assert detail["hours"] == {"open": "06:30", "close": "23:00"}
    assert detail["suspended"] is False and detail["suspension_reason"] is None
    assert detail["fees"] == {"residence": 300, "seal": 300, "tax": 300, "disaster": 0,
                              "disaster-victim": 0}
    assert detail["open_now"] is True
    assert MunicipalityChanged("131016", "add") in events


async def test_controls_change_data_and_leave_an_audit_trail(runtime: Runtime) -> None:
    await add_town(runtime)
    svc = runtime.municipalities
    view = await svc.set_hours("131016", "08:00", "20:00", actor=OPERATOR)
    assert (view.municipality.hours.open, view.municipality.hours.close) == ("08:00", "20:00")
    view = await svc.suspend("131016", "system inspection", actor=OPERATOR)
    assert view.state.value == "suspended" and view.closed_reason == "suspended"
    assert view.municipality.suspension_reason == "system inspection"
    view = await svc.resume("131016", actor=Actor("tanaka", "cli"))
    assert not view.municipality.suspended and view.state.value == "live"
    view = await svc.set_fee("131016", "residence", 200, actor=OPERATOR)
    assert view.fees[CertificateType.RESIDENCE] == 200

    trail = await svc.audit_trail("131016")
    changes = [(e.action, e.field, e.old_value, e.new_value, e.actor, e.interface) for e in reversed(trail)]
    assert changes == [
        ("add", None, None, "千代田区", "sato", "console"),
        ("hours", "hours", "06:30-23:00", "08:00-20:00", "sato", "console"),
        ("suspend", "suspended", "running", "suspended: system inspection", "sato", "console"),
        ("resume", "suspended", "suspended: system inspection", "running", "tanaka", "cli"),
        ("fee", "fee.residence", "300", "200", "sato", "console"),
    ]
    assert all(e.at.startswith("2026-06-17T01:00:00") for e in trail)


async def test_a_change_that_changes_nothing_is_not_audited(runtime: Runtime) -> None:
    await add_town(runtime)
    await runtime.municipalities.resume("131016", actor=OPERATOR)
    await runtime.municipalities.set_hours("131016", "06:30", "23:00", actor=OPERATOR)
    assert len(await runtime.municipalities.audit_trail("131016")) == 1


BAD: list[tuple[str, Callable[[Runtime], object], type[Exception], str]] = [
    ("check digit", lambda rt: add_town(rt, code="131017"), InvalidInput, "wrong check digit"),
    ("kind", lambda rt: add_town(rt, code="011011", kind="borough"), InvalidInput, "unknown kind"),
    ("population", lambda rt: add_town(rt, code="011011", population=-5), InvalidInput, "negative"),
    ("duplicate", lambda rt: add_town(rt), Conflict, "already registered"),
    ("start", lambda rt: add_town(rt, code="011011", service_start="2026-13-01"), InvalidInput, "not a date"),
    ("own server url", lambda rt: add_town(rt, code="011011", hosting="own-server"), InvalidInput, "server-url"),
    ("hours 25:00", lambda rt: rt.municipalities.set_hours("131016", "25:00", "26:00", actor=OPERATOR), InvalidInput, "not a time"),
    ("hours reversed", lambda rt: rt.municipalities.set_hours("131016", "20:00", "08:00", actor=OPERATOR), InvalidInput, "not after"),
    ("unknown", lambda rt: rt.municipalities.set_hours("011011", "08:00", "20:00", actor=OPERATOR), NotFound, "not registered"),
    ("unknown suspend", lambda rt: rt.municipalities.suspend("011011", "x", actor=OPERATOR), NotFound, "not registered"),
    ("empty reason", lambda rt: rt.municipalities.suspend("131016", "  ", actor=OPERATOR), InvalidInput, "needs a reason"),
    ("fee type", lambda rt: rt.municipalities.set_fee("131016", "passport", 100, actor=OPERATOR), InvalidInput, "unknown certificate type"),
    ("fee negative", lambda rt: rt.municipalities.set_fee("131016", "seal", -1, actor=OPERATOR), InvalidInput, "outside"),
]


@pytest.mark.parametrize(("case", "call", "error", "message"), BAD, ids=[b[0] for b in BAD])
async def test_bad_input_is_refused_and_changes_nothing(
    runtime: Runtime, db_dump: Callable[[Path], list[str]], case: str,
    call: Callable[[Runtime], object], error: type[Exception], message: str,
) -> None:
    await add_town(runtime)
    before = db_dump(runtime.settings.db_path)
    with pytest.raises(error, match=message):
        await call(runtime)  # type: ignore[misc]
    assert db_dump(runtime.settings.db_path) == before
