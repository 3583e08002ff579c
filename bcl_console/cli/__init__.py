"""The `bcl-console` command line: ``main`` (the console script's entry) parses, dispatches
to a command group's module and maps failures to exit codes; ``output`` prints."""

from bcl_console.cli.main import main as main

__all__ = ["main"]
