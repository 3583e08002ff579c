"""`database copy --to URL`: move a SQLite centre to PostgreSQL (contract §10)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from bcl_console.cli.common import Common, with_runtime
from bcl_console.cli.output import EXIT_OK, emit
from bcl_console.services.platform.runtime import Runtime

if TYPE_CHECKING:
    from bcl_console.cli.common import Subparsers


def register(sub: Subparsers, common: Common) -> None:
    d = sub.add_parser("database", help="the centre's database: copy a SQLite centre to PostgreSQL")
    dsub = d.add_subparsers(dest="action", metavar="ACTION", required=True)
    c = dsub.add_parser("copy", parents=common.json,
                        help="copy this centre's whole SQLite database into an empty PostgreSQL database, "
                             "verified by row counts and checksums per table")
    c.add_argument("--to", required=True, metavar="URL", help="postgresql://USER@HOST:PORT/DBNAME (empty)")
    d.set_defaults(func=cmd_database)


def cmd_database(args: argparse.Namespace) -> int:
    from bcl_console.cli.progress import Bars
    from bcl_console.services.platform.database import copy_centre

    async def body(runtime: Runtime) -> int:
        with Bars(args, "rows") as bars:
            doc: dict[str, Any] = await copy_centre(runtime.settings, args.to, bars.update)

        def human() -> None:
            width = max(len(t["table"]) for t in doc["tables"])
            print(f"{'table':<{width}}  {'SQLite':>10}  {'PostgreSQL':>10}  checksum")
            for t in doc["tables"]:
                print(f"{t['table']:<{width}}  {t['sqlite_rows']:>10,}  {t['postgresql_rows']:>10,}  "
                      f"{'same' if t['matches'] else 'DIFFERENT'} {t['sha256'][:12]}")
            print(f"copied {doc['rows']:,} rows of {len(doc['tables'])} tables to {doc['to']}; "
                  f"every table verified; start the centre with --database {doc['to']}")
            if doc["files_missing"]:
                print(f"warning: {len(doc['files_missing'])} document or backup file(s) recorded in the "
                      f"database were not in the data directory: {', '.join(doc['files_missing'][:5])}",
                      file=sys.stderr)

        emit(args, doc, human)
        return EXIT_OK

    return with_runtime(args, body)
