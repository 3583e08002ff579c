"""Seal impressions (印影) for the demo data set: a red round seal with the family name.

A registered seal is at most 25 mm across; a certificate prints its impression at 原寸
(actual size). The demo's seals are 15–21 mm (each family's size fixed by its name) and
their PNGs say so: they are drawn at DPI for that size and carry it as their resolution
(the PNG pHYs chunk), which the certificate renderer reads to place them at 原寸.
"""

from __future__ import annotations

import hashlib
import io
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

from bcl_console.pdfgen.fonts import mincho_path

#: The resolution of the demo's impressions: above the 300 dpi a print needs.
DPI = 400
#: The range of the demo seals' diameters, in mm (a registrable seal is 8–25 mm).
MIN_MM, MAX_MM = 15, 21
RED = (200, 30, 40, 255)


@lru_cache(maxsize=4)
def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(mincho_path()), size)


def seal_mm(family_name: str) -> int:
    """The diameter of a family's demo seal in mm: the same for a name every time."""
    digest = hashlib.sha256(family_name.encode("utf-8")).digest()
    return MIN_MM + digest[0] % (MAX_MM - MIN_MM + 1)


def seal_pixels(diameter_mm: float) -> int:
    return round(diameter_mm / 25.4 * DPI)


@lru_cache(maxsize=256)
def seal_png(family_name: str) -> bytes:
    """A round seal (丸印) with the name written top to bottom, as PNG bytes, at DPI for
    its diameter (seal_mm) and saying so. Deterministic: the same bytes for a name."""
    size = seal_pixels(seal_mm(family_name))
    scale = 2  # draw large, then shrink: smooth edges without antialias support in draw
    big = size * scale
    unit = big / 160  # the design's proportions, as first drawn on a 160 px grid
    image = Image.new("RGBA", (big, big), (255, 255, 255, 0))
    draw = ImageDraw.Draw(image)
    margin = round(6 * unit)
    draw.ellipse((margin, margin, big - margin, big - margin), outline=RED, width=round(9 * unit))
    chars = list(family_name)[:3]
    cell = int((big - 2 * margin) * 0.78 / max(2, len(chars)))
    font = _font(cell)
    top = (big - cell * len(chars)) / 2
    for i, ch in enumerate(chars):
        box = draw.textbbox((0, 0), ch, font=font)
        width = box[2] - box[0]
        draw.text(((big - width) / 2 - box[0], top + i * cell - box[1] * 0.6), ch, font=font, fill=RED,
                  stroke_width=round(2 * unit), stroke_fill=RED)
    small = image.resize((size, size), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    small.save(out, format="PNG", optimize=True, dpi=(DPI, DPI))
    return out.getvalue()


def impression(family_name: str) -> tuple[str, bytes]:
    """(sha256 hex, png) of a family name's seal."""
    png = seal_png(family_name)
    return hashlib.sha256(png).hexdigest(), png
