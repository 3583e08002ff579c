"""`python -m bcl_console` is the same as the `bcl-console` command."""

from bcl_console.cli import main

raise SystemExit(main())
