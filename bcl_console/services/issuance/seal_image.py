"""Seal impressions (印影) for the demo data set: a red round seal with the family name."""

from __future__ import annotations

import hashlib
import io
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

from bcl_console.pdfgen.fonts import mincho_path

SIZE = 160
RED = (200, 30, 40, 255)


@lru_cache(maxsize=4)
def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(mincho_path()), size)


def seal_png(family_name: str) -> bytes:
    """A round seal (丸印) with the name written top to bottom, as PNG bytes."""
    scale = 3  # draw large, then shrink: smooth edges without antialias support in draw
    big = SIZE * scale
    image = Image.new("RGBA", (big, big), (255, 255, 255, 0))
    draw = ImageDraw.Draw(image)
    margin = 6 * scale
    draw.ellipse((margin, margin, big - margin, big - margin), outline=RED, width=9 * scale)
    chars = list(family_name)[:3]
    cell = int((big - 2 * margin) * 0.78 / max(2, len(chars)))
    font = _font(cell)
    top = (big - cell * len(chars)) / 2
    for i, ch in enumerate(chars):
        box = draw.textbbox((0, 0), ch, font=font)
        width = box[2] - box[0]
        draw.text(((big - width) / 2 - box[0], top + i * cell - box[1] * 0.6), ch, font=font, fill=RED, stroke_width=scale * 2, stroke_fill=RED)
    small = image.resize((SIZE, SIZE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    small.save(out, format="PNG", optimize=True)
    return out.getvalue()


def impression(family_name: str) -> tuple[str, bytes]:
    """(sha256 hex, png) of a family name's seal."""
    png = seal_png(family_name)
    return hashlib.sha256(png).hexdigest(), png
