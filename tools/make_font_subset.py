"""Make the bundled certificate font: BIZ UDMincho subset to the characters of CP932.

Run once by a developer (the result is committed); not needed at run time.
    apt-get install fonts-morisawa-bizud-mincho
    .venv/bin/pip install fonttools
    .venv/bin/python tools/make_font_subset.py

BIZ UDMincho (Morisawa, SIL Open Font License 1.1, no reserved font name) is a
TrueType-outline Mincho designed for official documents. CP932 covers JIS X 0208
(levels 1 and 2), NEC special characters and the IBM extension kanji that names use
(髙, 﨑, …); anything outside it is a 外字 that the certificates refuse.
"""

from __future__ import annotations

import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTFont

SOURCE = Path("/usr/share/fonts/truetype/bizud-mincho/BIZUDMincho-Regular.ttf")
TARGET = Path(__file__).resolve().parent.parent / "bcl_console/pdfgen/fonts/BCLMincho-Regular.ttf"


def cp932_characters() -> set[str]:
    chars = {chr(c) for c in range(0x20, 0x7F)}
    chars |= {bytes([b]).decode("cp932") for b in range(0xA1, 0xE0)}  # half-width kana
    leads = list(range(0x81, 0xA0)) + list(range(0xE0, 0xFD))
    trails = list(range(0x40, 0x7F)) + list(range(0x80, 0xFD))
    for lead in leads:
        for trail in trails:
            try:
                chars.add(bytes([lead, trail]).decode("cp932"))
            except UnicodeDecodeError:
                pass
    # The same JIS characters as other code pages decode them (docs/style.md).
    chars |= {"\u2212", "\u301c", "\u2016", "\u00a2", "\u00a3", "\u00ac", "\u2014", "\u3000"}
    return chars


def main() -> int:
    font = TTFont(SOURCE)
    cmap = font.getBestCmap()
    wanted = sorted(ord(c) for c in cp932_characters() if ord(c) in cmap)
    options = subset.Options()
    options.layout_features = ["*"]
    options.name_IDs = ["*"]
    options.notdef_outline = True
    options.hinting = False
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=wanted)
    subsetter.subset(font)
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    font.save(TARGET)
    print(f"{TARGET}: {len(wanted)} characters, {TARGET.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
