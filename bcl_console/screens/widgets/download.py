"""Files the console writes, handed to the browser in a `bcl-console web` session."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

from textual.app import App


def offer(app: App[object], source: Path | bytes, filename: str, mime_type: str) -> bool:
    """In a browser session, send ``source`` (a file, or bytes) to the browser as a download
    named ``filename``; on a terminal do nothing (the file is where the console said).
    Whether it was offered."""
    if not app.is_web:
        return False
    data = source.read_bytes() if isinstance(source, Path) else source
    app.deliver_binary(BytesIO(data), save_filename=filename, mime_type=mime_type)
    return True
