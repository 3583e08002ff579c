"""What every command group uses: the settings and the runtime of the data directory,
the acting operator, the signals that stop a long-running command, whole numbers, and the
parent parsers of the shared options."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

from bcl_console.cli.output import EXIT_USAGE, CliError
from bcl_console.config import Settings, load_settings
from bcl_console.services.platform.actor import Actor
from bcl_console.services.platform.runtime import Runtime

if TYPE_CHECKING:
    Subparsers: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]


@dataclass(frozen=True)
class Common:
    """The parents a command's parser takes: ``plain`` (--data-dir, --now), ``json``
    (those and --json), ``json_only`` (--json alone, for a command that runs outside a
    centre's data directory)."""

    plain: list[argparse.ArgumentParser]
    json: list[argparse.ArgumentParser]
    json_only: list[argparse.ArgumentParser]


def settings_from(args: argparse.Namespace, **extra: Any) -> Settings:
    return load_settings(getattr(args, "data_dir", None), now=getattr(args, "now", None),
                         database_url=getattr(args, "database_url", None),
                         log_format=getattr(args, "log_format", None), **extra)


def with_runtime(
    args: argparse.Namespace, body: Callable[[Runtime], Awaitable[int]], *, create: bool = False,
    **extra: Any,
) -> int:
    """Run ``body`` on the centre of the data directory. Only the console, ``demo`` and
    ``init`` make a centre (``create``); any other command on a directory that holds none
    is a usage error naming it, so a mistyped --data-dir never settles an empty year."""

    async def main() -> int:
        runtime = Runtime(settings_from(args, **extra))
        await runtime.start(create=create)
        try:
            return await body(runtime)
        finally:
            await runtime.stop()

    return asyncio.run(main())


def read_token_file(name: str) -> str:
    """A token from a file whose last non-empty line is the token (as the CLI prints it)."""
    from pathlib import Path

    try:
        lines = [line.strip() for line in Path(name).read_text(encoding="utf-8").splitlines() if line.strip()]
        return lines[-1]
    except (OSError, IndexError, UnicodeDecodeError) as exc:
        raise CliError(f"token file {name} cannot be read: {exc}", EXIT_USAGE, "usage") from None


def render_workers() -> int:
    """Certificate render processes for long-running services: one per core."""
    return max(1, os.cpu_count() or 1)


def stop_signal() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM: long-running commands stop cleanly on either."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


def actor() -> Actor:
    return Actor.local("cli")


#: Whole numbers on the command line fit a signed 64-bit column (ids, limits, yen …).
_MAX_WHOLE = 2**63 - 1


def whole(text: str) -> int:
    """argparse's type for every whole number: one validation layer, so a value SQLite
    cannot hold is a usage error, never an OverflowError deep in a query."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not -_MAX_WHOLE - 1 <= value <= _MAX_WHOLE:
        raise argparse.ArgumentTypeError(f"{text} is out of range (at most {_MAX_WHOLE:,})")
    return value


def positive_seconds(text: str) -> float:
    """argparse's type for a duration in seconds: a finite number above zero, at most a day."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value <= 86_400:
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and 86400 seconds")
    return value
