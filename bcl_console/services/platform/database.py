"""Moving a centre between stores: ``database copy`` (contract §10)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from bcl_console.config import ConfigError, Settings
from bcl_console.store.copy import copy_sqlite_to_postgres
from bcl_console.store.pg.db import check_url, masked


async def copy_centre(settings: Settings, to_url: str,
                      progress: Callable[[str, int, int], None] | None = None) -> dict[str, Any]:
    """Copy the SQLite centre of ``settings`` (opened and migrated by its runtime before
    this) into the empty PostgreSQL database at ``to_url``; what was copied, per table."""
    if settings.database_url:
        raise ConfigError("this centre is on PostgreSQL already (--database / $BCL_DATABASE_URL); "
                          "database copy copies a centre's SQLite database")
    check_url(to_url)
    tables = await copy_sqlite_to_postgres(settings.db_path, to_url, progress)
    return {"from": str(settings.db_path), "to": masked(to_url),
            "tables": [asdict(t) for t in tables],
            "rows": sum(t.postgresql_rows for t in tables),
            "verified": all(t.matches for t in tables),
            # Files an issuance or a backup row names that were not in the data directory.
            "files_missing": [name for t in tables for name in t.missing]}
