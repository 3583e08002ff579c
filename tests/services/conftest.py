"""Every test here runs on both stores: SQLite, and PostgreSQL (a server of the test
run's own, tests/pg.py). A test that is about SQLite itself is marked ``sqlite_only``."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)
