"""Queries on the intermediate DB: residents, seals, seal impressions and tax records."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from bcl_console.domain.resident import RESIDENT_FIELDS, Resident, ResidentStatus
from bcl_console.store.api import HeldCounts as HeldCounts
from bcl_console.store.db import Database

Row = Sequence[Any]


SEAL_FIELDS = ("resident_code", "seal_number", "registered_on", "status", "impression_sha256")
TAX_FIELDS = (
    "resident_code",
    "fiscal_year",
    "total_income",
    "salary_income",
    "deductions",
    "taxable_income",
    "municipal_tax",
    "prefectural_tax",
    # optional (migration 15): NULL when a batch does not send them
    "dependents",
    "basic_deduction",
    "social_insurance_deduction",
    "dependent_deduction",
)


def _insert_sql(table: str, fields: tuple[str, ...]) -> str:
    """INSERT of municipality_code and the fields; only ever called with the constants here."""
    marks = ", ".join("?" for _ in range(len(fields) + 1))
    return f"INSERT INTO {table} (municipality_code, {', '.join(fields)}) VALUES ({marks})"  # noqa: S608


_INSERT_RESIDENT = _insert_sql("residents", RESIDENT_FIELDS)
#: Without 旧氏 and ローマ字 (both ''): valid on a schema before version 20 too.
_INSERT_RESIDENT_BASIC = _insert_sql("residents", RESIDENT_FIELDS[:16])
_INSERT_SEAL = _insert_sql("seals", SEAL_FIELDS)
_INSERT_TAX = _insert_sql("taxes", TAX_FIELDS)
#: Without the optional details (all NULL): valid on a schema before version 15 too.
_INSERT_TAX_BASIC = _insert_sql("taxes", TAX_FIELDS[:8])


def insert_residents(conn: sqlite3.Connection, municipality_code: str, rows: Iterable[Row]) -> int:
    """Insert resident rows (values in RESIDENT_FIELDS order; 旧氏 and ローマ字 may be
    absent or ''); returns how many."""
    rows = list(rows)
    basic = [row[:16] for row in rows if not any(row[16:])]
    full = [row for row in rows if any(row[16:])]
    count = 0
    if basic:
        count += conn.executemany(_INSERT_RESIDENT_BASIC, ((municipality_code, *row) for row in basic)).rowcount
    if full:
        count += conn.executemany(_INSERT_RESIDENT, ((municipality_code, *row) for row in full)).rowcount
    return count


def insert_seal_impression(conn: sqlite3.Connection, sha256: str, png: bytes) -> None:
    conn.execute(
        "INSERT INTO seal_impressions (sha256, png) VALUES (?, ?) ON CONFLICT DO NOTHING",
        (sha256, png),
    )


def insert_seals(conn: sqlite3.Connection, municipality_code: str, rows: Iterable[Row]) -> int:
    cur = conn.executemany(
        _INSERT_SEAL,
        ((municipality_code, *row) for row in rows),
    )
    return cur.rowcount


def insert_taxes(conn: sqlite3.Connection, municipality_code: str, rows: Iterable[Row]) -> int:
    """Tax rows (values in TAX_FIELDS order; the optional details may be absent or None)."""
    rows = list(rows)
    basic = [row[:8] for row in rows if all(v is None for v in row[8:])]
    full = [row for row in rows if any(v is not None for v in row[8:])]
    count = 0
    if basic:
        count += conn.executemany(_INSERT_TAX_BASIC, ((municipality_code, *row) for row in basic)).rowcount
    if full:
        count += conn.executemany(_INSERT_TAX, ((municipality_code, *row) for row in full)).rowcount
    return count


def delete_municipality_residents(conn: sqlite3.Connection, municipality_code: str) -> None:
    """Remove everything the intermediate DB holds for one municipality (a full replace)."""
    for table in ("taxes", "seals", "residents"):
        # Table names come from the fixed tuple above, never from input.
        conn.execute(f"DELETE FROM {table} WHERE municipality_code = ?", (municipality_code,))  # noqa: S608


def held_counts(conn: sqlite3.Connection) -> dict[str, HeldCounts]:
    """What the intermediate DB holds, per municipality."""
    out: dict[str, dict[str, int]] = {}
    for row in conn.execute(
        "SELECT municipality_code, count(*), sum(status = 'active'), "
        "count(DISTINCT household_number) FROM residents GROUP BY municipality_code"
    ):
        out[row[0]] = {"residents": row[1], "active": row[2] or 0, "households": row[3]}
    for table in ("seals", "taxes"):
        for row in conn.execute(
            f"SELECT municipality_code, count(*) FROM {table} GROUP BY municipality_code"  # noqa: S608
        ):
            out.setdefault(row[0], {"residents": 0, "active": 0, "households": 0})[table] = row[1]
    return {
        code: HeldCounts(
            residents=v.get("residents", 0),
            active=v.get("active", 0),
            households=v.get("households", 0),
            seals=v.get("seals", 0),
            taxes=v.get("taxes", 0),
        )
        for code, v in out.items()
    }


def _resident(row: sqlite3.Row) -> Resident:
    return Resident(
        municipality_code=row["municipality_code"],
        resident_code=row["resident_code"],
        household_number=row["household_number"],
        name=row["name"],
        name_kana=row["name_kana"],
        birth_date=date.fromisoformat(row["birth_date"]),
        sex=row["sex"],
        relationship=row["relationship"],
        address=row["address"],
        resident_since=date.fromisoformat(row["resident_since"]),
        previous_address=row["previous_address"],
        domicile=row["domicile"],
        head_of_family=row["head_of_family"],
        status=ResidentStatus(row["status"]),
        status_date=date.fromisoformat(row["status_date"]) if row["status_date"] else None,
        needs_evacuation_help=bool(row["needs_evacuation_help"]),
        restricted=bool(row["restricted"]),
        former_surname=row["former_surname"],
        name_roman=row["name_roman"],
    )


def get_resident(
    conn: sqlite3.Connection, municipality_code: str, resident_code: str
) -> Resident | None:
    row = conn.execute(
        "SELECT * FROM residents WHERE municipality_code = ? AND resident_code = ?",
        (municipality_code, resident_code),
    ).fetchone()
    return _resident(row) if row else None


def find_resident(conn: sqlite3.Connection, resident_code: str) -> Resident | None:
    """A resident by 住民票コード alone (the code is unique nationwide)."""
    row = conn.execute(
        "SELECT * FROM residents WHERE resident_code = ? ORDER BY status = 'active' DESC LIMIT 1",
        (resident_code,),
    ).fetchone()
    return _resident(row) if row else None


def household_members(
    conn: sqlite3.Connection, municipality_code: str, household_number: str
) -> list[Resident]:
    # INDEXED BY: without statistics SQLite's planner prefers the primary key's prefix
    # (every resident of the municipality, ~0.4-1 ms) to the household index (~10 µs);
    # the index exists since migration 0002.
    rows = conn.execute(
        "SELECT * FROM residents INDEXED BY residents_household WHERE municipality_code = ? "
        "AND household_number = ? ORDER BY relationship != '世帯主', birth_date",
        (municipality_code, household_number),
    ).fetchall()
    return [_resident(r) for r in rows]


def iter_residents(conn: sqlite3.Connection, municipality_code: str) -> Iterable[sqlite3.Row]:
    """Every resident of a municipality, in code order, streamed (for export)."""
    return conn.execute(
        "SELECT * FROM residents WHERE municipality_code = ? ORDER BY resident_code",
        (municipality_code,),
    )


def iter_seals(conn: sqlite3.Connection, municipality_code: str) -> Iterable[sqlite3.Row]:
    return conn.execute(
        "SELECT * FROM seals WHERE municipality_code = ? ORDER BY resident_code, seal_number",
        (municipality_code,),
    )


def iter_taxes(conn: sqlite3.Connection, municipality_code: str) -> Iterable[sqlite3.Row]:
    return conn.execute(
        "SELECT * FROM taxes WHERE municipality_code = ? ORDER BY resident_code, fiscal_year",
        (municipality_code,),
    )


def seal_impression(conn: sqlite3.Connection, sha256: str) -> bytes | None:
    row = conn.execute("SELECT png FROM seal_impressions WHERE sha256 = ?", (sha256,)).fetchone()
    return None if row is None else bytes(row[0])


def resident_codes_by(conn: sqlite3.Connection, municipality_code: str, status: str,
                      restricted: bool | None = None) -> list[str]:
    """Resident codes of a municipality in a status (and, when given, with or without a
    support-measure restriction), in code order: the demo's card holders."""
    return [r[0] for r in conn.execute(
        "SELECT resident_code FROM residents WHERE municipality_code = ? AND status = ? "
        "AND (? IS NULL OR restricted = ?) ORDER BY resident_code",
        (municipality_code, status, restricted, restricted))]


def resident_values(conn: sqlite3.Connection, municipality_code: str,
                    codes: Sequence[str]) -> dict[str, tuple[Any, ...]]:
    """Residents' stored values in RESIDENT_FIELDS order (to compare with a batch's rows)."""
    out: dict[str, tuple[Any, ...]] = {}
    for code in codes:
        row = conn.execute(
            f"SELECT {', '.join(RESIDENT_FIELDS)} FROM residents "  # noqa: S608 - constant column names
            "WHERE municipality_code = ? AND resident_code = ?", (municipality_code, code)).fetchone()
        if row is not None:
            out[code] = tuple(row)
    return out


def test_residents(conn: sqlite3.Connection, municipality_code: str, limit: int = 10) -> list[str]:
    """Active residents shown at stores, those with a seal and a tax record first (stage tests)."""
    return [str(r[0]) for r in conn.execute(
        "SELECT r.resident_code FROM residents r WHERE r.municipality_code = ? AND r.status = 'active' "
        "AND r.restricted = 0 ORDER BY "
        "EXISTS (SELECT 1 FROM seals s WHERE s.municipality_code = r.municipality_code "
        "        AND s.resident_code = r.resident_code AND s.status = 'active') DESC, "
        "EXISTS (SELECT 1 FROM taxes t WHERE t.municipality_code = r.municipality_code "
        "        AND t.resident_code = r.resident_code) DESC, r.resident_code LIMIT ?",
        (municipality_code, limit))]


def latest_tax_year(conn: sqlite3.Connection, municipality_code: str, resident_code: str) -> int | None:
    row = conn.execute("SELECT max(fiscal_year) FROM taxes WHERE municipality_code = ? AND resident_code = ?",
                       (municipality_code, resident_code)).fetchone()
    return None if row is None or row[0] is None else int(row[0])


def search_residents(conn: sqlite3.Connection, text: str, municipality_code: str | None = None,
                     limit: int = 20) -> list[Resident]:
    """Residents whose code or household number is ``text``, or whose name or kana contains
    it (spaces ignored): for an operator who knows a person, not their 11-digit code."""
    squeezed = "".join(text.split())
    pattern = "%" + squeezed.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    sql = ("SELECT * FROM residents WHERE (resident_code = ? OR household_number = ? "
           "OR replace(replace(name, ' ', ''), '　', '') LIKE ? ESCAPE '\\' "
           "OR replace(replace(name_kana, ' ', ''), '　', '') LIKE ? ESCAPE '\\')")
    params: list[object] = [squeezed, squeezed, pattern, pattern]
    if municipality_code is not None:
        sql += " AND municipality_code = ?"
        params.append(municipality_code)
    sql += " ORDER BY municipality_code, household_number, resident_code LIMIT ?"
    params.append(limit)
    return [_resident(r) for r in conn.execute(sql, params)]


# -- the resident directory's reads (``ResidentStore``) ------------------------------------------


class SqliteResidents:
    """``ResidentStore`` on SQLite."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def held_counts(self) -> dict[str, HeldCounts]:
        return await self._db.read(held_counts)

    async def search_residents(self, text: str, municipality_code: str | None = None,
                               limit: int = 20) -> list[Resident]:
        return await self._db.read(search_residents, text, municipality_code, limit)

    async def find_resident(self, resident_code: str) -> Resident | None:
        return await self._db.read(find_resident, resident_code)
