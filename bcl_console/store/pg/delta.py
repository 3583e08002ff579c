"""Row-level changes of a delta batch (PostgreSQL): the counterpart of ``store/delta.py``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bcl_console.domain.resident import RESIDENT_FIELDS
from bcl_console.store.pg.db import Conn
from bcl_console.store.residents import SEAL_FIELDS, TAX_FIELDS


def _set(fields: Sequence[str]) -> str:
    return ", ".join(f"{f} = ${i}" for i, f in enumerate(fields, 1))


# Built once from constant column lists; every value is a parameter. The changed values
# come first ($1..$n), then the municipality and the key.
_R, _S, _T = len(RESIDENT_FIELDS) - 1, len(SEAL_FIELDS) - 2, len(TAX_FIELDS) - 2
_UPDATE_RESIDENT = (f"UPDATE residents SET {_set(RESIDENT_FIELDS[1:])} "  # noqa: S608
                    f"WHERE municipality_code = ${_R + 1} AND resident_code = ${_R + 2}")
_UPDATE_SEAL = (f"UPDATE seals SET {_set(SEAL_FIELDS[2:])} "  # noqa: S608
                f"WHERE municipality_code = ${_S + 1} AND resident_code = ${_S + 2} AND seal_number = ${_S + 3}")
_UPDATE_TAX = (f"UPDATE taxes SET {_set(TAX_FIELDS[2:])} "  # noqa: S608
               f"WHERE municipality_code = ${_T + 1} AND resident_code = ${_T + 2} AND fiscal_year = ${_T + 3}")


async def resident_exists(conn: Conn, code: str, resident_code: str) -> bool:
    return await conn.fetchval(
        "SELECT 1 FROM residents WHERE municipality_code = $1 AND resident_code = $2",
        code, resident_code) is not None


async def seal_exists(conn: Conn, code: str, resident_code: str, seal_number: str) -> bool:
    return await conn.fetchval(
        "SELECT 1 FROM seals WHERE municipality_code = $1 AND resident_code = $2 AND seal_number = $3",
        code, resident_code, seal_number) is not None


async def tax_exists(conn: Conn, code: str, resident_code: str, fiscal_year: int) -> bool:
    return await conn.fetchval(
        "SELECT 1 FROM taxes WHERE municipality_code = $1 AND resident_code = $2 AND fiscal_year = $3",
        code, resident_code, fiscal_year) is not None


async def update_resident(conn: Conn, code: str, row: Sequence[Any]) -> None:
    await conn.execute(_UPDATE_RESIDENT, *row[1:], code, row[0])


async def delete_resident(conn: Conn, code: str, resident_code: str) -> None:
    for table in ("taxes", "seals", "residents"):
        await conn.execute(
            f"DELETE FROM {table} WHERE municipality_code = $1 AND resident_code = $2",  # noqa: S608
            code, resident_code)


async def update_seal(conn: Conn, code: str, row: Sequence[Any]) -> None:
    await conn.execute(_UPDATE_SEAL, *row[2:], code, row[0], row[1])


async def delete_seal(conn: Conn, code: str, resident_code: str, seal_number: str) -> None:
    await conn.execute(
        "DELETE FROM seals WHERE municipality_code = $1 AND resident_code = $2 AND seal_number = $3",
        code, resident_code, seal_number)


async def update_tax(conn: Conn, code: str, row: Sequence[Any]) -> None:
    await conn.execute(_UPDATE_TAX, *row[2:], code, row[0], row[1])


async def delete_tax(conn: Conn, code: str, resident_code: str, fiscal_year: int) -> None:
    await conn.execute(
        "DELETE FROM taxes WHERE municipality_code = $1 AND resident_code = $2 AND fiscal_year = $3",
        code, resident_code, fiscal_year)
