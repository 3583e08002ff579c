"""The intermediate DB (PostgreSQL): residents, seals, seal impressions and tax records;
the counterpart of ``store/residents.py`` (same function names, same results)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

import asyncpg

from bcl_console.domain.resident import RESIDENT_FIELDS, Resident, ResidentStatus
from bcl_console.store.api import HeldCounts
from bcl_console.store.pg.db import Conn, PgDatabase, identifier
from bcl_console.store.residents import SEAL_FIELDS, TAX_FIELDS

Row = Sequence[Any]


def _insert_sql(table: str, fields: tuple[str, ...]) -> str:
    """INSERT of municipality_code and the fields; only ever called with the constants here."""
    names = ", ".join(identifier(f) for f in fields)
    marks = ", ".join(f"${i}" for i in range(1, len(fields) + 2))
    return f"INSERT INTO {identifier(table)} (municipality_code, {names}) VALUES ({marks})"  # noqa: S608


_INSERT_RESIDENT = _insert_sql("residents", RESIDENT_FIELDS)
_INSERT_SEAL = _insert_sql("seals", SEAL_FIELDS)
_INSERT_TAX = _insert_sql("taxes", TAX_FIELDS)
_RESIDENT_COLUMNS = ", ".join(identifier(f) for f in RESIDENT_FIELDS)


async def _insert_many(conn: Conn, sql: str, municipality_code: str, rows: Iterable[Row]) -> int:
    values = [(municipality_code, *row) for row in rows]
    if values:
        await conn.executemany(sql, values)
    return len(values)


async def insert_residents(conn: Conn, municipality_code: str, rows: Iterable[Row]) -> int:
    """Insert resident rows (values in RESIDENT_FIELDS order); returns how many."""
    return await _insert_many(conn, _INSERT_RESIDENT, municipality_code, rows)


async def insert_seal_impression(conn: Conn, sha256: str, png: bytes) -> None:
    await conn.execute("INSERT INTO seal_impressions (sha256, png) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                       sha256, png)


async def insert_seals(conn: Conn, municipality_code: str, rows: Iterable[Row]) -> int:
    return await _insert_many(conn, _INSERT_SEAL, municipality_code, rows)


async def insert_taxes(conn: Conn, municipality_code: str, rows: Iterable[Row]) -> int:
    """Tax rows (values in TAX_FIELDS order; the optional details may be absent or None)."""
    width = len(TAX_FIELDS)
    padded = [tuple(row) + (None,) * (width - len(row)) for row in rows]
    return await _insert_many(conn, _INSERT_TAX, municipality_code, padded)


async def delete_municipality_residents(conn: Conn, municipality_code: str) -> None:
    """Remove everything the intermediate DB holds for one municipality (a full replace)."""
    await conn.execute("DELETE FROM taxes WHERE municipality_code = $1", municipality_code)
    await conn.execute("DELETE FROM seals WHERE municipality_code = $1", municipality_code)
    await conn.execute("DELETE FROM residents WHERE municipality_code = $1", municipality_code)


async def held_counts(conn: Conn) -> dict[str, HeldCounts]:
    """What the intermediate DB holds, per municipality."""
    out: dict[str, dict[str, int]] = {}
    for row in await conn.fetch(
            "SELECT municipality_code, count(*), count(*) FILTER (WHERE status = 'active'), "
            "count(DISTINCT household_number) FROM residents GROUP BY municipality_code "
            'ORDER BY municipality_code COLLATE "C"'):
        out[row[0]] = {"residents": int(row[1]), "active": int(row[2]), "households": int(row[3])}
    for table, sql in (
            ("seals", 'SELECT municipality_code, count(*) FROM seals GROUP BY municipality_code '
                      'ORDER BY municipality_code COLLATE "C"'),
            ("taxes", 'SELECT municipality_code, count(*) FROM taxes GROUP BY municipality_code '
                      'ORDER BY municipality_code COLLATE "C"')):
        for row in await conn.fetch(sql):
            out.setdefault(row[0], {"residents": 0, "active": 0, "households": 0})[table] = int(row[1])
    return {
        code: HeldCounts(residents=v.get("residents", 0), active=v.get("active", 0),
                         households=v.get("households", 0), seals=v.get("seals", 0), taxes=v.get("taxes", 0))
        for code, v in out.items()
    }


def _resident(row: asyncpg.Record) -> Resident:
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
    )


async def get_resident(conn: Conn, municipality_code: str, resident_code: str) -> Resident | None:
    row = await conn.fetchrow("SELECT * FROM residents WHERE municipality_code = $1 AND resident_code = $2",
                              municipality_code, resident_code)
    return _resident(row) if row else None


async def find_resident(conn: Conn, resident_code: str) -> Resident | None:
    """A resident by 住民票コード alone (the code is unique nationwide): an active record
    first, then (as SQLite's primary key order gives) by municipality."""
    row = await conn.fetchrow(
        "SELECT * FROM residents WHERE resident_code = $1 "
        'ORDER BY status = \'active\' DESC, municipality_code COLLATE "C" LIMIT 1', resident_code)
    return _resident(row) if row else None


async def household_members(conn: Conn, municipality_code: str, household_number: str) -> list[Resident]:
    rows = await conn.fetch(
        "SELECT * FROM residents WHERE municipality_code = $1 AND household_number = $2 "
        'ORDER BY relationship <> \'世帯主\', birth_date COLLATE "C", resident_code COLLATE "C"',
        municipality_code, household_number)
    return [_resident(r) for r in rows]


async def iter_residents(conn: Conn, municipality_code: str) -> list[asyncpg.Record]:
    """Every resident of a municipality, in code order (for export)."""
    return list(await conn.fetch('SELECT * FROM residents WHERE municipality_code = $1 ORDER BY resident_code COLLATE "C"',
                                 municipality_code))


async def iter_seals(conn: Conn, municipality_code: str) -> list[asyncpg.Record]:
    return list(await conn.fetch('SELECT * FROM seals WHERE municipality_code = $1 '
                                 'ORDER BY resident_code COLLATE "C", seal_number COLLATE "C"', municipality_code))


async def iter_taxes(conn: Conn, municipality_code: str) -> list[asyncpg.Record]:
    return list(await conn.fetch('SELECT * FROM taxes WHERE municipality_code = $1 '
                                 'ORDER BY resident_code COLLATE "C", fiscal_year', municipality_code))


async def seal_impression(conn: Conn, sha256: str) -> bytes | None:
    value = await conn.fetchval("SELECT png FROM seal_impressions WHERE sha256 = $1", sha256)
    return None if value is None else bytes(value)


async def resident_codes_by(conn: Conn, municipality_code: str, status: str,
                            restricted: bool | None = None) -> list[str]:
    """Resident codes of a municipality in a status (and, when given, with or without a
    support-measure restriction), in code order: the demo's card holders."""
    flag = None if restricted is None else int(restricted)
    return [str(r[0]) for r in await conn.fetch(
        "SELECT resident_code FROM residents WHERE municipality_code = $1 AND status = $2 "
        'AND ($3::integer IS NULL OR restricted = $3) ORDER BY resident_code COLLATE "C"',
        municipality_code, status, flag)]


async def resident_values(conn: Conn, municipality_code: str, codes: Sequence[str]) -> dict[str, tuple[Any, ...]]:
    """Residents' stored values in RESIDENT_FIELDS order (to compare with a batch's rows)."""
    rows = await conn.fetch(
        f"SELECT {_RESIDENT_COLUMNS} FROM residents "  # noqa: S608 - constant column names
        "WHERE municipality_code = $1 AND resident_code = ANY($2::text[])", municipality_code, list(codes))
    found = {str(r["resident_code"]): tuple(r) for r in rows}
    return {code: found[code] for code in codes if code in found}


async def test_residents(conn: Conn, municipality_code: str, limit: int = 10) -> list[str]:
    """Active residents shown at stores, those with a seal and a tax record first (stage tests)."""
    return [str(r[0]) for r in await conn.fetch(
        "SELECT r.resident_code FROM residents r WHERE r.municipality_code = $1 AND r.status = 'active' "
        "AND r.restricted = 0 ORDER BY "
        "EXISTS (SELECT 1 FROM seals s WHERE s.municipality_code = r.municipality_code "
        "        AND s.resident_code = r.resident_code AND s.status = 'active') DESC, "
        "EXISTS (SELECT 1 FROM taxes t WHERE t.municipality_code = r.municipality_code "
        '        AND t.resident_code = r.resident_code) DESC, r.resident_code COLLATE "C" LIMIT $2',
        municipality_code, limit)]


async def latest_tax_year(conn: Conn, municipality_code: str, resident_code: str) -> int | None:
    value = await conn.fetchval("SELECT max(fiscal_year) FROM taxes WHERE municipality_code = $1 "
                                "AND resident_code = $2", municipality_code, resident_code)
    return None if value is None else int(value)


async def search_residents(conn: Conn, text: str, municipality_code: str | None = None,
                           limit: int = 20) -> list[Resident]:
    """Residents whose code or household number is ``text``, or whose name or kana contains
    it (spaces ignored). ILIKE under the "C" collation folds ASCII letters only, as
    SQLite's LIKE does."""
    squeezed = "".join(text.split())
    pattern = "%" + squeezed.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    rows = await conn.fetch(
        "SELECT * FROM residents WHERE (resident_code = $1 OR household_number = $1 "
        "OR replace(replace(name, ' ', ''), '　', '') COLLATE \"C\" ILIKE $2 ESCAPE '\\' "
        "OR replace(replace(name_kana, ' ', ''), '　', '') COLLATE \"C\" ILIKE $2 ESCAPE '\\') "
        "AND ($3::text IS NULL OR municipality_code = $3) "
        'ORDER BY municipality_code COLLATE "C", household_number COLLATE "C", resident_code COLLATE "C" '
        "LIMIT $4", squeezed, pattern, municipality_code, limit)
    return [_resident(r) for r in rows]


class PgResidents:
    """``ResidentStore`` on PostgreSQL."""

    def __init__(self, db: PgDatabase) -> None:
        self._db = db

    async def held_counts(self) -> dict[str, HeldCounts]:
        return await self._db.read(held_counts)

    async def search_residents(self, text: str, municipality_code: str | None = None,
                               limit: int = 20) -> list[Resident]:
        return await self._db.read(search_residents, text, municipality_code, limit)

    async def find_resident(self, resident_code: str) -> Resident | None:
        return await self._db.read(find_resident, resident_code)
