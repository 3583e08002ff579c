"""What the command line prints: one JSON document with --json, else tables and
sentences for a person (progress bars: cli/progress.py); and a failure as one sentence
with its exit code (contract §1)."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable, Sequence
from typing import Any

from bcl_console.config import ConfigError
from bcl_console.domain.errors import DomainError
from bcl_console.store import StoreCannotOpen, StoreError, disk_full

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_REJECTED = 0, 1, 2, 3


class CliError(Exception):
    def __init__(self, message: str, exit_code: int, code: str = "error", **where: Any) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        self.code = code
        self.where = {k: v for k, v in where.items() if v is not None}


def emit(args: argparse.Namespace, document: dict[str, Any], human: Callable[[], None]) -> None:
    if getattr(args, "json", False):
        print(json.dumps(document, ensure_ascii=False, indent=2, default=str))
    else:
        human()


def table(rows: Sequence[Sequence[object]], headers: Sequence[str]) -> None:
    cells = [[str(h) for h in headers]] + [[("" if c is None else str(c)) for c in r] for r in rows]
    widths = [max(_width(row[i]) for row in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        print("  ".join(_pad(c, w) for c, w in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))


def _width(text: str) -> int:
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def print_token(args: argparse.Namespace, doc: dict[str, str], label: str) -> None:
    """A new token: the JSON document, or a sentence and then the token alone on the last line."""
    if args.json:
        print(json.dumps(doc, ensure_ascii=False))
    else:
        print(f"{label} (shown once; only its hash is kept):")
        print(doc["token"])


def cli_error(exc: Exception) -> CliError:
    """The one sentence, exit code and error code of a failure (contract §1)."""
    if isinstance(exc, CliError):
        return exc
    if isinstance(exc, DomainError):
        return CliError(exc.sentence(), EXIT_REJECTED, exc.code, file=exc.file, line=exc.line, field=exc.field)
    if isinstance(exc, ConfigError):
        return CliError(str(exc), EXIT_USAGE, "config")
    if disk_full(exc) and isinstance(exc, OSError) and exc.filename:
        return CliError(f"the disk is full: {exc.filename} could not be written (free space, then run the "
                        "command again)", EXIT_FAILURE, "storage_full", file=str(exc.filename))
    if disk_full(exc):
        return CliError("the data directory's disk is full; nothing more was written (free space, then "
                        "run the command again)", EXIT_FAILURE, "storage_full")
    if isinstance(exc, StoreCannotOpen):
        return CliError(str(exc), EXIT_USAGE, exc.code)
    if isinstance(exc, StoreError):
        return CliError(str(exc), EXIT_FAILURE, exc.code)
    if isinstance(exc, OSError):
        return CliError(f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""),
                        EXIT_FAILURE, "os")
    if os.environ.get("BCL_DEBUG"):
        raise exc
    return CliError(f"unexpected error ({type(exc).__name__}: {exc}); run again with BCL_DEBUG=1 "
                    "for the traceback", EXIT_FAILURE, "internal")
