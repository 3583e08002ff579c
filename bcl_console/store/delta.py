"""Row-level changes of a delta batch (A add, U update, D delete) on the intermediate DB."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from bcl_console.domain.resident import RESIDENT_FIELDS
from bcl_console.store.residents import SEAL_FIELDS, TAX_FIELDS

_RES_SET = ", ".join(f"{f} = ?" for f in RESIDENT_FIELDS[1:])
_SEAL_SET = ", ".join(f"{f} = ?" for f in SEAL_FIELDS[2:])
_TAX_SET = ", ".join(f"{f} = ?" for f in TAX_FIELDS[2:])
# Built once from constant column lists; every value is a parameter.
_UPDATE_RESIDENT = f"UPDATE residents SET {_RES_SET} WHERE municipality_code = ? AND resident_code = ?"  # noqa: S608
_UPDATE_SEAL = (
    f"UPDATE seals SET {_SEAL_SET} WHERE municipality_code = ? AND resident_code = ? "  # noqa: S608
    "AND seal_number = ?"
)
_UPDATE_TAX = (
    f"UPDATE taxes SET {_TAX_SET} WHERE municipality_code = ? AND resident_code = ? "  # noqa: S608
    "AND fiscal_year = ?"
)


def resident_exists(conn: sqlite3.Connection, code: str, resident_code: str) -> bool:
    return conn.execute(
        "SELECT 1 FROM residents WHERE municipality_code = ? AND resident_code = ?",
        (code, resident_code),
    ).fetchone() is not None


def seal_exists(conn: sqlite3.Connection, code: str, resident_code: str, seal_number: str) -> bool:
    return conn.execute(
        "SELECT 1 FROM seals WHERE municipality_code = ? AND resident_code = ? AND seal_number = ?",
        (code, resident_code, seal_number),
    ).fetchone() is not None


def tax_exists(conn: sqlite3.Connection, code: str, resident_code: str, fiscal_year: int) -> bool:
    return conn.execute(
        "SELECT 1 FROM taxes WHERE municipality_code = ? AND resident_code = ? AND fiscal_year = ?",
        (code, resident_code, fiscal_year),
    ).fetchone() is not None


def update_resident(conn: sqlite3.Connection, code: str, row: Sequence[Any]) -> None:
    conn.execute(_UPDATE_RESIDENT, (*row[1:], code, row[0]))


def delete_resident(conn: sqlite3.Connection, code: str, resident_code: str) -> None:
    for table in ("taxes", "seals", "residents"):
        conn.execute(
            f"DELETE FROM {table} WHERE municipality_code = ? AND resident_code = ?",  # noqa: S608
            (code, resident_code),
        )


def update_seal(conn: sqlite3.Connection, code: str, row: Sequence[Any]) -> None:
    conn.execute(_UPDATE_SEAL, (*row[2:], code, row[0], row[1]))


def delete_seal(conn: sqlite3.Connection, code: str, resident_code: str, seal_number: str) -> None:
    conn.execute(
        "DELETE FROM seals WHERE municipality_code = ? AND resident_code = ? AND seal_number = ?",
        (code, resident_code, seal_number),
    )


def update_tax(conn: sqlite3.Connection, code: str, row: Sequence[Any]) -> None:
    conn.execute(_UPDATE_TAX, (*row[2:], code, row[0], row[1]))


def delete_tax(conn: sqlite3.Connection, code: str, resident_code: str, fiscal_year: int) -> None:
    conn.execute(
        "DELETE FROM taxes WHERE municipality_code = ? AND resident_code = ? AND fiscal_year = ?",
        (code, resident_code, fiscal_year),
    )
