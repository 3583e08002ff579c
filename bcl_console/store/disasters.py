"""Queries on disasters and damage assessments (the victim ledger builds on these)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any


def insert_disaster(conn: sqlite3.Connection, name: str, kind: str, occurred_on: str,
                    declared_at: str, municipalities: Iterable[str]) -> int:
    cur = conn.execute(
        "INSERT INTO disasters (name, kind, occurred_on, declared_at) VALUES (?,?,?,?)",
        (name, kind, occurred_on, declared_at),
    )
    disaster_id = int(cur.lastrowid or 0)
    conn.executemany(
        "INSERT INTO disaster_municipalities (disaster_id, municipality_code) VALUES (?,?)",
        ((disaster_id, code) for code in municipalities),
    )
    return disaster_id


def insert_assessments(conn: sqlite3.Connection, rows: Iterable[Sequence[Any]]) -> None:
    """Rows: (disaster_id, municipality_code, household_number, address, damage_class,
    damage_ratio, inspector, assessed_on)."""
    conn.executemany(
        "INSERT INTO damage_assessments (disaster_id, municipality_code, household_number, address, "
        "damage_class, damage_ratio, inspector, assessed_on) VALUES (?,?,?,?,?,?,?,?)",
        rows,
    )


def heads_of_households(conn: sqlite3.Connection, code: str) -> list[tuple[str, str]]:
    """(household_number, address) of every household with an active head, in order."""
    return [
        (r[0], r[1])
        for r in conn.execute(
            "SELECT household_number, address FROM residents WHERE municipality_code = ? "
            "AND relationship = '世帯主' AND status = 'active' ORDER BY household_number",
            (code,),
        )
    ]
