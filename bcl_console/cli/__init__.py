"""The `bcl-console` command line: ``main`` (the console script's entry) parses, dispatches
to a command group's module and maps failures to exit codes; ``output`` prints.

``bcl_console.cli.main`` is the entry function (pyproject's ``bcl_console.cli:main``); reach
the module of that name with ``from bcl_console.cli.main import …``."""

from bcl_console.cli.main import main as main

__all__ = ["main"]
