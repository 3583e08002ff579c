"""Guards that a mutation experiment found unwatched: the completion's state and result
checks, the nightly check's size comparison, restore's choice of full backup, and the
refusal of a card this centre never issued."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bcl_console.http.app import start_http
from bcl_console.services.linkage.batch_writer import write_csv, write_manifest
from bcl_console.services.platform.actor import Actor
from bcl_console.services.platform.runtime import Runtime
from tests.conftest import query
from tests.services.relay_client import Kiosk

OP = Actor("op", "cli")
TOWN = "993611"
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "linkage"


def q(rt: Runtime, sql: str, *params: object) -> list[tuple]:  # type: ignore[type-arg]
    return query(rt.settings.db_path, sql, *params)


@pytest.fixture
async def relay(demo_runtime: Runtime) -> AsyncIterator[tuple[Runtime, Kiosk]]:
    server = await start_http(demo_runtime, "127.0.0.1", 0)
    token = await demo_runtime.tokens.issue("kiosk", "Seven Mart", actor=OP)
    async with aiohttp.ClientSession() as http:
        yield demo_runtime, Kiosk(server.url, token, http)


def residents(rt: Runtime, n: int) -> list[str]:
    """Active, unrestricted residents of the town, each used by one flow at most."""
    return [str(r[0]) for r in q(rt, "SELECT resident_code FROM residents WHERE municipality_code=? "
                                     "AND status='active' AND restricted=0 ORDER BY resident_code LIMIT ?", TOWN, n)]


async def requested(rt: Runtime, kiosk: Kiosk, resident_code: str, key: str) -> dict[str, Any]:
    """A card authenticated and a residence certificate requested: awaiting payment."""
    card = await rt.pki.issue_card(TOWN, resident_code, actor=OP)
    status, s = await kiosk.session(card.pem)
    assert status == 201, s
    status, req = await kiosk.call("POST", "/requests", {"session_id": s["session_id"], "type": "residence"},
                                   {"Idempotency-Key": key})
    assert status == 201 and req["status"] == "awaiting_payment", req
    return req


async def paid(rt: Runtime, kiosk: Kiosk, resident_code: str, key: str) -> str:
    """… and paid: the document is issued, its print not completed yet."""
    req = await requested(rt, kiosk, resident_code, key)
    status, body = await kiosk.call("POST", f"/requests/{req['request_id']}/payment", {"amount": req["fee_total"]})
    assert status == 200 and body["status"] == "issued", body
    return str(req["request_id"])


def row(rt: Runtime, request_id: str) -> tuple:  # type: ignore[type-arg]
    return q(rt, "SELECT state, fee, voided_at, completed_at FROM issuances WHERE request_id=?", request_id)[0]


# -- 1. a failed completion voids only an issued request --------------------------------------
@pytest.mark.parametrize("state", ["awaiting_payment", "printed"])
async def test_a_failed_completion_of_an_unpaid_or_printed_request_is_409_and_refunds_nothing(
    relay: tuple[Runtime, Kiosk], state: str,
) -> None:
    rt, kiosk = relay
    rc = residents(rt, 1)[0]
    if state == "awaiting_payment":
        rid = (await requested(rt, kiosk, rc, "k"))["request_id"]
    else:
        rid = await paid(rt, kiosk, rc, "k")
        status, done = await kiosk.call("POST", f"/requests/{rid}/completion", {"result": "printed"})
        assert status == 200 and done["status"] == "printed"
    before = row(rt, rid)
    assert before[:3] == (state, 300, None)
    status, err = await kiosk.call("POST", f"/requests/{rid}/completion", {"result": "failed"})
    assert status == 409 and err["error"]["code"] == "wrong_state", err
    assert "refunded" not in err
    assert row(rt, rid) == before  # neither voided nor refunded, its completion time untouched
    if state == "printed":  # the certificate handed out is still genuine
        code = q(rt, "SELECT verification_code FROM issuances WHERE request_id=?", rid)[0][0]
        assert (await rt.verification.verify_code(code)).status == "genuine"
    else:  # the request can still be paid and printed
        status, body = await kiosk.call("POST", f"/requests/{rid}/payment", {"amount": 300})
        assert status == 200 and body["status"] == "issued"


# -- 5. the completion's result is validated before anything is written ------------------------
@pytest.mark.parametrize("result", ["burned", "", 1, None, "FAILED"], ids=repr)
async def test_an_invalid_completion_result_is_400_and_leaves_an_issued_request_issued(
    relay: tuple[Runtime, Kiosk], result: object,
) -> None:
    rt, kiosk = relay
    rid = await paid(rt, kiosk, residents(rt, 1)[0], "k")
    status, err = await kiosk.call("POST", f"/requests/{rid}/completion", {"result": result})
    assert status == 400 and err["error"]["code"] == "bad_result", err
    assert row(rt, rid) == ("issued", 300, None, None)  # not voided, not refunded, not completed
    status, err = await kiosk.call("POST", f"/requests/{rid}/completion", {})
    assert status == 400 and err["error"]["code"] == "bad_result", err
    assert row(rt, rid) == ("issued", 300, None, None)
    status, done = await kiosk.call("POST", f"/requests/{rid}/completion", {"result": "printed"})
    assert status == 200 and done == {"status": "printed", "refunded": 0}


# -- 4. a card of our own CA that was never recorded here ----------------------------------------
@pytest.mark.sqlite_only
async def test_a_card_signed_by_our_ca_but_never_recorded_is_refused(relay: tuple[Runtime, Kiosk]) -> None:
    rt, kiosk = relay
    rc = residents(rt, 1)[0]

    def refusals() -> int:
        return int(q(rt, "SELECT count(*) FROM relay_refusals WHERE reason='unknown_card' AND operator='Seven Mart'")[0][0])

    # made with the centre's CA key, never written to the cards table
    unrecorded = rt.pki.make_card(TOWN, rc)
    assert q(rt, "SELECT count(*) FROM cards WHERE serial=?", unrecorded.serial) == [(0,)]
    # issued and recorded, then its row lost
    issued = await rt.pki.issue_card(TOWN, rc, actor=OP)
    conn = sqlite3.connect(rt.settings.db_path)
    try:
        with conn:
            conn.execute("DELETE FROM cards WHERE serial=?", (issued.serial,))
    finally:
        conn.close()
    for n, card in enumerate((unrecorded, issued), start=1):
        status, err = await kiosk.session(card.pem)
        assert status == 403 and err["error"]["code"] == "unknown_card", err  # not "revoked": it never was
        assert "session_id" not in err
        assert refusals() == n  # each refusal is recorded
    # the same person with a recorded card is let in: the refusal was the card's
    status, s = await kiosk.session((await rt.pki.issue_card(TOWN, rc, actor=OP)).pem)
    assert status == 201 and s["resident_code"] == rc


# -- 2. the nightly check compares each backup's size -------------------------------------------
async def test_a_truncated_backup_with_its_header_intact_fails_the_nightly_check(demo_runtime: Runtime) -> None:
    rt = demo_runtime
    assert (await rt.linkage.link(FIXTURES / "valid-full")).outcome == "applied"
    (backup,) = await rt.linkage.backups(TOWN)
    every = len(await rt.linkage.backups())  # the demo's other municipalities have theirs
    outcome, detail = await rt.scheduler.run_now("nightly-backup-check")
    assert outcome == "ok" and detail.startswith(f"{every} backup(s) present and readable")
    data = await rt.store.files.read(backup.path)  # a file on SQLite, a row on PostgreSQL
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0x01  # the same size, one bit changed: AES-GCM's tag says so
    await rt.store.files.save(backup.path, bytes(flipped))
    outcome, detail = await rt.scheduler.run_now("nightly-backup-check")
    assert outcome == "failed" and f"{TOWN}#{backup.sequence}" in detail, detail
    assert data.startswith(b"BCLBAK1\n") and len(data) == backup.size
    await rt.store.files.save(backup.path, data[: len(data) // 2])  # cut short: the magic header is still there
    outcome, detail = await rt.scheduler.run_now("nightly-backup-check")
    assert outcome == "failed" and f"{TOWN}#{backup.sequence}" in detail, detail
    assert detail.startswith(f"1 of {every} backups missing or damaged")
    last = (await rt.scheduler.history())[0]
    assert (last.outcome, last.detail) == ("failed", detail)  # and the run is recorded


# -- 3. restore starts from the newest full backup -----------------------------------------------
HEADER = ("resident_code", "household_number", "name", "name_kana", "birth_date", "sex",
          "relationship", "address", "resident_since", "status")


def person(code: str, address: str = "東雲県北山町1番地") -> tuple[str, ...]:
    return (code, f"H{code[-4:]}", "試験 太郎", "シケン タロウ", "1980-01-01", "1", "世帯主", address,
            "2000-01-01", "active")


def batch(root: Path, sequence: int, kind: str, rows: list[tuple[str, ...]]) -> Path:
    d = root / f"{sequence:02d}-{kind}"
    d.mkdir()
    header = HEADER if kind == "full" else (*HEADER, "change")
    files = {"residents.csv": write_csv(d / "residents.csv", header, rows)}
    write_manifest(d, municipality_code=TOWN, sequence=sequence, kind=kind,
                   created_at="2026-06-01T00:00:00+09:00", files=files)
    return d


@pytest.mark.parametrize("second_full", [3, 5], ids=["consecutive", "after-a-skip"])
async def test_restore_starts_from_the_newest_full_backup(runtime: Runtime, tmp_path: Path,
                                                          second_full: int) -> None:
    rt = runtime
    await rt.municipalities.add(code=TOWN, name="北山町", kind="town", population=6200, actor=OP)

    def held() -> list[tuple]:  # type: ignore[type-arg]
        return q(rt, "SELECT resident_code, address FROM residents WHERE municipality_code=? ORDER BY 1", TOWN)

    first = [person(f"2{i:010d}") for i in range(3)]
    second = [person(f"4{i:010d}") for i in range(3)]
    steps = [
        batch(tmp_path, 1, "full", first),
        batch(tmp_path, 2, "delta", [(*person("20000000009"), "A"), (*first[0][:7], "東雲県北山町2番地", *first[0][8:], "U")]),
        batch(tmp_path, second_full, "full", second),
        batch(tmp_path, second_full + 1, "delta", [(*second[1], "D"), (*person("40000000009"), "A")]),
    ]
    snapshots = []
    for path in steps:
        result = await rt.linkage.link(path)
        assert result.outcome == "applied", result.problems
        snapshots.append(held())
    assert snapshots[1] == [("20000000000", "東雲県北山町2番地"), ("20000000001", "東雲県北山町1番地"),
                            ("20000000002", "東雲県北山町1番地"), ("20000000009", "東雲県北山町1番地")]
    assert [r[0] for r in snapshots[3]] == ["40000000000", "40000000002", "40000000009"]
    # back to the first full batch and its delta (a restore to an older sequence) …
    doc = await rt.linkage.restore(TOWN, 2, actor=OP)
    assert doc.batches == (1, 2) and held() == snapshots[1]
    # … then forward again: the newest full batch and the delta after it, nothing older
    doc = await rt.linkage.restore(TOWN, actor=OP)
    assert doc.restored_to_sequence == second_full + 1
    assert doc.batches == (second_full, second_full + 1)
    assert held() == snapshots[3] and doc.residents == 3
