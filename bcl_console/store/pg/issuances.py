"""Issued certificates, one row per request (PostgreSQL): the counterpart of
``store/issuances.py`` (same function names, same results).

What must be exact across every worker, and why it is:

- ``next_number`` is one ``INSERT … ON CONFLICT DO UPDATE … RETURNING`` on the
  (municipality, year) row, run alone in a READ COMMITTED transaction: the row lock
  orders concurrent callers and each adds one to the number its predecessor committed,
  so a number is never given twice. (In a SERIALIZABLE write, every caller but one of a
  burst would be undone and run again: a hundred at once took up to 9 of the 12 tries.)
- ``open_request`` reads the (operator, Idempotency-Key) first: of two concurrent
  requests with one key, the second's insert hits the unique index
  ``issuances_idempotency`` and, as the key was read in its snapshot, PostgreSQL reports a
  serialization failure; run again, it finds the first one's request and answers with it.
- ``mark_issued`` and ``complete`` are guarded UPDATEs (``… AND state = …``): one caller
  changes the row, any other sees no row changed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from typing import Any

import asyncpg

from bcl_console.domain.certificate import DisasterRecord, SealRecord, TaxRecord, VictimRecord
from bcl_console.domain.errors import Conflict, NotFound
from bcl_console.domain.municipality import CertificateType, Municipality
from bcl_console.domain.resident import Resident
from bcl_console.store.api import (
    AuditEntry,
    CertificateSource,
    FeedRow,
    IdempotentRequest,
    IssuanceRecord,
    IssuedDocumentPath,
    Route,
)
from bcl_console.store.pg import municipalities as muni_store
from bcl_console.store.pg import residents as res_store
from bcl_console.store.pg.audit import append_audit
from bcl_console.store.pg.db import Conn, PgDatabase


def _record(row: asyncpg.Record) -> IssuanceRecord:
    """An issuance row (any of its states) as a record."""
    return IssuanceRecord(
        request_id=row["request_id"], type=row["type"], options=json.loads(row["options"]),
        municipality_code=row["municipality_code"], resident_code=row["resident_code"],
        channel=row["channel"], operator=row["operator"], fee=int(row["fee"]), state=row["state"],
        verification_code=row["verification_code"], content_sha256=row["content_sha256"],
        pages=row["pages"], document_path=row["document_path"], created_at=row["created_at"],
        issued_at=row["issued_at"], voided_at=row["voided_at"],
        signed_pages=tuple(json.loads(row["signed_pages"])) if row["signed_pages"] else None,
        certificate_number=row["certificate_number"], layout_version=row["layout_version"],
    )


def _changed(status: str) -> int:
    """Rows an INSERT/UPDATE/DELETE changed, from its command tag ("UPDATE 1")."""
    return int(status.rsplit(" ", 1)[-1])


def _pages_json(pages: Sequence[str] | None) -> str | None:
    return json.dumps(list(pages), ensure_ascii=False) if pages else None


async def insert_issued(conn: Conn, r: IssuanceRecord) -> None:
    await conn.execute(
        "INSERT INTO issuances (request_id, type, options, municipality_code, resident_code, channel, "
        "operator, fee, state, verification_code, content_sha256, pages, document_path, created_at, "
        "issued_at, voided_at, signed_pages, certificate_number, layout_version) "
        "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19)",
        r.request_id, r.type, json.dumps(r.options, sort_keys=True, ensure_ascii=False),
        r.municipality_code, r.resident_code, r.channel, r.operator, r.fee, r.state,
        r.verification_code, r.content_sha256, r.pages, r.document_path, r.created_at,
        r.issued_at, r.voided_at, _pages_json(r.signed_pages), r.certificate_number, r.layout_version)


async def next_number(conn: Conn, municipality_code: str, year: int) -> int:
    """The next 証明番号 of a municipality in a year (1, 2, …; one number is never given twice)."""
    value = await conn.fetchval(
        "INSERT INTO certificate_numbers (municipality_code, year, last) VALUES ($1, $2, 1) "
        "ON CONFLICT (municipality_code, year) DO UPDATE SET last = certificate_numbers.last + 1 RETURNING last",
        municipality_code, year)
    return int(value)


async def by_code(conn: Conn, code: str) -> IssuanceRecord | None:
    row = await conn.fetchrow("SELECT * FROM issuances WHERE verification_code = $1", code)
    return _record(row) if row else None


async def by_request(conn: Conn, request_id: str) -> IssuanceRecord | None:
    row = await conn.fetchrow("SELECT * FROM issuances WHERE request_id = $1", request_id)
    return _record(row) if row else None


async def document_paths(conn: Conn, request_ids: Sequence[str]) -> dict[str, str | None]:
    rows = await conn.fetch("SELECT request_id, document_path FROM issuances WHERE request_id = ANY($1::text[])",
                            list(request_ids))
    return {r["request_id"]: r["document_path"] for r in rows}


async def active_seal(conn: Conn, code: str, resident_code: str) -> SealRecord | None:
    row = await conn.fetchrow(
        "SELECT s.seal_number, s.registered_on, i.png FROM seals s "
        "JOIN seal_impressions i ON i.sha256 = s.impression_sha256 "
        "WHERE s.municipality_code = $1 AND s.resident_code = $2 AND s.status = 'active' "
        'ORDER BY s.registered_on COLLATE "C" DESC, s.seal_number COLLATE "C" LIMIT 1', code, resident_code)
    if row is None:
        return None
    return SealRecord(row[0], date.fromisoformat(row[1]), bytes(row[2]))


async def tax_record(conn: Conn, code: str, resident_code: str, fiscal_year: int | None) -> TaxRecord | None:
    if fiscal_year is None:
        row = await conn.fetchrow(
            "SELECT * FROM taxes WHERE municipality_code = $1 AND resident_code = $2 "
            "ORDER BY fiscal_year DESC LIMIT 1", code, resident_code)
    else:
        row = await conn.fetchrow(
            "SELECT * FROM taxes WHERE municipality_code = $1 AND resident_code = $2 AND fiscal_year = $3",
            code, resident_code, fiscal_year)
    if row is None:
        return None
    return TaxRecord(row["fiscal_year"], int(row["total_income"]), int(row["salary_income"]), int(row["deductions"]),
                     int(row["taxable_income"]), int(row["municipal_tax"]), int(row["prefectural_tax"]),
                     dependents=row["dependents"], basic_deduction=row["basic_deduction"],
                     social_insurance_deduction=row["social_insurance_deduction"],
                     dependent_deduction=row["dependent_deduction"])


async def disaster_record(conn: Conn, code: str, household: str, disaster_id: int | None) -> DisasterRecord | None:
    row = await conn.fetchrow(
        "SELECT d.id, d.name, d.occurred_on, a.address, a.damage_class, a.flood_level, a.flood_depth_cm "
        "FROM damage_assessments a JOIN disasters d ON d.id = a.disaster_id "
        "WHERE a.municipality_code = $1 AND a.household_number = $2 AND a.current = 1 "
        "AND ($3::bigint IS NULL OR d.id = $3) ORDER BY d.occurred_on DESC, d.id DESC, a.id DESC LIMIT 1",
        code, household, disaster_id)
    if row is None:
        return None
    return DisasterRecord(int(row[0]), row[1], date.fromisoformat(row[2]), row[3], row[4],
                          flood_level=row[5], flood_depth_cm=row[6])


async def victim_record(conn: Conn, code: str, resident: str, disaster_id: int | None) -> VictimRecord | None:
    """The person's report of harm for a disaster (by default the latest disaster reported)."""
    row = await conn.fetchrow(
        "SELECT d.id, d.name, d.occurred_on, v.address, v.harm, v.reported_on FROM victim_reports v "
        "JOIN disasters d ON d.id = v.disaster_id WHERE v.municipality_code = $1 AND v.resident_code = $2 "
        "AND ($3::bigint IS NULL OR d.id = $3) ORDER BY d.occurred_on DESC, d.id DESC LIMIT 1",
        code, resident, disaster_id)
    if row is None:
        return None
    return VictimRecord(int(row[0]), row[1], date.fromisoformat(row[2]), row[3], row[4],
                        date.fromisoformat(row[5]))


async def insert_request(conn: Conn, r: IssuanceRecord, *, session_id: str, idempotency_key: str,
                         body_sha256: str, copies: int) -> None:
    await insert_issued(conn, r)
    await conn.execute(
        "UPDATE issuances SET session_id = $1, idempotency_key = $2, body_sha256 = $3, copies = $4 "
        "WHERE request_id = $5", session_id, idempotency_key, body_sha256, copies, r.request_id)


async def by_idempotency(conn: Conn, operator: str, key: str) -> IdempotentRequest | None:
    row = await conn.fetchrow("SELECT * FROM issuances WHERE operator = $1 AND idempotency_key = $2", operator, key)
    return IdempotentRequest(_record(row), row["body_sha256"], row["copies"]) if row else None


async def operator_requests(conn: Conn, operator: str) -> list[tuple[str, str | None, str]]:
    return [(r[0], r[1], r[2]) for r in await conn.fetch(
        "SELECT request_id, idempotency_key, state FROM issuances WHERE operator = $1 ORDER BY id", operator)]


def idempotency_conflict() -> Conflict:
    return Conflict("this Idempotency-Key was used with another body", code="idempotency_conflict")


async def open_request(conn: Conn, r: IssuanceRecord, session_id: str, idempotency_key: str,
                       body_sha256: str, copies: int) -> IssuanceRecord:
    """A store request, unless a concurrent retry with the same key won the race: then
    the answer is its request (or a conflict, for another body). See the module doc."""
    again = await by_idempotency(conn, r.operator or "", idempotency_key)
    if again is not None:
        if again.body_sha256 != body_sha256:
            raise idempotency_conflict()
        return again.record
    await insert_request(conn, r, session_id=session_id, idempotency_key=idempotency_key,
                         body_sha256=body_sha256, copies=copies)
    return r


async def certificate_source(conn: Conn, resident_code: str, ctype: CertificateType, options: dict[str, Any],
                             municipality_code: str | None) -> CertificateSource:
    """Read what a certificate of a resident needs, in one snapshot."""
    if municipality_code is None:
        r = await res_store.find_resident(conn, resident_code)
    else:
        r = await res_store.get_resident(conn, municipality_code, resident_code)
    if r is None:
        raise NotFound(f"resident {resident_code} is not known", field="resident")
    m = await muni_store.get_municipality(conn, r.municipality_code)
    if m is None:  # pragma: no cover - a resident always has a municipality
        raise NotFound(f"municipality {r.municipality_code} is not registered")
    members = await res_store.household_members(conn, m.code, r.household_number)
    if ctype is CertificateType.SEAL:
        return CertificateSource(m, r, members, seal=await active_seal(conn, m.code, r.resident_code))
    if ctype is CertificateType.TAX:
        fy = options.get("fiscal_year")
        latest = None if fy else await tax_record(conn, m.code, r.resident_code, None)
        return CertificateSource(m, r, members, tax=await tax_record(conn, m.code, r.resident_code, fy),
                                 latest_tax_year=latest.fiscal_year if latest else None)
    if ctype is CertificateType.DISASTER:
        disaster = await disaster_record(conn, m.code, r.household_number, options.get("disaster_id"))
        return CertificateSource(m, r, members, disaster=disaster)
    if ctype is CertificateType.DISASTER_VICTIM:
        victim = await victim_record(conn, m.code, r.resident_code, options.get("disaster_id"))
        return CertificateSource(m, r, members, victim=victim)
    return CertificateSource(m, r, members)


async def route(conn: Conn, code: str) -> Route | None:
    """One statement (a ``lookup``)."""
    found = await muni_store.municipality_with_fees(conn, code)
    return None if found is None else Route(*found)


async def mark_issued(conn: Conn, d: IssuedDocumentPath, audit: AuditEntry | None = None) -> bool:
    """awaiting_payment → issued, only from that state (one guarded transaction), with its
    audit line when it has one (counter issuance)."""
    status = await conn.execute(
        "UPDATE issuances SET state = 'issued', verification_code = $1, content_sha256 = $2, pages = $3, "
        "document_path = $4, issued_at = $5, latency_ms = $6, signed_pages = $7, certificate_number = $8, "
        "layout_version = $9 WHERE request_id = $10 AND state = 'awaiting_payment'",
        d.verification_code, d.content_sha256, d.pages, d.document_path, d.at, d.latency_ms,
        _pages_json(d.signed_pages), d.certificate_number, d.layout_version, d.request_id)
    changed = _changed(status) == 1
    if changed and audit is not None:
        await append_audit(conn, audit)
    return changed


async def complete(conn: Conn, request_id: str, printed: bool, at: str, audit: AuditEntry | None = None) -> bool:
    """issued → printed, or issued → voided (a failed print: not billed, refunded); the
    audit line, when given, is written with the change."""
    if printed:
        status = await conn.execute(
            "UPDATE issuances SET state = 'printed', completed_at = $1 WHERE request_id = $2 AND state = 'issued'",
            at, request_id)
    else:
        status = await conn.execute(
            "UPDATE issuances SET state = 'voided', completed_at = $1, voided_at = $1 "
            "WHERE request_id = $2 AND state = 'issued'", at, request_id)
    changed = _changed(status) == 1
    if changed and audit is not None:
        await append_audit(conn, audit)
    return changed


async def insert_refusal(conn: Conn, at: str, operator: str | None, municipality_code: str | None,
                         reason: str) -> None:
    await conn.execute("INSERT INTO relay_refusals (at, operator, municipality_code, reason) VALUES ($1,$2,$3,$4)",
                       at, operator, municipality_code, reason)


async def recent(conn: Conn, limit: int = 50) -> list[FeedRow]:
    rows = await conn.fetch(
        "SELECT request_id, coalesce(completed_at, issued_at, created_at) AS at, municipality_code, type, "
        "operator, channel, state, latency_ms FROM issuances ORDER BY id DESC LIMIT $1", limit)
    return [FeedRow(*r) for r in rows]


async def counts_since(conn: Conn, since: str) -> list[tuple[str, str, str, str, int]]:
    """(municipality, type, state, channel, n) of requests created since an instant."""
    return [(r[0], r[1], r[2], r[3], int(r[4])) for r in await conn.fetch(
        "SELECT municipality_code, type, state, channel, count(*) FROM issuances WHERE created_at >= $1 "
        "GROUP BY municipality_code, type, state, channel "
        'ORDER BY municipality_code COLLATE "C", type COLLATE "C", state COLLATE "C", channel COLLATE "C"', since)]


async def refusals_since(conn: Conn, since: str) -> list[tuple[str, int]]:
    return [(r[0], int(r[1])) for r in await conn.fetch(
        "SELECT reason, count(*) FROM relay_refusals WHERE at >= $1 GROUP BY reason "
        'ORDER BY count(*) DESC, reason COLLATE "C"', since)]


async def insert_history(conn: Conn, rows: Sequence[tuple[object, ...]]) -> None:
    """Past store issuances without documents (the demo's year of history). Rows:
    (request_id, type, municipality, resident, channel, operator, fee, state, created_at,
    issued_at, completed_at, voided_at)."""
    if rows:
        await conn.executemany(
            "INSERT INTO issuances (request_id, type, municipality_code, resident_code, channel, operator, fee, "
            "state, created_at, issued_at, completed_at, voided_at, pages) "
            "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,2)", rows)


class PgIssuances:
    """``IssuanceStore`` on PostgreSQL."""

    def __init__(self, db: PgDatabase) -> None:
        self._db = db

    async def certificate_source(self, resident_code: str, ctype: CertificateType, options: dict[str, Any],
                                 municipality_code: str | None) -> CertificateSource:
        return await self._db.read(certificate_source, resident_code, ctype, options, municipality_code)

    async def record_issued(self, record: IssuanceRecord) -> None:
        await self._db.write(insert_issued, record)

    async def next_number(self, municipality_code: str, year: int) -> int:
        """One statement whose row lock keeps the numbers exact (module doc)."""
        return await self._db.write_committed(next_number, municipality_code, year)

    async def by_code(self, code: str) -> IssuanceRecord | None:
        return await self._db.read(by_code, code)

    async def by_request(self, request_id: str) -> IssuanceRecord | None:
        return await self._db.lookup(by_request, request_id)

    async def document_paths(self, request_ids: Sequence[str]) -> dict[str, str | None]:
        return await self._db.lookup(document_paths, request_ids)

    async def by_idempotency(self, operator: str, key: str) -> IdempotentRequest | None:
        return await self._db.lookup(by_idempotency, operator, key)

    async def operator_requests(self, operator: str) -> list[tuple[str, str | None, str]]:
        return await self._db.read(operator_requests, operator)

    async def open_request(self, record: IssuanceRecord, *, session_id: str, idempotency_key: str,
                           body_sha256: str, copies: int) -> IssuanceRecord:
        return await self._db.write(open_request, record, session_id, idempotency_key, body_sha256, copies)

    async def mark_issued(self, issued: IssuedDocumentPath, audit: AuditEntry | None = None) -> bool:
        return await self._db.write(mark_issued, issued, audit)

    async def complete(self, request_id: str, printed: bool, at: str, audit: AuditEntry | None = None) -> bool:
        return await self._db.write(complete, request_id, printed, at, audit)

    async def record_refusal(self, at: str, operator: str | None, municipality_code: str | None,
                             reason: str) -> None:
        await self._db.write(insert_refusal, at, operator, municipality_code, reason)

    async def route(self, municipality_code: str) -> Route | None:
        return await self._db.lookup(route, municipality_code)

    async def municipality(self, municipality_code: str) -> Municipality | None:
        return await self._db.lookup(muni_store.get_municipality, municipality_code)

    async def resident(self, municipality_code: str, resident_code: str) -> Resident | None:
        return await self._db.lookup(res_store.get_resident, municipality_code, resident_code)
