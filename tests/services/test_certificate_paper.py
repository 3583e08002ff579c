"""The paper of issued certificates (demo data, through the issuance service): the fields
close with 「以下余白」 (the room under them is no place to add lines), each document has
its 証明番号 (第 年-番号 号, one sequence per municipality and year), the certification
sentence is there; the seal impression stored for a seal is printed at 原寸."""

from __future__ import annotations

import io
import re

from PIL import Image
from pypdf import PdfReader

from bcl_console.services.platform.runtime import Runtime
from tests.conftest import query

NUMBERED = re.compile(r"第(\d{4})-(\d{6})号")


def fronts(pdf: bytes) -> list[str]:
    return ["".join((p.extract_text() or "").split()) for p in PdfReader(io.BytesIO(pdf)).pages[0::2]]


async def test_blank_filler_and_certificate_number_on_every_front(demo_runtime: Runtime) -> None:
    rt = demo_runtime
    db = rt.settings.db_path
    resident = query(db, "SELECT r.resident_code FROM residents r JOIN damage_assessments a ON "
                         "a.municipality_code = r.municipality_code AND a.household_number = r.household_number "
                         "JOIN seals s ON s.municipality_code = r.municipality_code AND s.resident_code = "
                         "r.resident_code AND s.status = 'active' JOIN taxes t ON t.municipality_code = "
                         "r.municipality_code AND t.resident_code = r.resident_code WHERE r.status = 'active' "
                         "AND r.restricted = 0 LIMIT 1")[0][0]
    numbers = []
    for kind, options in (("residence", {"scope": "household"}), ("seal", {}), ("tax", {}), ("disaster", {})):
        doc = await rt.issuance.issue(resident, kind, options)
        texts = fronts(doc.pdf)
        for text in texts:
            assert text.count("以下余白") == 1, kind
            # the filler closes the fields: the sentence and the date come after it
            assert text.index("以下余白") < text.index("相違ないことを証明する。"), kind
            assert "複写" not in text, kind  # the 地紋's word is drawn, never text
        printed = {NUMBERED.search(text).group(0) for text in texts}  # type: ignore[union-attr]
        assert len(printed) == 1, printed  # every page of a document carries its one number
        number = printed.pop()
        assert number == "".join((doc.record.certificate_number or "").split())
        numbers.append(int(NUMBERED.search(number).group(2)))  # type: ignore[union-attr]
    assert numbers == list(range(numbers[0], numbers[0] + 4))  # one sequence, never given twice


async def test_stored_impression_is_printed_at_actual_size(demo_runtime: Runtime) -> None:
    rt = demo_runtime
    code, png = query(rt.settings.db_path, "SELECT s.resident_code, i.png FROM seals s JOIN residents r USING "
                      "(municipality_code, resident_code) JOIN seal_impressions i ON i.sha256 = "
                      "s.impression_sha256 WHERE s.status = 'active' AND r.status = 'active' AND "
                      "r.restricted = 0 LIMIT 1")[0]
    with Image.open(io.BytesIO(png)) as image:
        px = image.size[0]
        dpi = float(image.info["dpi"][0])
    diameter = px / dpi * 25.4
    assert dpi >= 300 and 15 - 0.1 <= diameter <= 21 + 0.1
    doc = await rt.issuance.issue(code, "seal")
    stream = PdfReader(io.BytesIO(doc.pdf)).pages[0].get_contents().get_data().decode("latin-1")  # type: ignore[union-attr]
    (width, height), = re.findall(r"q ([\d.]+) 0 0 ([\d.]+) [\d.]+ [\d.]+ cm /Im\d+ Do Q", stream)
    assert abs(float(width) / 72 * 25.4 - diameter) < 0.05
    assert abs(float(height) / 72 * 25.4 - diameter) < 0.05
