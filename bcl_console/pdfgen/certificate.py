"""Certificates as A4 PDF: the front pages (おもて面) and the anti-forgery back (うら面).

``render`` is a pure function of its arguments (content, code, signed payload), made
to run in worker processes: the font is parsed once per process (fontcache) and every
document gets its own clone, so no document ever carries another's glyphs or text.
"""

from __future__ import annotations

import io
import json
import threading
from dataclasses import dataclass
from datetime import datetime

import segno
from fpdf import FPDF

from bcl_console.domain.certificate import VERIFY_NOTE, CertificateContent, FrontPage
from bcl_console.pdfgen.fontcache import FAMILY, install_mincho

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


def _front(pdf: _Doc, content: CertificateContent, page: FrontPage, code: str, index: int, total: int) -> None:
    pdf.add_page()
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
        pdf.image(io.BytesIO(page.image_png), x + 4, top + 4, box - 8, box - 8)
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


def _stroke_lines(pdf: _Doc, lines: list[tuple[float, float, float, float]], rgb: tuple[int, int, int],
                  width: float) -> None:
    k, h = pdf.k, pdf.h
    ops = [f"q {rgb[0] / 255:.3f} {rgb[1] / 255:.3f} {rgb[2] / 255:.3f} RG {width * k:.2f} w"]
    ops += [f"{x1 * k:.2f} {(h - y1) * k:.2f} m {x2 * k:.2f} {(h - y2) * k:.2f} l" for x1, y1, x2, y2 in lines]
    ops.append("S Q")
    pdf._out("\n".join(ops))


def _back(pdf: _Doc, content: CertificateContent, code: str, signed: Signed) -> None:
    pdf.add_page()
    # 地紋: a fine lattice of light lines over the whole sheet.
    lattice = []
    step = 6.0
    k = -PAGE_H
    while k < PAGE_W:
        lattice.append((k, 0.0, k + PAGE_H, PAGE_H))
        lattice.append((k + PAGE_H, 0.0, k, PAGE_H))
        k += step
    _stroke_lines(pdf, lattice, (205, 222, 236), 0.15)
    # 複写: the copy-deterrent word, faint on the original, that a photocopy brings out.
    pdf.set_font(FAMILY, size=150)
    pdf.set_text_color(236, 236, 240)
    pdf.text(22, 150, "複写")
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
