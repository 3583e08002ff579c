"""A municipality's settlement statement (精算書) as an A4 PDF in Japanese."""

from __future__ import annotations

from typing import Any

from fpdf import FPDF

from bcl_console.domain.municipality import CertificateType
from bcl_console.pdfgen.fontcache import FAMILY, install_mincho

_TYPES = tuple((t.value, t.short) for t in CertificateType)


def render_statement(doc: dict[str, Any], row: dict[str, Any]) -> bytes:
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(False)
    install_mincho(pdf)
    pdf.add_page()
    pdf.set_font(FAMILY, size=16)
    title = f"{doc['fiscal_year_ja']} 証明書交付手数料等精算書"
    pdf.text(20, 24, title)
    pdf.set_font(FAMILY, size=11)
    pdf.text(20, 34, f"{row['name']}（団体コード {row['code']}）　期間 {doc['period']['from']} ～ {doc['period']['to']}")
    state = "確定" if doc.get("closed") else "暫定（年度未締め）"
    pdf.text(20, 41, f"状態: {state}")
    y = 52
    pdf.set_font(FAMILY, size=9)
    headers = ["月", *[label for _, label in _TYPES], "計"]
    widths = [24, *([20] * len(_TYPES)), 24]
    x = 20
    for h, w in zip(headers, widths, strict=True):
        pdf.rect(x, y - 5, w, 7)
        pdf.text(x + 2, y, h)
        x += w
    for month, counts in row["by_month"].items():
        y += 7
        x = 20
        cells = [month, *(str(counts.get(t, 0)) for t, _ in _TYPES), str(sum(counts.values()))]
        for c, w in zip(cells, widths, strict=True):
            pdf.rect(x, y - 5, w, 7)
            pdf.text(x + 2, y, c)
            x += w
    y += 7
    x = 20
    for c, w in zip(["計", *(str(row["certificates"].get(t, 0)) for t, _ in _TYPES), str(row["billable"])], widths, strict=True):
        pdf.rect(x, y - 5, w, 7)
        pdf.text(x + 2, y, c)
        x += w
    y += 14
    pdf.set_font(FAMILY, size=11)
    lines = [
        ("課金対象件数", f"{row['billable']:,} 件"),
        (f"証明発行機能利用料（{doc['rates']['usage_fee']}円/件）", f"{row['usage_fee']:,} 円"),
        (f"委託手数料（{doc['rates']['commission']}円/件）", f"{row['commission']:,} 円"),
        ("交付手数料収入", f"{row['fees_collected']:,} 円"),
        ("団体収入（交付手数料 − 委託手数料）", f"{row['net_to_municipality']:,} 円"),
        ("運営負担金", f"{row['contribution']:,} 円"),
        ("前年度以前分の調整（件数）", f"{row['adjustments']['billable']:+,} 件"),
        ("前年度以前分の調整（利用料）", f"{row['adjustments']['usage_fee']:+,} 円"),
        ("J-LISへの支払額（利用料＋調整＋負担金）", f"{row['payable_to_jlis']:,} 円"),
    ]
    for label, value in lines:
        pdf.text(20, y, label)
        pdf.text(150, y, value)
        y += 7
    return bytes(pdf.output())
