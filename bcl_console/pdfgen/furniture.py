"""The page furniture of a certificate, drawn by fpdf2 once per process and kept.

What is the same on every document of a title and an issuer is drawn here once: the
けん制地紋 of both sides (the latent 「複写」), the title, the issuer's name with the
official seal (公印), the note on verification, and the back's caption. It is then
taken apart into PDF objects (pikepdf, once) and kept serialised as two form XObjects
— the front's furniture and the back's — numbered from 1, so every document of that
key starts with the same bytes and draws its own fields over them (pdfgen.certificate).
"""

from __future__ import annotations

import io
import threading
import zlib
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

import pikepdf
from fontTools.pens.basePen import BasePen
from fontTools.ttLib import TTFont
from fpdf import FPDF
from fpdf.drawing_primitives import Transform
from fpdf.enums import PDFResourceType
from fpdf.pattern import Pattern
from fpdf.syntax import Name, PDFObject

from bcl_console.domain.certificate import VERIFY_NOTE
from bcl_console.pdfgen.fontcache import FAMILY, install_mincho
from bcl_console.pdfgen.fonts import mincho_path

PAGE_W, PAGE_H = 210.0, 297.0
MARGIN = 20.0
RED = (200, 30, 40)
#: Where the fixed parts stand (mm from the top): the variable fields end above FIELDS_END.
TITLE_Y = MARGIN + 8
FIELDS_TOP = MARGIN + 20
FIELDS_END = 214.0
SENTENCE_Y = 222.0
DATE_Y = 238.0
ISSUER_Y = 254.0
CODE_Y = PAGE_H - MARGIN - 8
NOTE_Y = PAGE_H - MARGIN - 3
#: The back: the 2-D code's top, and the caption under it.
QR_TOP = 170.0
QR_ROOM = 110.0
CAPTION_Y = QR_TOP + QR_ROOM + 6
BACK_CAPTION = "検証用二次元コード（発行センターの電子署名付き）"


class _Doc(FPDF):
    def __init__(self) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.set_auto_page_break(False)
        self.set_margins(MARGIN, MARGIN, MARGIN)
        install_mincho(self)
        self.patterns: dict[tuple[int, int, int], tuple[_Tiling, _Tiling]] = {}

    def put(self, x: float, y: float, text: str, size: float, color: tuple[int, int, int] = (0, 0, 0)) -> None:
        self.set_font(FAMILY, size=size)
        self.set_text_color(*color)
        self.text(x, y, text)


# -- けん制地紋: the copy-deterrent background of both sides ------------------------------
# A latent image as J-LIS prints it: the background is fine dots, the word 「複写」 mostly
# coarse dots, at the same coverage, in one ink. On the original both read as the same
# even tint; a copier's optics blur the fine dots into a light grey above its threshold
# (they drop out) while each coarse dot stays dark enough to print, so a copy shows the
# word. Both are PDF tiling patterns (one cell each, made once per process and shared by
# a document's pages) and the word is one outline path from the font, never text: no
# fpdf2 call per dot, and the signed text of the front is unchanged.

FINE_PITCH = 25.4 / 75  # mm: 75 dots an inch, below what a copier resolves as dots
COARSE_PITCH = 6 * FINE_PITCH  # mm: the word's dots, 12.5 an inch: large and sparse, a copy keeps them
DOT_COVERAGE = 0.12  # the share of the sheet under ink, the same in both patterns
COARSE_SHARE = 0.10  # of it, in the word, the share of the coarse dots
#: The pattern inks: the back's stronger (it carries nothing to read), the front's light
#: enough that the text over it reads as on plain paper.
BACK_INK = (40, 70, 120)
FRONT_INK = (80, 105, 150)
WORD = "複写"


class _Tiling(Pattern):
    """A coloured tiling pattern (PatternType 1) of one square cell, in page millimetres
    (fpdf2 maps pattern space like the page: origin top left, y down)."""

    def __init__(self, cell_ops: str, step: float) -> None:
        PDFObject.__init__(self)
        self.type = Name("Pattern")
        self.pattern_type = 1
        self.paint_type = 1
        self.tiling_type = 1
        self.b_box = f"[0 0 {step:.4f} {step:.4f}]"
        self.x_step = f"{step:.4f}"
        self.y_step = f"{step:.4f}"
        self.resources = "<< >>"
        self._ops = zlib.compress(cell_ops.encode("latin-1"))
        self.filter = Name("FlateDecode")
        self.length = len(self._ops)
        self._matrix = Transform.identity()
        self._apply_page_ctm = True

    @property
    def shading(self) -> str | None:  # type: ignore[override]
        return None

    def content_stream(self) -> bytes:
        return self._ops


def _rgb(ink: tuple[int, int, int]) -> str:
    return f"{ink[0] / 255:.3f} {ink[1] / 255:.3f} {ink[2] / 255:.3f}"


def _square(cx: float, cy: float, side: float) -> str:
    return f"{cx - side / 2:.4f} {cy - side / 2:.4f} {side:.4f} {side:.4f} re"


@lru_cache(maxsize=8)
def _ground_cell(ink: tuple[int, int, int]) -> str:
    """The background's cell: COARSE_PITCH mm square, fine square dots of DOT_COVERAGE at
    FINE_PITCH. Squares: a rasteriser covers them exactly, where round dots of a pixel or
    less come out too light; and a cell of one fine dot (two pixels at 150 dpi) renders
    too light in poppler, hence cells as large as the word's."""
    n = round(COARSE_PITCH / FINE_PITCH)
    side = FINE_PITCH * DOT_COVERAGE ** 0.5
    dots = [_square((i + 0.5) * FINE_PITCH, (j + 0.5) * FINE_PITCH, side) for i in range(n) for j in range(n)]
    return f"{_rgb(ink)} rg " + " ".join(dots) + " f"


@lru_cache(maxsize=8)
def _word_cell(ink: tuple[int, int, int]) -> str:
    """The word's cell, opaque (its white covers the background under the word): one
    coarse dot of COARSE_SHARE in the middle, and fine dots of the rest of DOT_COVERAGE
    around it. The fine dots keep the word's texture close to the ground's (no white
    gaps to outline it on the original); the coarse dot is what a copy keeps."""
    n = round(COARSE_PITCH / FINE_PITCH)
    coarse = COARSE_PITCH * COARSE_SHARE ** 0.5
    centre = COARSE_PITCH / 2
    places = [((i + 0.5) * FINE_PITCH, (j + 0.5) * FINE_PITCH) for i in range(n) for j in range(n)]
    places = [(x, y) for x, y in places if max(abs(x - centre), abs(y - centre)) > coarse / 2 + FINE_PITCH / 4]
    fine = (((DOT_COVERAGE - COARSE_SHARE) * COARSE_PITCH ** 2) / len(places)) ** 0.5
    dots = [_square(centre, centre, coarse)] + [_square(x, y, fine) for x, y in places]
    return f"1 g 0 0 {COARSE_PITCH:.4f} {COARSE_PITCH:.4f} re f {_rgb(ink)} rg " + " ".join(dots) + " f"


class _PathPen(BasePen):  # type: ignore[misc]  # fontTools is untyped
    """Glyph outlines as PDF path operators in font units, shifted right by ``dx``."""

    def __init__(self, glyphs: object, dx: float) -> None:
        super().__init__(glyphs)
        self.ops: list[str] = []
        self._dx = dx

    def _pt(self, p: tuple[float, float]) -> str:
        return f"{self._dx + p[0]:.6g} {p[1]:.6g}"

    def _moveTo(self, pt: tuple[float, float]) -> None:
        self.ops.append(f"{self._pt(pt)} m")

    def _lineTo(self, pt: tuple[float, float]) -> None:
        self.ops.append(f"{self._pt(pt)} l")

    def _curveToOne(self, p1: tuple[float, float], p2: tuple[float, float], p3: tuple[float, float]) -> None:
        self.ops.append(f"{self._pt(p1)} {self._pt(p2)} {self._pt(p3)} c")

    def _closePath(self) -> None:
        self.ops.append("h")


@lru_cache(maxsize=1)
def _outlines() -> tuple[TTFont, dict[int, str]]:
    font = TTFont(str(mincho_path()), lazy=True)  # apart from fpdf2's copy: never touched by it
    return font, font.getBestCmap()


@lru_cache(maxsize=1)
def _word_units() -> str:
    """The word's outlines in font units, baseline at 0 (made once per process)."""
    font, cmap = _outlines()
    glyphs = font.getGlyphSet()
    ops: list[str] = []
    dx = 0.0
    for ch in WORD:
        name = cmap[ord(ch)]
        pen = _PathPen(glyphs, dx)
        glyphs[name].draw(pen)
        ops.extend(pen.ops)
        dx += glyphs[name].width
    return "\n".join(ops)


#: Where the word stands: (left, baseline, character height) in mm from the top left.
Placement = tuple[float, float, float]


@lru_cache(maxsize=8)
def word_path(places: tuple[Placement, ...]) -> str:
    """The word filled at each place with the current colour: the same outline text for
    every place, moved by a ``cm`` (a page compresses the repeats to one), cached."""
    font, _ = _outlines()
    units = font["head"].unitsPerEm
    k = 72 / 25.4
    outline = _word_units()
    return "\n".join(f"q {height * k / units:.6f} 0 0 {height * k / units:.6f} {left * k:.3f} "
                     f"{(PAGE_H - baseline) * k:.3f} cm\n{outline}\nf Q" for left, baseline, height in places)


def word_boxes(places: tuple[Placement, ...]) -> list[tuple[float, float, float, float]]:
    """Each placed word's box (left, top, right, bottom) in mm: the em boxes of its
    characters, from the ascent above the baseline to the descent below (for tests)."""
    font, _ = _outlines()
    ascent, descent = font["hhea"].ascent / font["head"].unitsPerEm, font["hhea"].descent / font["head"].unitsPerEm
    return [(x, y - ascent * h, x + len(WORD) * h, y - descent * h) for x, y, h in places]


#: The back: one large word above the 2-D code. The front: small words over the sheet,
#: in staggered rows, as on a J-LIS print (a copy of any part of it shows the word).
BACK_WORD: tuple[Placement, ...] = ((35.0, 145.0, 70.0),)
FRONT_WORDS: tuple[Placement, ...] = tuple(
    (20.0 + (25.0 if row % 2 else 0.0) + 85.0 * col, 62.0 + 52.0 * row, 30.0)
    for row in range(5) for col in range(2)
)


def _latent_ground(pdf: _Doc, places: tuple[Placement, ...], ink: tuple[int, int, int]) -> None:
    """The whole sheet in fine dots, the word at ``places`` in coarse ones: two fills,
    drawn first, so behind everything else on the page."""
    catalog = pdf._resource_catalog
    if ink not in pdf.patterns:  # one pair per document and ink, shared by its pages
        pdf.patterns[ink] = (_Tiling(_ground_cell(ink), COARSE_PITCH), _Tiling(_word_cell(ink), COARSE_PITCH))
    fine_pattern, coarse_pattern = pdf.patterns[ink]
    fine = catalog.add(PDFResourceType.PATTERN, fine_pattern, pdf.page)
    coarse = catalog.add(PDFResourceType.PATTERN, coarse_pattern, pdf.page)
    w, h = PAGE_W * pdf.k, PAGE_H * pdf.k
    pdf._out(f"q /Pattern cs /{fine} scn 0 0 {w:.2f} {h:.2f} re f Q\n"
             f"q /Pattern cs /{coarse} scn\n{word_path(places)}\nQ")




def _front(pdf: _Doc, title: str, issuer: str, seal_text: str) -> None:
    pdf.add_page()
    _latent_ground(pdf, FRONT_WORDS, FRONT_INK)
    pdf.set_font(FAMILY, size=20)
    pdf.put((PAGE_W - pdf.get_string_width(title)) / 2, TITLE_Y, title, 20)
    pdf.set_font(FAMILY, size=13)
    issuer_x = PAGE_W - MARGIN - 30 - pdf.get_string_width(issuer)
    pdf.put(issuer_x, ISSUER_Y, issuer, 13)
    # The official seal (公印): a red square with the seal's text in two columns.
    sx, sy, side = PAGE_W - MARGIN - 24, ISSUER_Y - 14, 22.0
    pdf.set_draw_color(*RED)
    pdf.set_line_width(0.8)
    pdf.rect(sx, sy, side, side)
    half = (len(seal_text) + 1) // 2
    columns = [seal_text[:half], seal_text[half:]]
    char = side / max(half, 1) * 0.82
    for c, col in enumerate(columns):
        for r, ch in enumerate(col):
            pdf.put(sx + side - (c + 1) * side / 2 + (side / 2 - char * 0.8) / 2,
                    sy + 2 + char * (r + 0.85), ch, char * 2.4, color=RED)
    pdf.put(MARGIN, NOTE_Y, VERIFY_NOTE, 7, color=(80, 80, 80))


def _back(pdf: _Doc) -> None:
    pdf.add_page()
    _latent_ground(pdf, BACK_WORD, BACK_INK)
    pdf.set_fill_color(255, 255, 255)
    pdf.rect(MARGIN - 2, CAPTION_Y - 6, PAGE_W - 2 * MARGIN + 4, 18, style="F")
    pdf.put(MARGIN, CAPTION_Y, BACK_CAPTION, 9)


# -- Taking fpdf2's pages apart into objects this module's users write as they are ----------

@dataclass(frozen=True)
class Furniture:
    """Objects 1…``count`` of every document with this furniture, serialised; the front's
    and the back's form XObjects are ``front`` and ``back``."""

    objects: tuple[bytes, ...]
    front: int
    back: int

    @property
    def count(self) -> int:
        return len(self.objects)


def _serialise(value: Any, numbers: dict[tuple[int, int], int]) -> str:
    if isinstance(value, pikepdf.Object) and value.is_indirect:
        return f"{numbers[value.objgen]} 0 R"
    return _direct(value, numbers)


def _direct(value: Any, numbers: dict[tuple[int, int], int]) -> str:
    if isinstance(value, pikepdf.Dictionary):
        return "<<" + "".join(f" {key} {_serialise(value[key], numbers)}" for key in value.keys()) + " >>"
    if isinstance(value, pikepdf.Array):
        return "[" + " ".join(_serialise(item, numbers) for item in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (float, Decimal)):
        return f"{value:f}"
    if isinstance(value, pikepdf.Object):
        return bytes(value.unparse()).decode("latin-1")
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _reachable(value: Any, seen: dict[tuple[int, int], pikepdf.Object]) -> None:
    if isinstance(value, pikepdf.Object) and value.is_indirect:
        if value.objgen in seen:
            return
        seen[value.objgen] = value
    if isinstance(value, pikepdf.Stream):
        _reachable(value.stream_dict, seen)
    elif isinstance(value, pikepdf.Dictionary):
        for key in value.keys():
            _reachable(value[key], seen)
    elif isinstance(value, pikepdf.Array):
        for item in value:
            _reachable(item, seen)


def _take_apart(pdf_bytes: bytes) -> Furniture:
    with pikepdf.open(io.BytesIO(pdf_bytes)) as src:
        pages = list(src.pages)
        found: dict[tuple[int, int], pikepdf.Object] = {}
        for page in pages:
            _reachable(page.obj.get("/Resources"), found)
        numbers = {objgen: n for n, objgen in enumerate(found, start=1)}
        objects = [_object_bytes(obj, numbers) for obj in found.values()]
        forms = []
        for page in pages:
            content = b"".join(s.read_bytes() for s in _contents(page.obj))
            data = zlib.compress(content, 9)
            resources = _serialise(page.obj["/Resources"], numbers)
            objects.append(
                f"<< /Type /XObject /Subtype /Form /BBox [0 0 {PAGE_W * 72 / 25.4:.2f} {PAGE_H * 72 / 25.4:.2f}] "
                f"/Resources {resources} /Length {len(data)} /Filter /FlateDecode >>\nstream\n".encode("latin-1")
                + data + b"\nendstream")
            forms.append(len(objects))
    return Furniture(tuple(objects), forms[0], forms[1])


def _contents(page: pikepdf.Dictionary) -> list[pikepdf.Object]:
    contents = page["/Contents"]
    return list(contents) if isinstance(contents, pikepdf.Array) else [contents]


def _object_bytes(obj: pikepdf.Object, numbers: dict[tuple[int, int], int]) -> bytes:
    if isinstance(obj, pikepdf.Stream):
        raw = obj.read_raw_bytes()
        entries = {key: obj.stream_dict[key] for key in obj.stream_dict.keys() if key != "/Length"}
        body = "".join(f" {key} {_serialise(value, numbers)}" for key, value in entries.items())
        return f"<< /Length {len(raw)}{body} >>\nstream\n".encode("latin-1") + raw + b"\nendstream"
    return _direct(obj, numbers).encode("latin-1")


_LOCK = threading.Lock()


@lru_cache(maxsize=64)
def furniture(title: str, issuer: str, seal_text: str) -> Furniture:
    """The furniture of a title and issuer, drawn and taken apart once per process."""
    with _LOCK:
        pdf = _Doc()
        _front(pdf, title, issuer, seal_text)
        _back(pdf)
        return _take_apart(bytes(pdf.output()))
