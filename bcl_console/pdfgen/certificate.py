"""Certificates as A4 PDF: the front pages (おもて面) and the anti-forgery back (うら面).

``render`` is a pure function of its arguments (content, code, signed payload), made
to run in worker processes: the font is parsed once per process (fontcache) and every
document gets its own clone, so no document ever carries another's glyphs or text.
"""

from __future__ import annotations

import io
import json
import threading
import zlib
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

import segno
from fontTools.pens.basePen import BasePen
from fontTools.ttLib import TTFont
from fpdf import FPDF
from fpdf.drawing_primitives import Transform
from fpdf.enums import PDFResourceType
from fpdf.pattern import Pattern
from fpdf.syntax import Name, PDFObject
from PIL import Image

from bcl_console.domain.certificate import VERIFY_NOTE, CertificateContent, FrontPage
from bcl_console.pdfgen.fontcache import FAMILY, install_mincho
from bcl_console.pdfgen.fonts import mincho_path

ATTACHMENT = "bcl-certificate.json"
QR_PREFIX = "BCL1:"
PAGE_W, PAGE_H = 210.0, 297.0
MARGIN = 20.0
LABEL_W = 46.0
RED = (200, 30, 40)


@dataclass(frozen=True)
class Signed:
    """The signed payload as compact JSON, and the signature (base64)."""

    payload_json: str
    signature: str

    @property
    def qr_text(self) -> str:
        return f"{QR_PREFIX}{self.payload_json}|{self.signature}"

    def attachment(self) -> bytes:
        return json.dumps({"payload": json.loads(self.payload_json), "signature": self.signature},
                          ensure_ascii=False, sort_keys=True).encode("utf-8")


def drawn_strings(content: CertificateContent, code: str, page_count: int | None = None) -> list[str]:
    """Every string drawn on the fronts, in drawing order (what the signature covers)."""
    total = page_count or len(content.pages)
    out: list[str] = []
    for index, page in enumerate(content.pages, start=1):
        out.append(page.title)
        if page.image_png is not None:
            out.append(page.image_label)
        for label, value in page.fields:
            out.extend((label, value))
        out.extend((page.sentence, content.issue_date_text, content.issuer, content.seal_text,
                    f"検証コード {code}", VERIFY_NOTE, f"{index} / {total}"))
    return out


class _Doc(FPDF):
    def __init__(self) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.set_auto_page_break(False)
        self.set_margins(MARGIN, MARGIN, MARGIN)
        self.set_creator("bcl-console")
        self.set_producer("bcl-console")
        install_mincho(self)
        self.drawn: list[str] = []
        self.patterns: dict[tuple[int, int, int], tuple[_Tiling, _Tiling]] = {}

    def put(self, x: float, y: float, text: str, size: float, *, color: tuple[int, int, int] = (0, 0, 0),
            record: bool = True) -> None:
        self.set_font(FAMILY, size=size)
        self.set_text_color(*color)
        self.text(x, y, text)
        if record:
            self.drawn.append(text)

    def wrap(self, text: str, width: float, size: float) -> list[str]:
        """Split text into lines that fit ``width`` (character by character: Japanese has no spaces)."""
        self.set_font(FAMILY, size=size)
        lines, current = [], ""
        for ch in text:
            if current and self.get_string_width(current + ch) > width:
                lines.append(current)
                current = ch
            else:
                current += ch
        lines.append(current)
        return lines


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


def impression_size(png: bytes, room: float) -> tuple[float, float]:
    """The printed size in mm of a seal impression: 原寸 (actual size), read from the
    resolution the PNG carries; fitted to ``room`` when it carries none, or a size that
    does not fit (no registrable seal is larger than 25 mm: such a resolution is wrong)."""
    with Image.open(io.BytesIO(png)) as image:
        px_w, px_h = image.size
        dpi = image.info.get("dpi", (0, 0))
    try:
        dpi_x, dpi_y = float(dpi[0]), float(dpi[1])
    except (TypeError, ValueError, IndexError):
        dpi_x = dpi_y = 0.0
    if dpi_x > 0 and dpi_y > 0:
        w, h = px_w / dpi_x * 25.4, px_h / dpi_y * 25.4
        if w <= room and h <= room:
            return w, h
    fit = room / max(px_w, px_h)
    return px_w * fit, px_h * fit


def _front(pdf: _Doc, content: CertificateContent, page: FrontPage, code: str, index: int, total: int) -> None:
    pdf.add_page()
    _latent_ground(pdf, FRONT_WORDS, FRONT_INK)
    pdf.set_font(FAMILY, size=20)
    width = pdf.get_string_width(page.title)
    pdf.put((PAGE_W - width) / 2, MARGIN + 8, page.title, 20)
    top = MARGIN + 20
    value_x = MARGIN + LABEL_W + 3
    value_w = PAGE_W - MARGIN - value_x - 2
    if page.image_png is not None:
        box = 42.0
        x = PAGE_W - MARGIN - box
        pdf.set_draw_color(0, 0, 0)
        pdf.rect(x, top, box, box)
        w, h = impression_size(page.image_png, box - 8)
        pdf.image(io.BytesIO(page.image_png), x + (box - w) / 2, top + (box - h) / 2, w, h)
        pdf.put(x, top + box + 5, page.image_label, 9)
        value_w -= box + 4
        min_bottom = top + box + 8
    else:
        min_bottom = top
    y = top
    pdf.set_draw_color(90, 90, 90)
    pdf.set_line_width(0.2)
    for label, value in page.fields:
        lines = pdf.wrap(value, value_w, 11)
        height = 6.5 * len(lines) + 3
        pdf.line(MARGIN, y, MARGIN + LABEL_W + 3 + value_w, y)
        pdf.put(MARGIN + 1, y + 6, label, 10)
        for n, line in enumerate(lines):  # recorded whole, not as wrapped lines
            pdf.put(value_x, y + 6 + 6.5 * n, line, 11, record=False)
        pdf.drawn.append(value)
        y += height
    pdf.line(MARGIN, y, MARGIN + LABEL_W + 3 + value_w, y)
    pdf.line(MARGIN + LABEL_W, top, MARGIN + LABEL_W, y)
    y = max(y, min_bottom) + 12
    for n, line in enumerate(pdf.wrap(page.sentence, PAGE_W - 2 * MARGIN, 11)):
        pdf.put(MARGIN, y + 6.5 * n, line, 11, record=False)
    pdf.drawn.append(page.sentence)
    y += 22
    pdf.put(MARGIN + 10, y, content.issue_date_text, 11)
    y += 14
    pdf.set_font(FAMILY, size=13)
    issuer_w = pdf.get_string_width(content.issuer)
    issuer_x = PAGE_W - MARGIN - 30 - issuer_w
    pdf.put(issuer_x, y, content.issuer, 13)
    # The official seal (公印): a red square with the seal's text in two columns.
    sx, sy, side = PAGE_W - MARGIN - 24, y - 14, 22.0
    pdf.set_draw_color(*RED)
    pdf.set_line_width(0.8)
    pdf.rect(sx, sy, side, side)
    text = content.seal_text
    half = (len(text) + 1) // 2
    columns = [text[:half], text[half:]]
    char = side / max(half, 1) * 0.82
    for c, col in enumerate(columns):
        for r, ch in enumerate(col):
            pdf.put(sx + side - (c + 1) * side / 2 + (side / 2 - char * 0.8) / 2,
                    sy + 2 + char * (r + 0.85), ch, char * 2.4, color=RED, record=False)
    pdf.drawn.append(text)
    pdf.set_line_width(0.2)
    pdf.put(MARGIN, PAGE_H - MARGIN - 8, f"検証コード {code}", 10)
    pdf.put(MARGIN, PAGE_H - MARGIN - 3, VERIFY_NOTE, 7, color=(80, 80, 80))
    label = f"{index} / {total}"
    pdf.set_font(FAMILY, size=9)
    pdf.put(PAGE_W - MARGIN - pdf.get_string_width(label), PAGE_H - MARGIN - 3, label, 9)


def _fill_rects(pdf: _Doc, rects: list[tuple[float, float, float, float]], rgb: tuple[int, int, int]) -> None:
    """Many filled rectangles as one path: one content-stream operation instead of one
    fpdf2 call each (a QR code has hundreds of runs)."""
    k, h = pdf.k, pdf.h
    ops = [f"q {rgb[0] / 255:.3f} {rgb[1] / 255:.3f} {rgb[2] / 255:.3f} rg"]
    ops += [f"{x * k:.2f} {(h - y) * k:.2f} {w * k:.2f} {-hh * k:.2f} re" for x, y, w, hh in rects]
    ops.append("f Q")
    pdf._out("\n".join(ops))


def _back(pdf: _Doc, content: CertificateContent, code: str, signed: Signed) -> None:
    pdf.add_page()
    _latent_ground(pdf, BACK_WORD, BACK_INK)
    # The signed 2-D code: each run of dark modules in a row is one rectangle.
    qr = segno.make(signed.qr_text, error="m", mask=2, micro=False)
    modules = [list(row) for row in qr.matrix]
    size = len(modules)
    cell = min(1.0, 110.0 / size)
    x0 = (PAGE_W - cell * (size + 8)) / 2 + 4 * cell
    y0 = 170.0
    quiet = cell * (size + 8)
    _fill_rects(pdf, [(x0 - 4 * cell, y0 - 4 * cell, quiet, quiet)], (255, 255, 255))
    runs = []
    for r, row in enumerate(modules):
        c = 0
        while c < size:
            if row[c]:
                start = c
                while c < size and row[c]:
                    c += 1
                runs.append((x0 + start * cell, y0 + r * cell, (c - start) * cell, cell))
            else:
                c += 1
    _fill_rects(pdf, runs, (0, 0, 0))
    y = y0 + cell * size + 10
    _fill_rects(pdf, [(MARGIN - 2, y - 6, PAGE_W - 2 * MARGIN + 4, 30)], (255, 255, 255))
    pdf.put(MARGIN, y, "検証用二次元コード（発行センターの電子署名付き）", 9, record=False)
    pdf.put(MARGIN, y + 6, f"検証コード {code}", 9, record=False)
    sig = signed.signature
    pdf.put(MARGIN, y + 12, f"署名 {sig[:60]}", 7, color=(60, 60, 60), record=False)
    pdf.put(MARGIN, y + 16, sig[60:], 7, color=(60, 60, 60), record=False)


#: One render at a time per process. The font clones share the pristine font's glyph
#: objects, which fontTools may touch while subsetting: two threads rendering at once
#: could corrupt a document. Worker processes render one job at a time anyway; the lock
#: makes thread-mode rendering (the CLI, tests) just as safe.
_RENDER_LOCK = threading.Lock()


def render(content: CertificateContent, code: str, signed: Signed, created: datetime) -> bytes:
    """The whole document: each front followed by its back, and the payload attached."""
    with _RENDER_LOCK:
        return _render(content, code, signed, created)


def _render(content: CertificateContent, code: str, signed: Signed, created: datetime) -> bytes:
    pdf = _Doc()
    pdf.set_creation_date(created)
    pdf.set_title(content.pages[0].title)
    total = len(content.pages)
    for index, page in enumerate(content.pages, start=1):
        _front(pdf, content, page, code, index, total)
        _back(pdf, content, code, signed)
    expected = drawn_strings(content, code)
    if pdf.drawn != expected:  # the renderer and the signed text must never drift apart
        raise AssertionError("the drawn text differs from the signed text")
    pdf.embed_file(bytes=signed.attachment(), basename=ATTACHMENT, desc="BCL signed certificate data",
                   modification_date=created, creation_date=created)
    return bytes(pdf.output())
