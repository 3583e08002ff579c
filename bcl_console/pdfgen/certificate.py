"""Certificates as A4 PDF: each front (おもて面) followed by its back (うら面), signed whole.

``render`` is a pure function of its arguments, made to run in worker processes. A
document is written in one pass (pdfwriter): objects 1…k are the furniture of its title
and issuer, drawn by fpdf2 once per process (furniture); over it this module draws the
document's own text — labels, values, sentence, date, number, code — with a subset of
the embedded Mincho made for this document alone (truetype), the seal impression at
原寸, and the back's 2-D code carrying the signed front. Last, a PDF signature over
every byte of the file (pades). Nothing of one document is kept for the next.
"""

from __future__ import annotations

import hashlib
import io
import threading
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

import zxingcpp
from PIL import Image

from bcl_console.domain.certificate import CertificateContent, FrontPage
from bcl_console.pdfgen import furniture as fur
from bcl_console.pdfgen.furniture import (
    CAPTION_Y,
    CODE_Y,
    DATE_Y,
    FIELDS_END,
    FIELDS_TOP,
    MARGIN,
    PAGE_H,
    PAGE_W,
    QR_ROOM,
    QR_TOP,
    SENTENCE_Y,
)
from bcl_console.pdfgen.pades import SigningMaterial, cms_signature, pdf_date
from bcl_console.pdfgen.pdfwriter import PdfWriter, pdf_string
from bcl_console.pdfgen.truetype import Subset, face

# Re-exported for the paper-security tests and callers that place things on the sheet.
BACK_WORD = fur.BACK_WORD
FRONT_WORDS = fur.FRONT_WORDS
word_boxes = fur.word_boxes

#: The document information entries naming the certificate (covered by the signature).
INFO_CODE = "/BCLVerificationCode"
INFO_TYPE = "/BCLType"
INFO_MUNICIPALITY = "/BCLMunicipality"
INFO_FRONTS = "/BCLFrontPages"
#: The layout version (様式の版) the document was made with.
INFO_LAYOUT = "/BCLLayoutVersion"
LABEL_W = 46.0
SEAL_BOX = 42.0
BLANK_BELOW = "以下余白"
_K = 72 / 25.4  # points per mm


@dataclass(frozen=True)
class Sheet:
    """What one document prints beyond its content: the verification code, the 証明番号,
    and what each front's 2-D code holds (its signed content)."""

    code: str
    number: str
    codes: tuple[bytes, ...]


@dataclass
class _Canvas:
    """One page's content stream, drawn in page millimetres from the top left."""

    subset: Subset
    ops: list[str] = field(default_factory=list)

    def text(self, x: float, y: float, text: str, size: float, rgb: tuple[int, int, int] = (0, 0, 0)) -> None:
        r, g, b = rgb
        self.ops.append(f"BT /F1 {size:.2f} Tf {r / 255:.3f} {g / 255:.3f} {b / 255:.3f} rg "
                        f"{x * _K:.2f} {(PAGE_H - y) * _K:.2f} Td {self.subset.encode(text)} Tj ET")

    def line(self, x1: float, y1: float, x2: float, y2: float, gray: float = 0.35, width: float = 0.2) -> None:
        self.ops.append(f"{gray:.3f} G {width * _K:.2f} w {x1 * _K:.2f} {(PAGE_H - y1) * _K:.2f} m "
                        f"{x2 * _K:.2f} {(PAGE_H - y2) * _K:.2f} l S")

    def rect(self, x: float, y: float, w: float, h: float, *, fill: float | None = None, stroke: float | None = None,
             width: float = 0.2) -> None:
        box = f"{x * _K:.2f} {(PAGE_H - y - h) * _K:.2f} {w * _K:.2f} {h * _K:.2f} re"
        if fill is not None:
            self.ops.append(f"{fill:.3f} g {box} f")
        if stroke is not None:
            self.ops.append(f"{stroke:.3f} G {width * _K:.2f} w {box} S")

    def wrap(self, text: str, width: float, size: float) -> list[str]:
        """Split text into lines that fit ``width`` (character by character: Japanese has no spaces)."""
        lines, current, used = [], "", 0.0
        per = size / self.subset.face.units_per_em
        cmap, adv = self.subset.face.cmap, self.subset.face.advances
        limit = width * _K
        for ch in text:
            w = adv[cmap.get(ord(ch), 0)] * per
            if current and used + w > limit:
                lines.append(current)
                current, used = ch, w
            else:
                current += ch
                used += w
        lines.append(current)
        return lines

    def width(self, text: str, size: float) -> float:
        return self.subset.face.width(text, size) / _K

    def data(self) -> bytes:
        return "\n".join(self.ops).encode("latin-1")


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


@dataclass(frozen=True)
class _Picture:
    width: int
    height: int
    rgb: bytes  # deflated, 8 bits a component
    alpha: bytes | None  # deflated soft mask, or None


@lru_cache(maxsize=256)
def _picture(png: bytes) -> _Picture:
    """A PNG as image XObject data (decoded once per process and impression)."""
    with Image.open(io.BytesIO(png)) as image:
        image.load()
        alpha = None
        if image.mode in ("RGBA", "LA", "P") or "transparency" in image.info:
            rgba = image.convert("RGBA")
            alpha = zlib.compress(rgba.getchannel("A").tobytes(), 6)
            rgb = rgba.convert("RGB")
        else:
            rgb = image.convert("RGB")
        return _Picture(rgb.width, rgb.height, zlib.compress(rgb.tobytes(), 6), alpha)


def _front(c: _Canvas, content: CertificateContent, page: FrontPage, sheet: Sheet, index: int,
           image: str | None) -> None:
    c.ops.append("q /Fm0 Do Q")
    c.text(PAGE_W - MARGIN - c.width(sheet.number, 9), MARGIN + 1, sheet.number, 9)
    top = FIELDS_TOP
    value_x = MARGIN + LABEL_W + 3
    value_w = PAGE_W - MARGIN - value_x - 2
    min_bottom = top
    if page.image_png is not None and image is not None:
        x = PAGE_W - MARGIN - SEAL_BOX
        c.rect(x, top, SEAL_BOX, SEAL_BOX, stroke=0.0)
        w, h = impression_size(page.image_png, SEAL_BOX - 8)
        c.ops.append(f"q {w * _K:.2f} 0 0 {h * _K:.2f} {(x + (SEAL_BOX - w) / 2) * _K:.2f} "
                     f"{(PAGE_H - top - (SEAL_BOX + h) / 2) * _K:.2f} cm /{image} Do Q")
        c.text(x, top + SEAL_BOX + 5, page.image_label, 9)
        value_w -= SEAL_BOX + 4
        min_bottom = top + SEAL_BOX + 8
    y = top
    right = MARGIN + LABEL_W + 3 + value_w
    for label, value in page.fields:
        lines = c.wrap(value, value_w, 11)
        c.line(MARGIN, y, right, y)
        c.text(MARGIN + 1, y + 6, label, 10)
        for n, line in enumerate(lines):
            c.text(value_x, y + 6 + 6.5 * n, line, 11)
        y += 6.5 * len(lines) + 3
    c.line(MARGIN, y, right, y)
    c.line(MARGIN + LABEL_W, top, MARGIN + LABEL_W, y)
    y = max(y, min_bottom)
    c.text(right - c.width(BLANK_BELOW, 10), y + 6, BLANK_BELOW, 10)
    sentence = c.wrap(page.sentence, PAGE_W - 2 * MARGIN, 11)
    if y + 8 > FIELDS_END or len(sentence) > 2:
        raise ValueError(f"the fields of page {index} ({page.title}) do not fit the page")
    for n, line in enumerate(sentence):
        c.text(MARGIN, SENTENCE_Y + 6.5 * n, line, 11)
    c.text(MARGIN + 10, DATE_Y, content.issue_date_text, 11)
    c.text(MARGIN, CODE_Y, f"検証コード {sheet.code}", 10)
    label = f"{index} / {len(content.pages)}"
    c.text(PAGE_W - MARGIN - c.width(label, 9), PAGE_H - MARGIN - 3, label, 9)


def _back(c: _Canvas, sheet: Sheet, code_image: str, modules: int) -> None:
    """The back over its furniture: the 2-D code (an image mask of one sample a module,
    painted black at whole modules: as sharp as vector squares, 50x cheaper to write)."""
    c.ops.append("q /Fm1 Do Q")
    cell = min(1.0, QR_ROOM / (modules + 8))
    side = cell * modules
    x0 = (PAGE_W - side) / 2
    c.rect(x0 - 4 * cell, QR_TOP, cell * (modules + 8), cell * (modules + 8), fill=1.0)
    c.ops.append(f"q 0 g {side * _K:.3f} 0 0 {side * _K:.3f} {x0 * _K:.3f} "
                 f"{(PAGE_H - QR_TOP - 4 * cell - side) * _K:.3f} cm /{code_image} Do Q")
    c.text(MARGIN, CAPTION_Y + 6, f"検証コード {sheet.code}", 9)


def _code_mask(pdf: PdfWriter, data: bytes) -> tuple[int, int]:
    """The 2-D code of ``data`` (byte mode) as an image mask: (object number, modules a side)."""
    matrix = zxingcpp.create_barcode(data, zxingcpp.BarcodeFormat.QRCode, ec_level="M").to_image(
        scale=1, add_quiet_zones=False)
    size = int(matrix.shape[0])
    samples = bytes(memoryview(matrix))  # type: ignore[arg-type]  # zxingcpp.Image is a buffer
    packed = Image.frombytes("L", (size, size), samples).convert("1", dither=Image.Dither.NONE).tobytes()
    return pdf.stream(packed, f" /Type /XObject /Subtype /Image /Width {size} /Height {size} /ImageMask true "
                              f"/BitsPerComponent 1 /Interpolate false"), size


#: One render at a time per thread-less caller: the caches are safe to share, the lock
#: only keeps thread-mode rendering (the CLI, tests) from racing for the CPU in one
#: process to no gain.
_RENDER_LOCK = threading.Lock()


def render(content: CertificateContent, sheet: Sheet, material: SigningMaterial, created: datetime) -> bytes:
    """The whole document: each front followed by its back, signed over every byte."""
    if len(sheet.codes) != len(content.pages):
        raise ValueError("one 2-D code is needed for each front page")
    with _RENDER_LOCK:
        return _render(content, sheet, material, created)


def _render(content: CertificateContent, sheet: Sheet, material: SigningMaterial, created: datetime) -> bytes:
    first = content.pages[0]
    kept = fur.furniture(first.title, content.issuer, content.seal_text)
    pdf = PdfWriter(first=kept.count + 1)
    for number, body in enumerate(kept.objects, start=1):
        pdf.raw(number, body)
    subset = Subset(face())
    catalog, pages_id, font_id, info = pdf.reserve(), pdf.reserve(), pdf.reserve(), pdf.reserve()
    sig_field, sig_value = pdf.reserve(), pdf.reserve()
    page_ids: list[int] = []
    pictures: dict[bytes, int] = {}
    for index, page in enumerate(content.pages, start=1):
        if page.title != first.title:
            kept_page = fur.furniture(page.title, content.issuer, content.seal_text)
            if kept_page != kept:
                raise ValueError("every page of a document has the same title")
        images = ""
        name = None
        if page.image_png is not None:
            if page.image_png not in pictures:
                pictures[page.image_png] = _image_object(pdf, _picture(page.image_png))
            name = "Im1"
            images = f" /Im1 {pictures[page.image_png]} 0 R"
        front = _Canvas(subset)
        _front(front, content, page, sheet, index, name)
        back = _Canvas(subset)
        mask, modules = _code_mask(pdf, sheet.codes[index - 1])
        _back(back, sheet, "Qr1", modules)
        for side, canvas, xobjects in ((0, front, images), (1, back, f" /Qr1 {mask} 0 R")):
            stream = pdf.stream(canvas.data())
            annots = f" /Annots [{sig_field} 0 R]" if not page_ids else ""
            page_ids.append(pdf.add(
                f"<< /Type /Page /Parent {pages_id} 0 R /MediaBox [0 0 {PAGE_W * _K:.2f} {PAGE_H * _K:.2f}] "
                f"/Resources << /XObject << /Fm{side} {kept.front if side == 0 else kept.back} 0 R{xobjects} >> "
                f"/Font << /F1 {font_id} 0 R >> >> /Contents {stream} 0 R{annots} >>"))
    _font(pdf, font_id, subset)
    kids = " ".join(f"{p} 0 R" for p in page_ids)
    pdf.put(pages_id, f"<< /Type /Pages /Kids [{kids}] /Count {len(page_ids)} >>")
    when = pdf_date(created)
    pdf.put(sig_field, f"<< /Type /Annot /Subtype /Widget /FT /Sig /T {pdf_string('centre signature')} "
                       f"/V {sig_value} 0 R /F 132 /Rect [0 0 0 0] /P {page_ids[0]} 0 R >>")
    pdf.put(sig_value, pdf.signature_placeholder()
            + f" /M ({when}) /Name {pdf_string('bcl-console certificate centre')} >>".encode("latin-1"))
    pdf.put(catalog, f"<< /Type /Catalog /Pages {pages_id} 0 R "
                     f"/AcroForm << /Fields [{sig_field} 0 R] /SigFlags 3 >> >>")
    pdf.put(info, f"<< /Title {pdf_string(first.title)} /Creator (bcl-console) /Producer (bcl-console) "
                  f"/CreationDate ({when}) {INFO_CODE} {pdf_string(sheet.code)} {INFO_TYPE} {pdf_string(content.type.value)} "
                  f"{INFO_MUNICIPALITY} {pdf_string(content.municipality_code)} {INFO_FRONTS} {len(content.pages)} "
                  f"{INFO_LAYOUT} {content.layout_version} >>")
    file_id = hashlib.sha256(f"{sheet.code}|{when}".encode()).digest()[:16]
    return pdf.output(catalog, info, file_id, sign=lambda signed: cms_signature(material, signed))


def _image_object(pdf: PdfWriter, picture: _Picture) -> int:
    mask = ""
    if picture.alpha is not None:
        smask = pdf.stream(picture.alpha, f" /Type /XObject /Subtype /Image /Width {picture.width} "
                                          f"/Height {picture.height} /ColorSpace /DeviceGray /BitsPerComponent 8 "
                                          f"/Filter /FlateDecode", compress=False)
        mask = f" /SMask {smask} 0 R"
    return pdf.stream(picture.rgb, f" /Type /XObject /Subtype /Image /Width {picture.width} "
                                   f"/Height {picture.height} /ColorSpace /DeviceRGB /BitsPerComponent 8"
                                   f"{mask} /Filter /FlateDecode", compress=False)


def _font(pdf: PdfWriter, font_id: int, subset: Subset) -> None:
    """The document's own subset as a Type0 font over a CIDFontType2 (Identity)."""
    f = subset.face
    scale = 1000 / f.units_per_em
    name = f"{subset.tag()}+BCLMincho-Regular"
    program = subset.font_program()
    file_id = pdf.stream(program, f" /Length1 {len(program)}", level=1)
    descriptor = pdf.add(
        f"<< /Type /FontDescriptor /FontName /{name} /Flags 4 "
        f"/FontBBox [{' '.join(str(round(v * scale)) for v in f.bbox)}] /ItalicAngle 0 "
        f"/Ascent {round(f.ascent * scale)} /Descent {round(f.descent * scale)} "
        f"/CapHeight {round(f.cap_height * scale)} /StemV 80 /FontFile2 {file_id} 0 R >>")
    old = subset.old_ids()
    widths = " ".join(str(round(f.advances[g] * scale)) for g in old)
    cid_font = pdf.add(
        f"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /{name} "
        f"/CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> "
        f"/FontDescriptor {descriptor} 0 R /DW 1000 /W [0 [{widths}]] /CIDToGIDMap /Identity >>")
    to_unicode = pdf.stream(_to_unicode(list(subset.codes.items())))
    pdf.put(font_id, f"<< /Type /Font /Subtype /Type0 /BaseFont /{name} /Encoding /Identity-H "
                     f"/DescendantFonts [{cid_font} 0 R] /ToUnicode {to_unicode} 0 R >>")


def _to_unicode(codes: Sequence[tuple[str, int]]) -> bytes:
    lines = ["/CIDInit /ProcSet findresource begin 12 dict begin begincmap",
             "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
             "/CMapName /Adobe-Identity-UCS def /CMapType 2 def",
             "1 begincodespacerange <0000> <FFFF> endcodespacerange"]
    for start in range(0, len(codes), 100):
        chunk = codes[start:start + 100]
        lines.append(f"{len(chunk)} beginbfchar")
        lines.extend(f"<{cid:04X}> <{ch.encode('utf-16-be').hex().upper()}>" for ch, cid in chunk)
        lines.append("endbfchar")
    lines.append("endcmap CMapName currentdict /CMap defineresource pop end end")
    return "\n".join(lines).encode("latin-1")

