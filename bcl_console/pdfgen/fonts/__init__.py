"""Fonts that ship inside the package, so no system font is needed."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

MINCHO_FILENAME = "BCLMincho-Regular.ttf"


def mincho_path() -> Path:
    """Path of the bundled Mincho (BIZ UDMincho subset to CP932, SIL OFL 1.1)."""
    return Path(str(resources.files(__name__).joinpath(MINCHO_FILENAME)))
