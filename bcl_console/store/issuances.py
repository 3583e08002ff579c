"""Queries on issued certificates (one row per request) and the data they are made from."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import date
from typing import Any

from bcl_console.domain.certificate import DisasterRecord, SealRecord, TaxRecord, VictimRecord
from bcl_console.domain.errors import Conflict, NotFound
from bcl_console.domain.municipality import CertificateType, Municipality
from bcl_console.domain.resident import Resident
from bcl_console.store import municipalities as muni_store
from bcl_console.store import residents as res_store
from bcl_console.store.api import (
    AuditEntry,
    CertificateSource,
    IdempotentRequest,
    IssuedDocumentPath,
    Route,
)
from bcl_console.store.api import FeedRow as FeedRow
from bcl_console.store.api import IssuanceRecord as IssuanceRecord
from bcl_console.store.audit import append_audit
from bcl_console.store.db import Database


def _record(row: sqlite3.Row) -> IssuanceRecord:
    """An issuance row (any of its states) as a record."""
    return IssuanceRecord(
        request_id=row["request_id"], type=row["type"], options=json.loads(row["options"]),
        municipality_code=row["municipality_code"], resident_code=row["resident_code"],
        channel=row["channel"], operator=row["operator"], fee=row["fee"], state=row["state"],
        verification_code=row["verification_code"], content_sha256=row["content_sha256"],
        pages=row["pages"], document_path=row["document_path"], created_at=row["created_at"],
        issued_at=row["issued_at"], voided_at=row["voided_at"],
        signed_pages=tuple(json.loads(row["signed_pages"])) if row["signed_pages"] else None,
        certificate_number=row["certificate_number"], layout_version=row["layout_version"],
    )


def insert_issued(conn: sqlite3.Connection, r: IssuanceRecord) -> None:
    conn.execute(
        "INSERT INTO issuances (request_id, type, options, municipality_code, resident_code, channel, "
        "operator, fee, state, verification_code, content_sha256, pages, document_path, created_at, "
        "issued_at, voided_at, signed_pages, certificate_number, layout_version) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (r.request_id, r.type, json.dumps(r.options, sort_keys=True, ensure_ascii=False),
         r.municipality_code, r.resident_code, r.channel, r.operator, r.fee, r.state,
         r.verification_code, r.content_sha256, r.pages, r.document_path, r.created_at,
         r.issued_at, r.voided_at, _pages_json(r.signed_pages), r.certificate_number, r.layout_version),
    )


def _pages_json(pages: Sequence[str] | None) -> str | None:
    return json.dumps(list(pages), ensure_ascii=False) if pages else None


def next_number(conn: sqlite3.Connection, municipality_code: str, year: int) -> int:
    """The next 証明番号 of a municipality in a year (1, 2, …; one number is never given twice)."""
    row = conn.execute(
        "INSERT INTO certificate_numbers (municipality_code, year, last) VALUES (?, ?, 1) "
        "ON CONFLICT (municipality_code, year) DO UPDATE SET last = last + 1 RETURNING last",
        (municipality_code, year)).fetchone()
    return int(row[0])


def by_code(conn: sqlite3.Connection, code: str) -> IssuanceRecord | None:
    row = conn.execute("SELECT * FROM issuances WHERE verification_code = ?", (code,)).fetchone()
    return _record(row) if row else None


def by_request(conn: sqlite3.Connection, request_id: str) -> IssuanceRecord | None:
    row = conn.execute("SELECT * FROM issuances WHERE request_id = ?", (request_id,)).fetchone()
    return _record(row) if row else None


def document_paths(conn: sqlite3.Connection, request_ids: Sequence[str]) -> dict[str, str | None]:
    rows = conn.execute("SELECT request_id, document_path FROM issuances WHERE request_id IN "
                        "(SELECT value FROM json_each(?))", (json.dumps(list(request_ids)),)).fetchall()
    return {str(r[0]): r[1] for r in rows}


def active_seal(conn: sqlite3.Connection, code: str, resident_code: str) -> SealRecord | None:
    row = conn.execute(
        "SELECT s.seal_number, s.registered_on, i.png FROM seals s "
        "JOIN seal_impressions i ON i.sha256 = s.impression_sha256 "
        "WHERE s.municipality_code = ? AND s.resident_code = ? AND s.status = 'active' "
        "ORDER BY s.registered_on DESC LIMIT 1",
        (code, resident_code),
    ).fetchone()
    if row is None:
        return None
    return SealRecord(row[0], date.fromisoformat(row[1]), bytes(row[2]))


def tax_record(conn: sqlite3.Connection, code: str, resident_code: str, fiscal_year: int | None) -> TaxRecord | None:
    if fiscal_year is None:
        row = conn.execute(
            "SELECT * FROM taxes WHERE municipality_code = ? AND resident_code = ? "
            "ORDER BY fiscal_year DESC LIMIT 1", (code, resident_code)).fetchone()
    else:
        row = conn.execute(
            "SELECT * FROM taxes WHERE municipality_code = ? AND resident_code = ? AND fiscal_year = ?",
            (code, resident_code, fiscal_year)).fetchone()
    if row is None:
        return None
    return TaxRecord(row["fiscal_year"], row["total_income"], row["salary_income"], row["deductions"],
                     row["taxable_income"], row["municipal_tax"], row["prefectural_tax"],
                     dependents=row["dependents"], basic_deduction=row["basic_deduction"],
                     social_insurance_deduction=row["social_insurance_deduction"],
                     dependent_deduction=row["dependent_deduction"])


def disaster_record(conn: sqlite3.Connection, code: str, household: str,
                    disaster_id: int | None) -> DisasterRecord | None:
    sql = (
        "SELECT d.id, d.name, d.occurred_on, a.address, a.damage_class, a.flood_level, a.flood_depth_cm "
        "FROM damage_assessments a "
        "JOIN disasters d ON d.id = a.disaster_id "
        "WHERE a.municipality_code = ? AND a.household_number = ? AND a.current = 1"
    )
    params: tuple[Any, ...] = (code, household)
    if disaster_id is not None:
        sql += " AND d.id = ?"
        params += (disaster_id,)
    row = conn.execute(sql + " ORDER BY d.occurred_on DESC LIMIT 1", params).fetchone()
    if row is None:
        return None
    return DisasterRecord(row[0], row[1], date.fromisoformat(row[2]), row[3], row[4],
                          flood_level=row[5], flood_depth_cm=row[6])


def victim_record(conn: sqlite3.Connection, code: str, resident: str,
                  disaster_id: int | None) -> VictimRecord | None:
    """The person's report of harm for a disaster (by default the latest disaster reported)."""
    sql = (
        "SELECT d.id, d.name, d.occurred_on, v.address, v.harm, v.reported_on FROM victim_reports v "
        "JOIN disasters d ON d.id = v.disaster_id WHERE v.municipality_code = ? AND v.resident_code = ?"
    )
    params: tuple[Any, ...] = (code, resident)
    if disaster_id is not None:
        sql += " AND d.id = ?"
        params += (disaster_id,)
    row = conn.execute(sql + " ORDER BY d.occurred_on DESC, d.id DESC LIMIT 1", params).fetchone()
    if row is None:
        return None
    return VictimRecord(row[0], row[1], date.fromisoformat(row[2]), row[3], row[4], date.fromisoformat(row[5]))


def insert_request(conn: sqlite3.Connection, r: IssuanceRecord, *, session_id: str, idempotency_key: str,
                   body_sha256: str, copies: int) -> None:
    insert_issued(conn, r)
    conn.execute(
        "UPDATE issuances SET session_id = ?, idempotency_key = ?, body_sha256 = ?, copies = ? "
        "WHERE request_id = ?",
        (session_id, idempotency_key, body_sha256, copies, r.request_id),
    )


def by_idempotency(conn: sqlite3.Connection, operator: str, key: str) -> IdempotentRequest | None:
    row = conn.execute(
        "SELECT * FROM issuances WHERE operator = ? AND idempotency_key = ?", (operator, key)
    ).fetchone()
    return IdempotentRequest(_record(row), row["body_sha256"], row["copies"]) if row else None


def operator_requests(conn: sqlite3.Connection, operator: str) -> list[tuple[str, str | None, str]]:
    return [(r[0], r[1], r[2]) for r in conn.execute(
        "SELECT request_id, idempotency_key, state FROM issuances WHERE operator = ? ORDER BY id", (operator,))]


def idempotency_conflict() -> Conflict:
    return Conflict("this Idempotency-Key was used with another body", code="idempotency_conflict")


def open_request(conn: sqlite3.Connection, r: IssuanceRecord, session_id: str, idempotency_key: str,
                 body_sha256: str, copies: int) -> IssuanceRecord:
    """A store request, unless a concurrent retry with the same key won the race: then
    the answer is its request (or a conflict, for another body)."""
    again = by_idempotency(conn, r.operator or "", idempotency_key)
    if again is not None:
        if again.body_sha256 != body_sha256:
            raise idempotency_conflict()
        return again.record
    insert_request(conn, r, session_id=session_id, idempotency_key=idempotency_key, body_sha256=body_sha256,
                   copies=copies)
    return r


def certificate_source(conn: sqlite3.Connection, resident_code: str, ctype: CertificateType,
                       options: dict[str, Any], municipality_code: str | None) -> CertificateSource:
    """Read what a certificate of a resident needs, in one snapshot."""
    if municipality_code is None:
        r = res_store.find_resident(conn, resident_code)
    else:
        r = res_store.get_resident(conn, municipality_code, resident_code)
    if r is None:
        raise NotFound(f"resident {resident_code} is not known", field="resident")
    m = muni_store.get_municipality(conn, r.municipality_code)
    if m is None:  # pragma: no cover - a resident always has a municipality
        raise NotFound(f"municipality {r.municipality_code} is not registered")
    members = res_store.household_members(conn, m.code, r.household_number)
    if ctype is CertificateType.SEAL:
        return CertificateSource(m, r, members, seal=active_seal(conn, m.code, r.resident_code))
    if ctype is CertificateType.TAX:
        fy = options.get("fiscal_year")
        latest = None if fy else tax_record(conn, m.code, r.resident_code, None)
        return CertificateSource(m, r, members, tax=tax_record(conn, m.code, r.resident_code, fy),
                                 latest_tax_year=latest.fiscal_year if latest else None)
    if ctype is CertificateType.DISASTER:
        return CertificateSource(m, r, members,
                                 disaster=disaster_record(conn, m.code, r.household_number, options.get("disaster_id")))
    if ctype is CertificateType.DISASTER_VICTIM:
        return CertificateSource(m, r, members,
                                 victim=victim_record(conn, m.code, r.resident_code, options.get("disaster_id")))
    return CertificateSource(m, r, members)


def route(conn: sqlite3.Connection, code: str) -> Route | None:
    m = muni_store.get_municipality(conn, code)
    return None if m is None else Route(m, muni_store.get_fees(conn, code))


def mark_issued(conn: sqlite3.Connection, d: IssuedDocumentPath, audit: AuditEntry | None = None) -> bool:
    """awaiting_payment → issued, only from that state (one guarded transaction), with its
    audit line when it has one (counter issuance)."""
    cur = conn.execute(
        "UPDATE issuances SET state = 'issued', verification_code = ?, content_sha256 = ?, pages = ?, "
        "document_path = ?, issued_at = ?, latency_ms = ?, signed_pages = ?, certificate_number = ?, "
        "layout_version = ? WHERE request_id = ? AND state = 'awaiting_payment'",
        (d.verification_code, d.content_sha256, d.pages, d.document_path, d.at, d.latency_ms,
         _pages_json(d.signed_pages), d.certificate_number, d.layout_version, d.request_id),
    )
    if cur.rowcount == 1 and audit is not None:
        append_audit(conn, audit)
    return cur.rowcount == 1


def complete(conn: sqlite3.Connection, request_id: str, printed: bool, at: str,
             audit: AuditEntry | None = None) -> bool:
    """issued → printed, or issued → voided (a failed print: not billed, refunded); the
    audit line, when given, is written with the change."""
    if printed:
        cur = conn.execute(
            "UPDATE issuances SET state = 'printed', completed_at = ? WHERE request_id = ? AND state = 'issued'",
            (at, request_id))
    else:
        cur = conn.execute(
            "UPDATE issuances SET state = 'voided', completed_at = ?, voided_at = ? "
            "WHERE request_id = ? AND state = 'issued'", (at, at, request_id))
    if cur.rowcount == 1 and audit is not None:
        append_audit(conn, audit)
    return cur.rowcount == 1


def insert_refusal(conn: sqlite3.Connection, at: str, operator: str | None, municipality_code: str | None,
                   reason: str) -> None:
    conn.execute(
        "INSERT INTO relay_refusals (at, operator, municipality_code, reason) VALUES (?,?,?,?)",
        (at, operator, municipality_code, reason),
    )


def recent(conn: sqlite3.Connection, limit: int = 50) -> list[FeedRow]:
    rows = conn.execute(
        "SELECT request_id, coalesce(completed_at, issued_at, created_at) AS at, municipality_code, type, "
        "operator, channel, state, latency_ms FROM issuances ORDER BY id DESC LIMIT ?", (limit,)
    ).fetchall()
    return [FeedRow(*r) for r in rows]


def counts_since(conn: sqlite3.Connection, since: str) -> list[tuple[str, str, str, str, int]]:
    """(municipality, type, state, channel, n) of requests created since an instant."""
    return [(r[0], r[1], r[2], r[3], r[4]) for r in conn.execute(
        "SELECT municipality_code, type, state, channel, count(*) FROM issuances WHERE created_at >= ? "
        "GROUP BY municipality_code, type, state, channel", (since,))]


def refusals_since(conn: sqlite3.Connection, since: str) -> list[tuple[str, int]]:
    return [(r[0], r[1]) for r in conn.execute(
        "SELECT reason, count(*) FROM relay_refusals WHERE at >= ? GROUP BY reason ORDER BY 2 DESC, 1", (since,))]


def insert_history(conn: sqlite3.Connection, rows: Sequence[tuple[object, ...]]) -> None:
    """Past store issuances without documents (the demo's year of history). Rows:
    (request_id, type, municipality, resident, channel, operator, fee, state, created_at,
    issued_at, completed_at, voided_at)."""
    conn.executemany(
        "INSERT INTO issuances (request_id, type, municipality_code, resident_code, channel, operator, fee, "
        "state, created_at, issued_at, completed_at, voided_at, pages) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,2)",
        rows,
    )


class SqliteIssuances:
    """``IssuanceStore`` on SQLite."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def certificate_source(self, resident_code: str, ctype: CertificateType, options: dict[str, Any],
                                 municipality_code: str | None) -> CertificateSource:
        return await self._db.lookup(certificate_source, resident_code, ctype, options, municipality_code)

    async def record_issued(self, record: IssuanceRecord) -> None:
        await self._db.write(insert_issued, record)

    async def next_number(self, municipality_code: str, year: int) -> int:
        return await self._db.write(next_number, municipality_code, year)

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
