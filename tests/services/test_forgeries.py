"""Forgeries made the way a forger would, with pikepdf, pypdf or pyHanko, on documents
the centre really issued: each must fail verification with a reason that says what
happened, at the centre and, above all, with only the published key (where no record's
hash can catch it: only the PDF signature stands between the forger and a bank).

Each change is written twice: as a forger's tool saves it by default (the file rewritten,
so the signed bytes move), and as an incremental update (the signed bytes kept intact and
the change appended after them, the way a PDF editor "keeps the signature").
"""

from __future__ import annotations

import io
import json
import re
import zlib
from collections.abc import Callable
from pathlib import Path

import pikepdf
import pytest
from PIL import Image, ImageDraw, ImageFont
from pypdf import PdfWriter
from pypdf.generic import ArrayObject, DecodedStreamObject, NameObject

from bcl_console.pdfgen.fonts import mincho_path
from bcl_console.services.issuance.seal_image import seal_png
from bcl_console.services.issuance.verification import TrustAnchor, Verdict, VerificationService
from bcl_console.services.platform.keys import make_centre_certificates
from bcl_console.services.platform.runtime import Runtime
from tests.conftest import query

CHANGED = "changed after it was signed"
APPENDED = "does not cover the whole file"

_TEXT_OP = re.compile(rb"BT /F1 (?P<size>[\d.]+) Tf [\d. ]+ rg (?P<x>[\d.]+) (?P<y>[\d.]+) Td <(?P<glyphs>[0-9A-F]*)> Tj ET")


# --- issuing real documents ---------------------------------------------------------

async def issued(rt: Runtime, kind: str) -> tuple[bytes, list[list[str]]]:
    """A document the centre issued, and its first front's fields as signed."""
    sql = {
        "disaster": "SELECT r.resident_code FROM residents r JOIN damage_assessments a ON a.municipality_code = "
                    "r.municipality_code AND a.household_number = r.household_number "
                    "WHERE r.status='active' AND r.restricted=0 AND a.damage_class != '大規模半壊' LIMIT 1",
        "seal": "SELECT r.resident_code FROM residents r JOIN seals s USING (municipality_code, resident_code) "
                "WHERE r.status='active' AND r.restricted=0 AND s.status='active' LIMIT 1",
        "tax": "SELECT t.resident_code FROM taxes t JOIN residents r USING (municipality_code, resident_code) "
               "WHERE r.status='active' AND r.restricted=0 AND t.municipal_tax > 0 AND t.fiscal_year = 2025 LIMIT 1",
        "residence": "SELECT resident_code FROM residents WHERE status='active' AND restricted=0 "
                     "AND previous_address != '' AND previous_address != address LIMIT 1",
    }[kind]
    code = query(rt.settings.db_path, sql)[0][0]
    options = {"fiscal_year": 2025} if kind == "tax" else {}
    doc = await rt.issuance.issue(code, kind, options)
    assert doc.record.signed_pages
    return doc.pdf, json.loads(doc.record.signed_pages[0])["fields"]


def offline(rt: Runtime) -> VerificationService:
    """What a bank has: the published key, no store."""
    return VerificationService(None, TrustAnchor.from_pem(rt.keys.public_pem(), "keys public"))


async def verdicts(rt: Runtime, data: bytes) -> tuple[Verdict, Verdict]:
    return await rt.verification.verify_bytes(data), await offline(rt).verify_bytes(data)


async def assert_forged(rt: Runtime, data: bytes, reason: str, status: str = "altered") -> None:
    centre, anywhere = await verdicts(rt, data)
    assert anywhere.status == status, anywhere
    assert reason in anywhere.reason, anywhere.reason
    assert centre.status == status, centre
    assert anywhere.details["revocation_checked"] is False


# --- a forger's tools ---------------------------------------------------------------

def rewritten(original: bytes, forge: Callable[[pikepdf.Pdf], None]) -> bytes:
    """The change saved the way pikepdf saves: a whole new file."""
    with pikepdf.open(io.BytesIO(original)) as pdf:
        forge(pdf)
        out = io.BytesIO()
        pdf.save(out)
        return out.getvalue()


def appended(original: bytes, forge: Callable[[pikepdf.Pdf], None]) -> bytes:
    """The same change as an incremental update written by hand: the signed bytes stay
    exactly as they were and every object the change touched is appended after them,
    with a cross-reference section and trailer pointing back (/Prev) at the signed one."""
    with pikepdf.open(io.BytesIO(original)) as before, pikepdf.open(io.BytesIO(original)) as pdf:
        forge(pdf)
        old = {(o.objgen): _serialised(o) for o in before.objects if o.objgen != (0, 0)}
        changed = {o.objgen[0]: _serialised(o) for o in pdf.objects
                   if o.objgen != (0, 0) and old.get(o.objgen) != _serialised(o)}
        root, info = pdf.trailer.Root.objgen[0], pdf.trailer.Info.objgen[0]
        size = max(len(pdf.objects), max(changed, default=0)) + 1
    assert changed, "the forgery changed nothing"
    return incremental(original, changed, root=root, info=info, size=size)


def incremental(original: bytes, objects: dict[int, bytes], *, root: int, info: int, size: int) -> bytes:
    prev = int(re.findall(rb"startxref\s+(\d+)", original)[-1])
    ident = re.findall(rb"/ID \[(<[0-9A-F]+> <[0-9A-F]+>)\]", original)[-1].decode()
    out = bytearray(original)
    offsets = {}
    for number in sorted(objects):
        offsets[number] = len(out)
        out += f"{number} 0 obj\n".encode() + objects[number] + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n"
    for number in sorted(offsets):
        out += f"{number} 1\n{offsets[number]:010d} 00000 n \n".encode()
    out += (f"trailer\n<< /Size {size} /Root {root} 0 R /Info {info} 0 R /Prev {prev} /ID [{ident}] >>\n"
            f"startxref\n{xref}\n%%EOF\n").encode()
    return bytes(out)


def _serialised(obj: pikepdf.Object) -> bytes:
    if isinstance(obj, pikepdf.Stream):
        raw = obj.read_raw_bytes()
        entries = pikepdf.Dictionary({k: v for k, v in obj.stream_dict.items() if k != "/Length"})
        entries.Length = len(raw)
        return bytes(entries.unparse()) + b"\nstream\n" + raw + b"\nendstream"
    return bytes(obj.unparse(resolved=True))


def both(original: bytes, forge: Callable[[pikepdf.Pdf], None]) -> list[tuple[bytes, str]]:
    """(forged file, the reason it must fail with) for both ways of saving the change."""
    return [(rewritten(original, forge), CHANGED), (appended(original, forge), APPENDED)]


def text_rows(stream: bytes, fields: list[list[str]]) -> dict[str, list[re.Match[bytes]]]:
    """The text operators of each field, by label: the label drawn at the left, then the
    lines of its value (the renderer draws the fields in their signed order)."""
    ops = [m for m in _TEXT_OP.finditer(stream)]
    labels = [m for m in ops if m["size"] == b"10.00" and m["x"] == b"59.53"]
    assert len(labels) >= len(fields)
    rows: dict[str, list[re.Match[bytes]]] = {}
    for (label, _), start, end in zip(fields, labels, [*labels[1:], None], strict=False):
        rows[label] = [m for m in ops if m["x"] == b"195.59" and m.start() > start.start()
                       and (end is None or m.start() < end.start())]
    return rows


def swap_rows(stream: bytes, fields: list[list[str]], a: str, b: str) -> bytes:
    """Move the value of field ``a`` into the row of ``b`` and back, by their coordinates only."""
    rows = text_rows(stream, fields)
    ya, yb = float(rows[a][0]["y"]), float(rows[b][0]["y"])
    edits = [(m, yb - ya) for m in rows[a]] + [(m, ya - yb) for m in rows[b]]
    out = stream
    for m, dy in sorted(edits, key=lambda e: -e[0].start()):
        moved = m.group(0).replace(b"%s %s Td" % (m["x"], m["y"]), b"%s %.2f Td" % (m["x"], float(m["y"]) + dy))
        out = out[:m.start()] + moved + out[m.end():]
    assert out != stream
    return out


def word_image(text: str) -> bytes:
    """A word as a forger would cut it out: black Mincho on white (RGB samples, 300 x 56)."""
    font = ImageFont.truetype(str(mincho_path()), 44)
    image = Image.new("RGB", (300, 56), "white")
    ImageDraw.Draw(image).text((4, 4), text, font=font, fill="black")
    return image.tobytes()


# --- the forgeries ------------------------------------------------------------------

async def test_the_untouched_document_is_genuine_at_the_centre_and_with_the_key_alone(demo_runtime: Runtime) -> None:
    rt = demo_runtime
    pdf, _ = await issued(rt, "disaster")
    centre, anywhere = await verdicts(rt, pdf)
    assert centre.status == "genuine" and "not voided" in centre.reason
    assert "revocation_checked" not in centre.details
    assert anywhere.status == "genuine" and anywhere.details["revocation_checked"] is False
    assert "revocation was not checked" in anywhere.reason
    assert anywhere.details["code"] == centre.details["code"] and anywhere.details["type"] == "disaster"
    # the bare public key (no certificates) is enough too
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    cert = x509.load_pem_x509_certificates(rt.keys.public_pem())[0]
    bare = cert.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert (await VerificationService(None, TrustAnchor.from_pem(bare, "k")).verify_bytes(pdf)).status == "genuine"


async def test_a_damage_class_overlaid_with_a_white_box_and_an_image_fails(demo_runtime: Runtime) -> None:
    rt = demo_runtime
    pdf, fields = await issued(rt, "disaster")
    labels = [label for label, _ in fields]
    damage = next(label for label in labels if "被害の程度" in label)

    def overlay(doc: pikepdf.Pdf) -> None:
        page = doc.pages[0]
        row = text_rows(page.Contents.read_bytes(), fields)[damage][0]
        x, y = float(row["x"]), float(row["y"])
        raw = word_image("大規模半壊")
        image = pikepdf.Stream(doc, zlib.compress(raw), Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Image,
                               Width=300, Height=56, ColorSpace=pikepdf.Name.DeviceRGB, BitsPerComponent=8,
                               Filter=pikepdf.Name.FlateDecode)
        page.Resources.XObject[pikepdf.Name("/Forged")] = doc.make_indirect(image)
        page.contents_add(pikepdf.Stream(doc, (
            f"q 1 g {x - 2:.2f} {y - 4:.2f} 320 18 re f Q "
            f"q 80 0 0 15 {x:.2f} {y - 2:.2f} cm /Forged Do Q").encode()), prepend=False)

    for forged, reason in both(pdf, overlay):
        with pikepdf.open(io.BytesIO(forged)) as check:  # the forgery is really there
            assert "/Forged" in check.pages[0].Resources.XObject
        await assert_forged(rt, forged, reason)
    # and with pypdf's own incremental writer
    writer = PdfWriter(io.BytesIO(pdf), incremental=True)
    box = DecodedStreamObject()
    box.set_data(b"q 1 g 190 500 200 20 re f Q")
    page = writer.pages[0]
    page[NameObject("/Contents")] = ArrayObject([page["/Contents"], writer._add_object(box)])
    out = io.BytesIO()
    writer.write(out)
    assert out.getvalue().startswith(pdf)
    await assert_forged(rt, out.getvalue(), APPENDED)


async def test_a_seal_impression_replaced_with_another_persons_fails(demo_runtime: Runtime) -> None:
    rt = demo_runtime
    pdf, _ = await issued(rt, "seal")
    other = Image.open(io.BytesIO(seal_png("偽造"))).convert("RGBA")

    def replace(doc: pikepdf.Pdf) -> None:
        image = doc.pages[0].Resources.XObject["/Im1"]
        w, h = int(image.Width), int(image.Height)
        picture = other.resize((w, h))
        image.write(zlib.compress(picture.convert("RGB").tobytes()), filter=pikepdf.Name.FlateDecode)
        if "/SMask" in image:
            image.SMask.write(zlib.compress(picture.getchannel("A").tobytes()), filter=pikepdf.Name.FlateDecode)

    for forged, reason in both(pdf, replace):
        await assert_forged(rt, forged, reason)


@pytest.mark.parametrize(("kind", "first", "second"), [
    ("residence", "住所", "従前の住所"),
    ("tax", None, None),  # two amounts of tax, found below
])
async def test_two_fields_swapped_by_their_coordinates_fail(demo_runtime: Runtime, kind: str,
                                                              first: str | None, second: str | None) -> None:
    rt = demo_runtime
    pdf, fields = await issued(rt, kind)
    if first is None or second is None:  # two amounts of yen that differ
        values = {label: value for label, value in fields}
        amounts = [label for label, value in fields if value.endswith("円") and value != "0円"]
        first = amounts[0]
        second = next(label for label in amounts if values[label] != values[first])
    a, b = first, second

    def swap(doc: pikepdf.Pdf) -> None:
        page = doc.pages[0]
        page.Contents.write(swap_rows(page.Contents.read_bytes(), fields, a, b))

    for forged, reason in both(pdf, swap):
        await assert_forged(rt, forged, reason)


async def test_a_page_added_or_removed_fails(demo_runtime: Runtime) -> None:
    rt = demo_runtime
    pdf, _ = await issued(rt, "residence")

    def add(doc: pikepdf.Pdf) -> None:
        doc.pages.append(doc.pages[0])

    def remove(doc: pikepdf.Pdf) -> None:
        del doc.pages[1]

    for forge in (add, remove):
        for forged, reason in both(pdf, forge):
            await assert_forged(rt, forged, reason)


async def test_an_update_appended_after_signing_fails(demo_runtime: Runtime) -> None:
    rt = demo_runtime
    pdf, _ = await issued(rt, "tax")
    # by hand: only the Info title changes
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        info = doc.trailer.Info
        number, root = info.objgen[0], doc.trailer.Root.objgen[0]
        body = bytes(info.unparse(resolved=True)).replace(b"/Title", b"/Title (Forged) /OldTitle", 1)
        size = len(doc.objects) + 1
    await assert_forged(rt, incremental(pdf, {number: body}, root=root, info=number, size=size), APPENDED)
    # with pypdf's incremental writer
    writer = PdfWriter(io.BytesIO(pdf), incremental=True)
    writer.add_metadata({"/Title": "所得・課税証明書（写）"})
    out = io.BytesIO()
    writer.write(out)
    assert out.getvalue().startswith(pdf)
    await assert_forged(rt, out.getvalue(), APPENDED)
    # bytes after the end, even a comment
    await assert_forged(rt, pdf + b"%forged\n", APPENDED)


async def test_a_signature_removed_by_an_update_is_not_unknown_but_altered(demo_runtime: Runtime) -> None:
    rt = demo_runtime
    pdf, _ = await issued(rt, "residence")
    writer = PdfWriter(io.BytesIO(pdf), incremental=True)
    del writer._root_object["/AcroForm"]
    out = io.BytesIO()
    writer.write(out)
    await assert_forged(rt, out.getvalue(), "removed its signature")
    # rewritten whole without its signature, still naming the certificate
    def strip(doc: pikepdf.Pdf) -> None:
        del doc.Root.AcroForm
        del doc.pages[0].Annots

    await assert_forged(rt, rewritten(pdf, strip), "carries no signature")


def _forger_signer(tmp_path: Path) -> object:
    from pyhanko.sign import signers

    ca_key, ca_cert, key, cert = make_centre_certificates("forger")
    for name, data in (("key.pem", key), ("cert.pem", cert), ("ca.pem", ca_cert)):
        (tmp_path / name).write_bytes(data)
    return signers.SimpleSigner.load(str(tmp_path / "key.pem"), str(tmp_path / "cert.pem"),
                                     ca_chain_files=(str(tmp_path / "ca.pem"),))


async def test_a_document_re_signed_with_another_key_fails(demo_runtime: Runtime, tmp_path: Path) -> None:
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers

    rt = demo_runtime
    pdf, fields = await issued(rt, "disaster")
    signer = _forger_signer(tmp_path)

    def strip_and_change(doc: pikepdf.Pdf) -> None:
        del doc.Root.AcroForm
        del doc.pages[0].Annots
        page = doc.pages[0]
        page.contents_add(pikepdf.Stream(doc, b"q 1 g 190 500 200 20 re f Q"), prepend=False)

    unsigned = rewritten(pdf, strip_and_change)
    out = io.BytesIO()
    await signers.async_sign_pdf(IncrementalPdfFileWriter(io.BytesIO(unsigned)),
                     signers.PdfSignatureMetadata(field_name="centre signature"),
                     signer=signer, output=out)  # type: ignore[arg-type]
    await assert_forged(rt, out.getvalue(), "not by this centre's key")
    # signed again on top of the centre's signature: two signatures
    out = io.BytesIO()
    await signers.async_sign_pdf(IncrementalPdfFileWriter(io.BytesIO(pdf)), signers.PdfSignatureMetadata(field_name="second"),
                     signer=signer, output=out)  # type: ignore[arg-type]
    await assert_forged(rt, out.getvalue(), "more than one signature")
