"""Verification by anyone over real HTTP (contract §12): ``GET /verify/v1/{code}`` and the
``GET /verify`` page, on a loopback port, against certificates issued in a demo runtime."""

from __future__ import annotations

import html
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bcl_console.http.app import start_http
from bcl_console.http.verify import VERIFY_LIMIT_KEY
from bcl_console.services.issuance.service import IssuedDocument
from bcl_console.services.platform.runtime import Runtime
from bcl_console.store.limits import TokenBuckets
from tests.conftest import execute, query


@pytest.fixture
async def centre(demo_runtime: Runtime) -> AsyncIterator[tuple[Runtime, str]]:
    server = await start_http(demo_runtime, "127.0.0.1", 0)
    yield demo_runtime, server.url


async def issue(rt: Runtime, kind: str = "residence") -> IssuedDocument:
    code = query(rt.settings.db_path, "SELECT resident_code FROM residents WHERE municipality_code='993611' "
                                      "AND status='active' AND restricted=0 LIMIT 1")[0][0]
    return await rt.issuance.issue(code, kind, {"scope": "household"} if kind == "residence" else None)


def printed_fields(doc: IssuedDocument) -> list[dict[str, str]]:
    """The fields of each front as signed into the record (and into the back's 2-D code)."""
    assert doc.record.signed_pages
    return [dict((label, value) for label, value in json.loads(raw)["fields"]) for raw in doc.record.signed_pages]


def unlimited(rt: Runtime) -> None:
    assert rt.http is not None  # the tests below are one address: lift its limit
    rt.http.runner.app[VERIFY_LIMIT_KEY].burst = 10_000


async def get(url: str, **kw: Any) -> tuple[int, Any, Any]:
    async with aiohttp.ClientSession(**kw) as http, http.get(url) as r:
        body = await r.json() if r.content_type == "application/json" else await r.text()
        return r.status, body, r.headers


async def test_genuine_voided_and_unknown(centre: tuple[Runtime, str]) -> None:
    rt, url = centre
    doc = await issue(rt)
    code = doc.record.verification_code
    fields = printed_fields(doc)
    assert len(fields) >= 2 and all(fields)  # a household copy: one front per member

    status, body, headers = await get(f"{url}/verify/v1/{code}")
    assert status == 200, body
    assert body["status"] == "genuine" and body["code"] == code
    assert body["type"] == "residence" and body["municipality"] == "993611" and body["municipality_name"]
    assert body["issued_at"].endswith("+09:00")
    assert [p["fields"] for p in body["pages"]] == fields
    assert {p["title"] for p in body["pages"]} == {"住民票の写し"}
    assert body["number"] == doc.record.certificate_number and body["number"].startswith("第 ")
    assert headers["Cache-Control"] == "no-store"
    # typed as a person would: lower case, with spaces instead of hyphens
    status, again, _ = await get(f"{url}/verify/v1/{code.lower().replace('-', '%20')}")
    assert status == 200 and again["pages"] == body["pages"]

    # a well-formed code that was never issued: 404, and nothing about any record
    status, unknown, _ = await get(f"{url}/verify/v1/0000-0000-0000-0000")
    assert status == 404 and unknown["status"] == "unknown" and unknown["pages"] == []
    assert unknown["type"] is None and unknown["municipality"] is None and unknown["issued_at"] is None
    assert unknown["error"]["code"] == "unknown_code"

    # a record that exists but was not issued answers exactly as an unknown code does
    other = await issue(rt)
    await execute(rt, "UPDATE issuances SET state='awaiting_payment' WHERE request_id = ?",
                  other.record.request_id)
    status, unpaid, _ = await get(f"{url}/verify/v1/{other.record.verification_code}")
    assert status == 404 and {**unpaid, "code": None} == {**unknown, "code": None}

    # voided: said so, with the fields, so the paper in hand can be matched to it
    await execute(rt, "UPDATE issuances SET state='voided', voided_at='2026-06-17T03:00:00+00:00' "
                      "WHERE request_id = ?", doc.record.request_id)
    status, voided, _ = await get(f"{url}/verify/v1/{code}")
    assert status == 200 and voided["status"] == "voided" and "12:00" in voided["reason"]
    assert [p["fields"] for p in voided["pages"]] == fields


@pytest.mark.parametrize("code", [
    "abc", "0000-0000-0000-000U", "0000-0000-0000-00000", "0" * 65, "%00" * 16, "%E3%81%82" * 16,
    "0000%0A0000-0000-0000", "%3Cscript%3E",
])
async def test_malformed_codes_are_400(centre: tuple[Runtime, str], code: str) -> None:
    _, url = centre
    status, body, _ = await get(f"{url}/verify/v1/{code}")
    if "%00" in code:  # a NUL in any path is refused before a route looks
        assert status == 400 and body["error"]["code"] == "bad_path", body
        return
    assert status == 400 and body["error"]["code"] == "bad_code", body
    assert "code" in body["error"]["message"]


async def test_the_eleventh_lookup_from_one_address_is_429(centre: tuple[Runtime, str]) -> None:
    rt, url = centre
    code = (await issue(rt)).record.verification_code
    statuses = [(await get(f"{url}/verify/v1/{code}"))[0] for _ in range(10)]
    assert statuses == [200] * 10
    status, body, headers = await get(f"{url}/verify/v1/{code}")
    assert status == 429 and body["error"]["code"] == "rate_limited"
    assert 1 <= int(headers["Retry-After"]) <= 6  # one lookup comes back every 6 s
    # junk and the page count against the same budget (a guesser gains nothing by switching)
    assert (await get(f"{url}/verify/v1/nonsense"))[0] == 429
    status, page, headers = await get(f"{url}/verify?code={code}")
    assert status == 429 and "Retry-After" in headers and "しばらく待って" in page
    # the empty form is not a lookup
    assert (await get(f"{url}/verify"))[0] == 200
    # another address has its own budget
    status, body, _ = await get(f"{url}/verify/v1/{code}",
                                connector=aiohttp.TCPConnector(local_addr=("127.0.0.2", 0)))
    assert status == 200 and body["status"] == "genuine"


def test_the_limiter_refills_and_stays_bounded() -> None:
    now = [0.0]
    limiter = TokenBuckets(10 / 60, 10, max_clients=100, clock=lambda: now[0])
    assert [limiter.take("a") for _ in range(10)] == [0.0] * 10
    assert limiter.take("a") == pytest.approx(6.0)
    now[0] += 6.0
    assert limiter.take("a") == 0.0 and limiter.take("a") > 0
    for i in range(5000):  # a sweep of addresses never holds more than max_clients
        limiter.take(f"10.0.{i // 256}.{i % 256}")
        assert len(limiter) <= 100
    now[0] += 61.0  # a full bucket is the same as none: every idle one is dropped
    limiter.take("b")
    assert len(limiter) == 1


async def test_the_page_shows_the_fields_and_escapes_what_it_is_given(centre: tuple[Runtime, str]) -> None:
    rt, url = centre
    unlimited(rt)
    doc = await issue(rt)
    code = doc.record.verification_code
    status, page, headers = await get(f"{url}/verify?code={code.lower()}")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert headers["Content-Security-Policy"].startswith("default-src 'none'; style-src 'unsafe-inline'")
    assert headers["X-Content-Type-Options"] == "nosniff" and headers["Cache-Control"] == "no-store"
    assert "この証明書は有効です" in page and code in page and "住民票の写し" in page
    for fields in printed_fields(doc):
        for label, value in fields.items():
            assert f"<th>{html.escape(label)}</th><td>{html.escape(value)}</td>" in page
    assert "<script" not in page and "http://" not in page and "https://" not in page  # self-contained

    status, page, _ = await get(f"{url}/verify?code=%22%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E")
    assert status == 400 and "<script>" not in page and "&lt;script&gt;" in page
    assert "検証コードの形が正しくありません" in page

    status, page, _ = await get(f"{url}/verify?code=0000-0000-0000-0000")
    assert status == 404 and "該当する証明書はありません" in page and "<table>" not in page

    await execute(rt, "UPDATE issuances SET state='voided', voided_at='2026-06-17T03:00:00+00:00' "
                      "WHERE request_id = ?", doc.record.request_id)
    status, page, _ = await get(f"{url}/verify?code={code}")
    assert status == 200 and "この証明書は無効です" in page and "<table>" in page

    status, page, _ = await get(f"{url}/verify")
    assert status == 200 and 'name="code"' in page and "verdict" not in page.split("</style>")[1]


async def test_other_methods_and_hostile_requests_never_500(centre: tuple[Runtime, str]) -> None:
    rt, url = centre
    unlimited(rt)
    code = (await issue(rt)).record.verification_code
    async with aiohttp.ClientSession() as http:
        for method, path, expect in [("HEAD", "/verify", 200), ("HEAD", f"/verify/v1/{code}", 200),
                                     ("POST", "/verify", 405), ("PUT", f"/verify/v1/{code}", 405),
                                     ("DELETE", f"/verify/v1/{code}", 405), ("GET", "/verify/v1/", 404),
                                     ("GET", "/verify/v1/a/b", 404), ("GET", "/verify?code=" + "A" * 5000, 400),
                                     ("GET", "/verify?code=%FF%FE", 400)]:
            async with http.request(method, f"{url}{path}") as r:
                assert r.status == expect, (method, path, r.status, await r.text())
    log = (rt.settings.logs_dir / "bcl-console.log").read_text(encoding="utf-8")
    assert "/verify/v1/*" in log and code not in log and code.lower() not in log  # a code opens its fields
    assert "Traceback" not in log
