"""The bundled Mincho, parsed once per process and given to each document as a clone.

fpdf2 parses a TrueType font in ``add_font`` and subsets it *in place* in ``output()``:
a font object shared by two documents would embed the wrong glyph subset. Parsing the
font for every document costs ~100 ms. Instead the font is parsed once (all tables
decompiled, glyphs kept as raw data) and each document gets a clone whose table
objects are shallow copies: the subsetter only rebinds attributes of those copies
(``glyphs``, ``metrics``, ``cmap`` …), so the pristine font is never changed. The
tests render different documents from one process and read each one back.

Tied to fpdf2's TTFFont internals: pyproject pins fpdf2 to the 2.8 series.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

from fontTools.ttLib import TTFont
from fpdf import FPDF
from fpdf.fonts import SubsetMap, TTFFont

from bcl_console.pdfgen.fonts import mincho_path

FAMILY = "mincho"

_lock = threading.Lock()
_pristine: TTFFont | None = None


def _load() -> TTFFont:
    global _pristine
    with _lock:
        if _pristine is None:
            holder = FPDF()
            holder.add_font(FAMILY, fname=str(mincho_path()))
            font = holder.fonts[FAMILY]
            assert isinstance(font, TTFFont)
            for tag in list(font.ttfont.keys()):
                if tag != "GlyphOrder":
                    font.ttfont[tag]  # decompile every table once
            _pristine = font
    return _pristine


def _clone_table(table: Any) -> Any:
    clone = copy.copy(table)
    if getattr(table, "tableTag", "") == "cmap":
        subtables = []
        for sub in table.tables:
            sub_clone = copy.copy(sub)
            if hasattr(sub, "cmap"):
                sub_clone.cmap = dict(sub.cmap)
            subtables.append(sub_clone)
        clone.tables = subtables
    return clone


def _clone_ttfont(original: TTFont) -> TTFont:
    clone = TTFont.__new__(TTFont)
    clone.__dict__.update(original.__dict__)
    clone.tables = {tag: _clone_table(t) for tag, t in original.tables.items()}
    if hasattr(original, "glyphOrder"):
        clone.glyphOrder = list(original.glyphOrder)
    # Glyph bounds are already right in the font; recomputing them would expand (decode)
    # every glyph, which then has to be encoded again: 4x slower than copying its bytes.
    clone.recalcBBoxes = False
    return clone


def install_mincho(pdf: FPDF) -> None:
    """Make family "mincho" available in ``pdf`` without parsing the font again."""
    pristine = _load()
    font = copy.copy(pristine)
    font.ttfont = _clone_ttfont(pristine.ttfont)
    font.i = len(pdf.fonts) + 1
    font.missing_glyphs = []
    font.biggest_size_pt = 0
    font._hbfont = None
    font.subset = SubsetMap(font)
    pdf.fonts[FAMILY] = font


def has_glyph(char: str) -> bool:
    """Whether the bundled font can print ``char`` (else it is a 外字 here)."""
    return ord(char) in _load().cmap


def missing_glyphs(text: str) -> list[str]:
    cmap = _load().cmap
    return sorted({ch for ch in text if ord(ch) not in cmap and not ch.isspace()})
