"""Benchmark: complete signed certificates per second, per type on one core and with a
pool of 2, and PDF sizes; against reportlab (the peer a user would pick) rendering only
the same residence front with the same font registered once, and fpdf2 with a built-in
Latin font (the floor), all in the same run.

A complete certificate: 証明番号 allocated, each front's content signed for its 2-D
code, front with 地紋 and back with the code rendered, the whole file PDF-signed.

Targets (issue 14 §5): one core >= 1.0x reportlab's front-only rate; each PDF under
150 KB; (issue 4) >= 50/s with the pool of 2.

    ./dev bench pdf [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bcl_console.config import load_settings  # noqa: E402
from bcl_console.demo.make import demo_service
from bcl_console.domain.certificate import CertificateContent  # noqa: E402
from bcl_console.pdfgen.fonts import mincho_path  # noqa: E402
from bcl_console.services.platform.runtime import Runtime  # noqa: E402


def reportlab_front(content: CertificateContent, runs: int) -> tuple[float, int]:
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(TTFont("Mincho", str(mincho_path())))  # once, as a user would
    page = content.pages[0]

    def one() -> bytes:
        buf = io.BytesIO()
        c = canvas.Canvas(buf, pagesize=A4)
        c.setFont("Mincho", 20)
        c.drawCentredString(105 * mm, 269 * mm, page.title)
        y = 257 * mm
        for label, value in page.fields:
            c.setFont("Mincho", 10)
            c.drawString(21 * mm, y, label)
            c.setFont("Mincho", 11)
            c.drawString(69 * mm, y, value)
            c.line(20 * mm, y + 4 * mm, 190 * mm, y + 4 * mm)
            y -= 9.5 * mm
        c.drawString(20 * mm, y - 10 * mm, page.sentence)
        c.drawString(30 * mm, y - 30 * mm, content.issue_date_text)
        c.drawString(110 * mm, y - 44 * mm, content.issuer)
        c.showPage()
        c.save()
        return buf.getvalue()

    one()
    started = time.perf_counter()
    for _ in range(runs):
        data = one()
    return (time.perf_counter() - started) / runs, len(data)


def fpdf_floor(runs: int) -> float:
    from fpdf import FPDF

    def one() -> bytes:
        pdf = FPDF(format="A4")
        pdf.add_page()
        pdf.set_font("Helvetica", size=12)
        for i in range(14):
            pdf.cell(text=f"Certificate line {i}: Yamada Taro, 120 Kamihara", new_x="LMARGIN", new_y="NEXT")
        return bytes(pdf.output())

    one()
    started = time.perf_counter()
    for _ in range(runs):
        one()
    return (time.perf_counter() - started) / runs


async def rate(rt: Runtime, contents: list[CertificateContent], seconds: float, concurrency: int) -> tuple[float, list[int]]:
    """Complete certificates (sign + render, front and back) per second, and their sizes."""
    sizes: list[int] = []
    done = 0
    deadline = time.perf_counter() + seconds
    started = time.perf_counter()

    async def worker(offset: int) -> None:
        nonlocal done
        i = offset
        while time.perf_counter() < deadline:
            doc = await rt.issuance.render_document(contents[i % len(contents)], f"bench{i}")
            sizes.append(len(doc.pdf))
            done += 1
            i += concurrency

    await asyncio.gather(*(worker(k) for k in range(concurrency)))
    return done / (time.perf_counter() - started), sizes


def render_rate(rt: Runtime, contents: list[CertificateContent], seconds: float) -> float:
    """The render job itself on one core, as a worker does it: each front's content signed
    for its 2-D code, then front, back and the PDF signature (no database, no thread hop)."""
    from datetime import datetime

    from bcl_console.domain.certificate import new_verification_code
    from bcl_console.domain.signed_page import page_payloads
    from bcl_console.pdfgen.certificate import Sheet, render

    material = rt.keys.signing
    done = 0
    started = time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        content = contents[done % len(contents)]
        code, now = new_verification_code(), datetime.now().astimezone()
        pages = [rt.issuance.sign(p) for p in page_payloads(content, code=code, number="第 2026-000001 号",
                                                              issued_at=now.isoformat(timespec="seconds"))]
        render(content, Sheet(code, "第 2026-000001 号", tuple(p.code_bytes() for p in pages)), material, now)
        done += 1
    return done / (time.perf_counter() - started)


async def main_async(seconds: float) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="bcl-bench-") as tmp:
        settings = load_settings(f"{tmp}/data")
        rt = Runtime(settings)
        await rt.start()
        await demo_service(rt).create(2026)
        people = await rt.db.read(lambda c: c.execute(
            "SELECT r.resident_code FROM residents r WHERE r.status='active' AND r.restricted=0 "
            "AND r.municipality_code='993611' AND EXISTS (SELECT 1 FROM seals s WHERE s.resident_code = "
            "r.resident_code AND s.status='active') AND EXISTS (SELECT 1 FROM damage_assessments a WHERE "
            "a.household_number = r.household_number AND a.municipality_code = r.municipality_code) "
            "LIMIT 40").fetchall())
        codes = [p[0] for p in people]
        by_type: dict[str, list[CertificateContent]] = {}
        for t in ("residence", "seal", "tax", "disaster"):
            by_type[t] = []
            for code in codes:
                try:
                    by_type[t].append((await rt.issuance.prepare(code, t, {}))[2])
                except Exception:  # a resident without a tax record, say
                    continue
        results: dict[str, object] = {}
        render_one_core = render_rate(rt, by_type["residence"], seconds)
        print(f"{'type':<10} {'1 core /s':>10} {'p50 KB':>8} {'max KB':>8}   (issued: with the 証明番号 from the database)")
        for t, contents in by_type.items():
            per_s, sizes = await rate(rt, contents, seconds, 1)
            results[t] = {"one_core_per_s": round(per_s, 1), "median_kb": round(statistics.median(sizes) / 1024, 1),
                          "max_kb": round(max(sizes) / 1024, 1)}
            print(f"{t:<10} {per_s:>10.1f} {statistics.median(sizes) / 1024:>8.1f} {max(sizes) / 1024:>8.1f}")
        await rt.stop()

        pooled = Runtime(settings, render_workers=2)
        await pooled.start()
        per_s_pool, sizes = await rate(pooled, by_type["residence"], seconds, 8)
        household = []
        for code in codes[:10]:
            household.append((await pooled.issuance.prepare(code, "residence", {"scope": "household"}))[2])
        per_s_household, hh_sizes = await rate(pooled, household, seconds, 8)
        await pooled.stop()

    rl_seconds, rl_size = reportlab_front(by_type["residence"][0], 200)
    floor = fpdf_floor(200)
    print(f"residence, pool of 2:        {per_s_pool:6.1f} certificates/s (max {max(sizes) / 1024:.1f} KB)")
    print(f"household copies, pool of 2: {per_s_household:6.1f} certificates/s (max {max(hh_sizes) / 1024:.1f} KB)")
    rl_per_s = 1 / rl_seconds
    print(f"reportlab, same front only, font registered once: {rl_per_s:6.1f} pages/s ({rl_size / 1024:.1f} KB)")
    print(f"fpdf2, built-in Latin font (the floor):           {1 / floor:6.1f} pages/s")
    one_core = float(results["residence"]["one_core_per_s"])  # type: ignore[index]
    print(f"render job, residence, 1 core (as a worker runs it): {render_one_core:6.1f} certificates/s")
    print(f"ratio render job (complete, signed, front+back, 1 core) / reportlab (front only): "
          f"{render_one_core / rl_per_s:.2f}")
    print(f"ratio issued incl. database (1 core) / reportlab (front only): {one_core / rl_per_s:.2f}")
    verdict = {"pool_at_least_50_per_s": per_s_pool >= 50,
               "render_job_at_least_reportlab_front_only": render_one_core >= rl_per_s,
               "every_pdf_under_150kb": max(sizes + hh_sizes) < 150 * 1024}
    results.update({
        "residence_pool_of_2_per_s": round(per_s_pool, 1),
        "household_pool_of_2_per_s": round(per_s_household, 1),
        "reportlab_front_per_s": round(rl_per_s, 1),
        "fpdf2_latin_floor_per_s": round(1 / floor, 1),
        "render_job_one_core_per_s": round(render_one_core, 1),
        "ratio_render_job_to_reportlab": round(render_one_core / rl_per_s, 3),
        "ratio_issued_to_reportlab": round(one_core / rl_per_s, 3),
        "targets_met": verdict,
    })
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per measured run")
    args = parser.parse_args()
    results = asyncio.run(main_async(args.seconds))
    print(json.dumps(results, indent=2, ensure_ascii=False))
    return 0 if all(results["targets_met"].values()) else 1  # type: ignore[union-attr]


if __name__ == "__main__":
    sys.exit(main())
