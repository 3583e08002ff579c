"""The `bcl-console` command: parse, call a service, print. No business logic here.

Exit codes (contract §1): 0 done; 2 usage error; 3 input rejected, nothing changed;
1 any other failure. Errors go to stderr as one sentence; with --json the same error
is also printed on stdout as ``{"error": {...}}`` so that a scheduler always gets JSON.

Each command group (a module beside this one) registers its own sub-commands; a command
is a ``cmd_*`` function that its parser names as ``func``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from bcl_console import __version__
from bcl_console.cli import (
    centre,
    centres,
    database,
    disaster,
    drill,
    issuance,
    jobs,
    keys,
    kiosk,
    layout,
    linkage,
    municipality,
    onboarding,
    resident,
    serve,
    settle,
    terminal,
    web,
)
from bcl_console.cli.common import Common
from bcl_console.cli.output import EXIT_FAILURE, EXIT_USAGE, CliError, cli_error

#: The command groups, in the order ``--help`` lists their commands.
GROUPS = (serve, web, centre, resident, municipality, issuance, keys, kiosk, settle, jobs, onboarding, disaster,
          linkage, terminal, database, centres, drill, layout)


class Parser(argparse.ArgumentParser):
    """argparse, whose usage errors reach ``main`` (and so ``--json``) instead of exiting."""

    def error(self, message: str) -> NoReturn:
        raise CliError(f"{message} (see `{self.prog} --help`)", EXIT_USAGE, "usage")


def build_parser() -> argparse.ArgumentParser:
    where = Parser(add_help=False)
    where.add_argument("--data-dir", default=argparse.SUPPRESS, metavar="DIR",
                       help="data directory (default: $BCL_DATA_DIR, else the user data directory)")
    where.add_argument("--now", default=argparse.SUPPRESS, metavar="ISO",
                       help="start the centre's clock at this instant, e.g. 2027-04-01T02:00+09:00 "
                            "(training and tests)")
    where.add_argument("--database", default=argparse.SUPPRESS, metavar="URL", dest="database_url",
                       help="postgresql://USER@HOST:PORT/DBNAME: the centre's database on PostgreSQL "
                            "(default: $BCL_DATABASE_URL, else the SQLite file in the data directory)")
    where.add_argument("--log-format", default=argparse.SUPPRESS, choices=("human", "json"),
                       help="the log file's lines: human (default) or json, one JSON object per event "
                            "(default: $BCL_LOG_FORMAT, else log-format in config.toml)")
    js = Parser(add_help=False)
    js.add_argument("--json", action="store_true", help="print one JSON document on stdout")

    parser = Parser(
        prog="bcl-console",
        description="Operations console of the BCL municipal infrastructure cloud. "
                    "With no command, starts the console (demo data on an empty data directory).",
        parents=[where],
    )
    parser.add_argument("--version", action="version", version=f"bcl-console {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    common = Common(plain=[where], json=[where, js], json_only=[js])
    for group in GROUPS:
        group.register(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    wants_json = "--json" in argv
    try:
        args = build_parser().parse_args(argv)
        func = getattr(args, "func", serve.cmd_console)
        wants_json = bool(getattr(args, "json", False))
        return int(func(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `bcl-console … | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILURE
    except Exception as exc:  # every failure leaves as one sentence (and JSON with --json)
        error = cli_error(exc)
    print(f"bcl-console: {error.message}", file=sys.stderr)
    if wants_json:
        print(json.dumps({"error": {"code": error.code, "message": error.message, **error.where}},
                         ensure_ascii=False))
    return error.exit_code
