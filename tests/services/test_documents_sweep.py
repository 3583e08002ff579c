"""The daily sweep of kept documents that no issuance records (what an issuance killed
between keeping its document and its commit leaves), on both stores: it removes those
and only those, never one younger than an hour (an issuance under way elsewhere) and
never a document an issuance records, voided ones included."""

from __future__ import annotations

from datetime import timedelta

from bcl_console.services.issuance.service import SWEEP_GRACE, SWEEP_WINDOW
from bcl_console.services.platform.runtime import Runtime
from tests.conftest import age_kept, kept_names, query


async def test_the_sweep_removes_documents_no_issuance_records_and_keeps_the_rest(demo_runtime: Runtime) -> None:
    rt = demo_runtime
    resident = query(rt.settings.db_path, "SELECT resident_code FROM residents WHERE status = 'active' "
                                          "AND restricted = 0 ORDER BY resident_code LIMIT 1")[0][0]
    issued = await rt.issuance.issue(resident, "residence")
    voided = await rt.issuance.issue(resident, "residence")
    assert await rt.store.issuances.complete(voided.record.request_id, False, "2026-06-17T10:00:00+09:00")
    assert query(rt.settings.db_path, "SELECT state FROM issuances WHERE request_id = ?",
                 voided.record.request_id) == [("voided",)]
    # what a payment cut off after keeping its document leaves: a document of its attempt's
    # own, for a request whose record names another one (or none)
    cut_off = rt.issuance.document_path(issued.record.request_id, attempt="0badcafe").as_posix()
    nobody = rt.issuance.document_path("f" * 32, attempt="0badcafe").as_posix()
    for name in (cut_off, nobody):
        await rt.store.files.save(name, b"%PDF-1.7 cut off before its commit")
    before = await kept_names(rt, "documents")
    assert {cut_off, nobody, issued.record.document_path, voided.record.document_path} <= before

    # kept just now: inside the grace, so nothing is removed (it may be an issuance under way)
    swept = await rt.issuance.sweep_documents()
    assert swept.removed == () and await kept_names(rt, "documents") == before
    # kept an hour and more ago (by the clock that stamped them): the two no issuance
    # records, and only them
    await age_kept(rt, before, SWEEP_GRACE + timedelta(minutes=1))
    swept = await rt.issuance.sweep_documents()
    assert sorted(swept.removed) == sorted([cut_off, nobody])
    assert swept.checked == len(before)
    assert await kept_names(rt, "documents") == before - {cut_off, nobody}
    assert await rt.issuance.read_document(str(issued.record.document_path)) == issued.pdf
    assert await rt.issuance.read_document(str(voided.record.document_path)) == voided.pdf
    assert (await rt.verification.verify_bytes(issued.pdf)).status == "genuine"
    # one kept longer ago than the window is not looked at (the sweep stays a month's work)
    await rt.store.files.save(nobody, b"%PDF-1.7 again")
    await age_kept(rt, [nobody], SWEEP_WINDOW + timedelta(minutes=1))
    assert (await rt.issuance.sweep_documents()).removed == ()
    assert nobody in await kept_names(rt, "documents")
    # nor one stamped ahead of the clock that reads it (none is, by the same clock)
    await age_kept(rt, [nobody], -SWEEP_WINDOW - timedelta(hours=2))
    assert (await rt.issuance.sweep_documents()).removed == ()

async def test_the_sweep_is_a_scheduled_job(demo_runtime: Runtime) -> None:
    rt = demo_runtime
    outcome, detail = await rt.scheduler.run_now("documents-sweep")
    assert outcome == "ok", detail
    assert "0 removed that no issuance records" in detail
    assert "documents-sweep" in {j.name for j in await rt.scheduler.jobs()}
