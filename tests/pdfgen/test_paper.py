"""Paper security of a certificate, tested on the page as printed: rendered to PNG by
poppler (pdftoppm, 150 dpi), then read with Pillow.

The latent 「複写」 of both sides: on the original the word's box and the background
around it have the same mean tone; through a photocopier simulation (a Gaussian blur
of 0.35 mm, the optics, then a threshold at a fixed level, the toner) the background's
fine dots drop out and the word's coarse dots stay, so the word is darker than the
ground. The old back (the word as flat grey text, level 236) failed both.
"""

from __future__ import annotations

import io
import re
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from PIL import Image, ImageFilter, ImageStat
from pypdf import PdfReader

from bcl_console.domain.certificate import CertificateContent, FrontPage
from bcl_console.domain.municipality import CertificateType
from bcl_console.pdfgen.certificate import (
    BACK_WORD,
    FRONT_WORDS,
    Sheet,
    impression_size,
    render,
    word_boxes,
)
from bcl_console.pdfgen.pades import SigningMaterial
from bcl_console.services.issuance.seal_image import DPI, seal_mm, seal_png
from tests.conftest import require_pdftoppm

DPI_RENDER = 150
BLUR_MM = 0.35
THRESHOLD = 220  # a copier prints what is darker than this, and drops the rest
EVEN = 2.0  # the original: word and ground within 2 levels of 255



def content(with_seal: bool = False) -> CertificateContent:
    page = FrontPage(
        "印鑑登録証明書" if with_seal else "住民票の写し",
        (("氏名", "山田 太郎"), ("生年月日", "昭和50年4月1日"), ("性別", "男"), ("住所", "北山町上原120番地")),
        "この写しは、住民票の原本と相違ないことを証明する。",
        seal_png("山田") if with_seal else None, "登録印影" if with_seal else "")
    return CertificateContent(CertificateType.SEAL if with_seal else CertificateType.RESIDENCE, "993611", "北山町長 山本 健一", "北山町長之印",
                              date(2026, 6, 17), (page,))


def material() -> SigningMaterial:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from bcl_console.services.platform.keys import make_centre_certificates

    _, ca, key, cert = make_centre_certificates("test")
    der = serialization.Encoding.DER
    return SigningMaterial(key, x509.load_pem_x509_certificate(cert).public_bytes(der),
                           x509.load_pem_x509_certificate(ca).public_bytes(der))


def pdf_of(c: CertificateContent) -> bytes:
    sheet = Sheet("ABCD-EFGH-JKLM-NPQR", "第 2026-000001 号", (b"BCL2" + bytes(80),) * len(c.pages))
    return render(c, sheet, material(), datetime(2026, 6, 17, tzinfo=UTC))


def pages(pdf: bytes, tmp_path: Path) -> list[Image.Image]:
    require_pdftoppm()
    path = tmp_path / "c.pdf"
    path.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", str(DPI_RENDER), "-gray", "-png", str(path), str(tmp_path / "p")],
                   check=True, timeout=60)
    return [Image.open(p).convert("L") for p in sorted(tmp_path.glob("p-*.png"))]


def box_px(box: tuple[float, float, float, float]) -> tuple[int, int, int, int]:
    k = DPI_RENDER / 25.4
    left, top, right, bottom = box
    return round(left * k), round(top * k), round(right * k), round(bottom * k)


def mean(image: Image.Image, box: tuple[float, float, float, float]) -> float:
    return float(ImageStat.Stat(image.crop(box_px(box))).mean[0])


def photocopy(image: Image.Image) -> Image.Image:
    blurred = image.filter(ImageFilter.GaussianBlur(BLUR_MM * DPI_RENDER / 25.4))
    return blurred.point(lambda v: 0 if v < THRESHOLD else 255)


def latent_holds(page: Image.Image, word: tuple[float, float, float, float],
                 ground: tuple[float, float, float, float]) -> tuple[bool, bool, str]:
    """(even on the original, the word shown by a copy, the figures)"""
    w, g = mean(page, word), mean(page, ground)
    copy = photocopy(page)
    cw, cg = mean(copy, word), mean(copy, ground)
    return abs(w - g) < EVEN, cg >= 254 and cw <= cg - 8, f"original {w:.1f}/{g:.1f}, copy {cw:.1f}/{cg:.1f}"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> list[Image.Image]:
    return pages(pdf_of(content()), tmp_path_factory.mktemp("paper"))


def test_back_latent_word_is_even_on_the_original_and_shown_by_a_copy(rendered: list[Image.Image]) -> None:
    back = rendered[1]
    (left, top, right, bottom), = word_boxes(BACK_WORD)
    ground = (left, 22.0, right, top - 4)  # the sheet above the word: nothing but 地紋
    even, shown, figures = latent_holds(back, (left, top, right, bottom), ground)
    assert even, figures
    assert shown, figures


def test_front_has_the_latent_word_too_behind_light_legible_text(rendered: list[Image.Image]) -> None:
    front = rendered[0]
    # a word in the lower half (empty room), and the ground between it and the next row
    left, top, right, bottom = word_boxes(FRONT_WORDS[4:5])[0]
    ground = (left, bottom + 3, right, bottom + 17)
    even, shown, figures = latent_holds(front, (left, top, right, bottom), ground)
    assert even, figures
    assert shown, figures
    # light: the ground is a pale tint, so black text on it reads as on plain paper
    assert mean(front, ground) >= 235
    # behind the text: the title's strokes are still solid black
    assert front.crop(box_px((60.0, 20.0, 150.0, 32.0))).getextrema()[0] <= 20


def test_old_flat_grey_word_fails_both_checks(tmp_path: Path) -> None:
    """The measure itself: the old design (the word as flat level-236 text) is uneven on
    the original and lost in a copy, so these checks could not pass it."""
    from fpdf import FPDF

    from bcl_console.pdfgen.fontcache import FAMILY, install_mincho

    pdf = FPDF(format="A4")
    install_mincho(pdf)
    pdf.add_page()
    pdf.set_font(FAMILY, size=150)
    pdf.set_text_color(236, 236, 240)
    pdf.text(22, 150, "複写")
    page = pages(bytes(pdf.output()), tmp_path)[0]
    even, shown, figures = latent_holds(page, (22.0, 100.0, 128.0, 150.0), (22.0, 40.0, 128.0, 90.0))
    assert not even, figures
    assert not shown, figures


def test_the_patterns_add_no_text_to_the_front() -> None:
    """The 地紋 and its word are paths, not text: the signed front text is unchanged."""
    text = PdfReader(io.BytesIO(pdf_of(content()))).pages[0].extract_text()
    assert "複写" not in text
    assert "住民票の写し" in text


def test_seal_impression_is_printed_at_actual_size_from_300_dpi() -> None:
    png = seal_png("山田")
    with Image.open(io.BytesIO(png)) as image:
        px = image.size[0]
        dpi = image.info["dpi"][0]
    diameter = seal_mm("山田")
    assert 15 <= diameter <= 21 and round(dpi) == DPI >= 300
    assert abs(px / dpi * 25.4 - diameter) < 0.1
    reader = PdfReader(io.BytesIO(pdf_of(content(with_seal=True))))
    stream = reader.pages[0].get_contents().get_data().decode("latin-1")  # type: ignore[union-attr]
    placed = re.findall(r"q ([\d.]+) 0 0 ([\d.]+) ([\d.]+) ([\d.]+) cm /Im\d+ Do Q", stream)
    assert len(placed) == 1
    w_mm, h_mm = (float(v) / 72 * 25.4 for v in placed[0][:2])
    assert abs(w_mm - diameter) < 0.05 and abs(h_mm - diameter) < 0.05  # 原寸
    assert px / (w_mm / 25.4) >= 300  # printed at 300 dpi or more
    # centred in its 42 mm box, whose left edge is 42 mm from the right margin
    x_mm = float(placed[0][2]) / 72 * 25.4
    assert abs(x_mm - (210 - 20 - 42 + (42 - diameter) / 2)) < 0.05


def test_an_impression_without_resolution_fits_its_box() -> None:
    out = io.BytesIO()
    Image.new("RGBA", (160, 160)).save(out, format="PNG")
    assert impression_size(out.getvalue(), 34.0) == (34.0, 34.0)
    out = io.BytesIO()
    Image.new("RGBA", (160, 160)).save(out, format="PNG", dpi=(72, 72))  # 56 mm: no seal is that large
    assert impression_size(out.getvalue(), 34.0) == (34.0, 34.0)
    out = io.BytesIO()
    Image.new("RGBA", (300, 300)).save(out, format="PNG", dpi=(600, 600))
    w, h = impression_size(out.getvalue(), 34.0)
    assert abs(w - 12.7) < 0.01 and abs(h - 12.7) < 0.01
