"""Queries on issued certificates (one row per request) and the data they are made from."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import date
from typing import Any

from bcl_console.domain.certificate import DisasterRecord, SealRecord, TaxRecord


@dataclass(frozen=True)
class IssuanceRecord:
    request_id: str
    type: str
    options: dict[str, Any]
    municipality_code: str
    resident_code: str
    channel: str
    operator: str | None
    fee: int
    state: str
    verification_code: str | None
    content_sha256: str | None
    pages: int | None
    document_path: str | None
    created_at: str
    issued_at: str | None
    voided_at: str | None


def _record(row: sqlite3.Row) -> IssuanceRecord:
    return IssuanceRecord(
        request_id=row["request_id"], type=row["type"], options=json.loads(row["options"]),
        municipality_code=row["municipality_code"], resident_code=row["resident_code"],
        channel=row["channel"], operator=row["operator"], fee=row["fee"], state=row["state"],
        verification_code=row["verification_code"], content_sha256=row["content_sha256"],
        pages=row["pages"], document_path=row["document_path"], created_at=row["created_at"],
        issued_at=row["issued_at"], voided_at=row["voided_at"],
    )


def insert_issued(conn: sqlite3.Connection, r: IssuanceRecord) -> None:
    conn.execute(
        "INSERT INTO issuances (request_id, type, options, municipality_code, resident_code, channel, "
        "operator, fee, state, verification_code, content_sha256, pages, document_path, created_at, "
        "issued_at, voided_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (r.request_id, r.type, json.dumps(r.options, sort_keys=True, ensure_ascii=False),
         r.municipality_code, r.resident_code, r.channel, r.operator, r.fee, r.state,
         r.verification_code, r.content_sha256, r.pages, r.document_path, r.created_at,
         r.issued_at, r.voided_at),
    )


def by_code(conn: sqlite3.Connection, code: str) -> IssuanceRecord | None:
    row = conn.execute("SELECT * FROM issuances WHERE verification_code = ?", (code,)).fetchone()
    return _record(row) if row else None


def by_request(conn: sqlite3.Connection, request_id: str) -> IssuanceRecord | None:
    row = conn.execute("SELECT * FROM issuances WHERE request_id = ?", (request_id,)).fetchone()
    return _record(row) if row else None


def void(conn: sqlite3.Connection, request_id: str, at: str) -> bool:
    cur = conn.execute(
        "UPDATE issuances SET state = 'voided', voided_at = ? WHERE request_id = ? AND state != 'voided'",
        (at, request_id),
    )
    return cur.rowcount == 1


def count_issuances(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM issuances").fetchone()[0])


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
                     row["taxable_income"], row["municipal_tax"], row["prefectural_tax"])


def disaster_record(conn: sqlite3.Connection, code: str, household: str,
                    disaster_id: int | None) -> DisasterRecord | None:
    sql = (
        "SELECT d.id, d.name, d.occurred_on, a.address, a.damage_class FROM damage_assessments a "
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
    return DisasterRecord(row[0], row[1], date.fromisoformat(row[2]), row[3], row[4])
