"""Verification by anyone (contract §12): a verification code in, the verdict and the
fields of each page as issued out, so a person holding the paper can compare them.

- ``GET /verify/v1/{code}`` → JSON ``{"status", "reason", "code", "type", "municipality",
  "municipality_name", "issued_at", "pages": [{"fields": {…}}…]}``. 200 for a genuine or
  a voided certificate; 404 (the same shape, ``pages`` empty, plus the usual ``error``)
  when no certificate was issued with the code; 400 ``bad_code`` for what is not a code.
- ``GET /verify`` is a self-contained HTML page (no script, font or stylesheet from
  anywhere) with one input; ``GET /verify?code=…`` renders the same verdict on the server.

No token is asked. The code's 80 random bits and a per-address limit (``SharedLimit``,
counted by the store across every worker: 10 lookups a minute, burst 10; 429 with
Retry-After) make guessing codes hopeless. An
unknown code and one that was never issued (an unpaid request) get the same answer, with
nothing about the record: no type, no municipality, no time, no field.
"""

from __future__ import annotations

import html
import ipaddress
import math
from datetime import datetime
from typing import Any

from aiohttp import web

from bcl_console.domain.certificate import normalise_code
from bcl_console.domain.errors import BadRequest, InvalidInput, NotFound
from bcl_console.domain.municipality import CertificateType
from bcl_console.http.common import RUNTIME_KEY, SharedLimit, client_address, json_error

#: Longest code text looked at (a code is 16 characters; typed with spaces or hyphens, ~20).
MAX_CODE_TEXT = 64
#: Lookups per minute and burst per client address (an IPv6 client: per /64 network).
LOOKUPS_PER_MINUTE = 10
BURST = 10

UNKNOWN_REASON = "no certificate with this code was issued by this centre"


VERIFY_LIMIT_KEY: web.AppKey[SharedLimit] = web.AppKey("verify-rate-limiter")


def client_key(request: web.Request) -> str:
    """Whom the limit counts: the client's address (the peer, or what a trusted proxy
    says it forwarded for: ``client_address``); an IPv6 client by its /64, which one host
    commonly holds."""
    remote = client_address(request)
    try:
        address = ipaddress.ip_address(remote)
    except ValueError:
        return remote
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


class RateLimited(Exception):
    def __init__(self, wait: float) -> None:
        super().__init__("rate limited")
        self.retry_after = max(1, math.ceil(wait))


def _code(text: str) -> str:
    if len(text) > MAX_CODE_TEXT:
        raise BadRequest(f"a verification code has 16 characters; this one has {len(text)}", code="bad_code")
    try:
        return normalise_code(text)
    except InvalidInput as exc:
        raise BadRequest(exc.message, code="bad_code") from None


async def lookup(request: web.Request, text: str) -> tuple[int, dict[str, Any]]:
    """The HTTP status and public answer for a code; RateLimited or BadRequest."""
    wait = await request.app[VERIFY_LIMIT_KEY].wait(request, client_key(request))
    if wait:
        raise RateLimited(wait)
    code = _code(text)
    runtime = request.app[RUNTIME_KEY]
    found = await runtime.verification.lookup(code)
    status = found.get("status")
    if status not in ("genuine", "voided"):
        return 404, {"status": "unknown", "reason": UNKNOWN_REASON, "code": code, "type": None,
                     "municipality": None, "municipality_name": None, "issued_at": None, "pages": []}
    municipality = found.get("municipality")
    try:
        name: str | None = (await runtime.municipalities.get(str(municipality))).municipality.name
    except NotFound:
        name = None
    return 200, {"status": status, "reason": found.get("reason"), "code": code, "type": found.get("type"),
                 "municipality": municipality, "municipality_name": name, "issued_at": found.get("issued_at"),
                 "number": found.get("number"),
                 "pages": [{"title": p.get("title"), "fields": dict(p.get("fields", {}))}
                           for p in found.get("pages", [])]}


# --------------------------------------------------------------------------- JSON
NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def _retry(response: web.Response, exc: RateLimited) -> web.Response:
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


async def api(request: web.Request) -> web.Response:
    try:
        status, doc = await lookup(request, request.match_info["code"])
    except RateLimited as exc:
        return _retry(json_error(429, "rate_limited", "too many verification lookups from this address; "
                                                      f"try again in {exc.retry_after} s"), exc)
    if status == 404:
        doc = {**doc, "error": {"code": "unknown_code", "message": UNKNOWN_REASON}}
    return web.json_response(doc, status=status, headers=NO_STORE)


# --------------------------------------------------------------------------- HTML
PAGE_HEADERS = {
    **NO_STORE,
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}

_CSS = """
*{box-sizing:border-box}
body{margin:0;font:16px/1.6 system-ui,"Hiragino Sans","Noto Sans CJK JP","Yu Gothic",sans-serif;
color:#1b1b1b;background:#f4f5f7}
main{max-width:42rem;margin:0 auto;padding:1rem}
h1{font-size:1.35rem;margin:.25rem 0 1rem}
small,.en{color:#5a5f66;font-size:.8rem;font-weight:normal}
form{background:#fff;border:1px solid #d5d8dc;border-radius:8px;padding:1rem;margin-bottom:1rem}
label{display:block;font-weight:bold;margin-bottom:.4rem}
.row{display:flex;gap:.5rem;flex-wrap:wrap}
input{flex:1 1 12rem;min-width:0;font:1.15rem ui-monospace,Menlo,Consolas,monospace;letter-spacing:.05em;
padding:.55rem .6rem;border:1px solid #8a9099;border-radius:6px;text-transform:uppercase}
button{font:inherit;font-weight:bold;padding:.55rem 1.1rem;border:0;border-radius:6px;background:#1f4e8c;
color:#fff;white-space:nowrap}
button small{color:#dce6f5}
.verdict{border-radius:8px;padding:1rem;margin-bottom:1rem;border:2px solid}
.verdict .big{font-size:1.4rem;font-weight:bold;margin:0}
.verdict p{margin:.2rem 0}
.genuine{background:#e7f5ea;border-color:#1e7b34;color:#124d20}
.voided{background:#fdeaea;border-color:#b3261e;color:#7a1610}
.unknown,.error{background:#fff6e0;border-color:#a86b00;color:#5c3b00}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.15rem .8rem;margin:.6rem 0 0}
dt{font-weight:bold}dt small{display:block;line-height:1.2}
dd{margin:0;overflow-wrap:anywhere;align-self:center}
.code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:1.05em;white-space:nowrap}
.error .big{font-size:1.1rem}
.page{background:#fff;border:1px solid #d5d8dc;border-radius:8px;padding:.75rem 1rem;margin-bottom:1rem}
h2{font-size:1.05rem;margin:0 0 .5rem}
table{width:100%;border-collapse:collapse}
th,td{text-align:left;vertical-align:top;padding:.4rem .3rem;border-top:1px solid #e3e5e8;
overflow-wrap:anywhere}
th{width:34%;font-weight:bold;color:#333}
footer{color:#5a5f66;font-size:.85rem;margin-top:1.5rem}
"""

_VERDICTS = {
    "genuine": ("✓ この証明書は有効です",
                "Genuine: this centre issued a certificate with this code and has not voided it."),
    "voided": ("✕ この証明書は無効です（取り消されています）",
               "Voided: this certificate was cancelled. Do not accept it."),
    "unknown": ("？ 該当する証明書はありません",
                "Unknown: no certificate with this code was issued by this centre. "
                "Check the code; a paper that carries it is not genuine."),
}
_COMPARE = ("下の内容が紙の証明書のおもて面と一字一句同じか確かめてください。",
            "Compare every field below with the front of the paper: they must be the same.")
_WHERE = ("検証コードは証明書のおもて面に印字されています。"
          "ハイフンや空白はあってもなくても構いません。",
          "The code is printed on the front of the certificate; hyphens and spaces are optional.")
_TOO_MANY = "確認の回数が多すぎます。しばらく待ってからもう一度お試しください。"
_MALFORMED = "検証コードの形が正しくありません（16文字の英数字です）。"
_TYPES = {t.value: t.label for t in CertificateType}


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _both(ja: str, en: str) -> str:
    return f"{_e(ja)} <small>{_e(en)}</small>"


def _when(iso: object) -> str:
    """An issue time (Japan time, ISO) as a Japanese reader writes it."""
    try:
        at = datetime.fromisoformat(str(iso))
    except ValueError:
        return ""
    return f"{at.year}年{at.month}月{at.day}日 {at.hour}時{at.minute:02d}分"


def _result(status: int, doc: dict[str, Any]) -> str:
    verdict = doc["status"]
    ja, en = _VERDICTS[verdict]
    parts = [f'<section class="verdict {verdict}" role="status"><p class="big">{_e(ja)}</p>'
             f'<p class="en">{_e(en)}</p>']
    if verdict == "voided":
        parts.append(f'<p class="en">{_e(doc.get("reason"))}</p>')
    rows = [("検証コード", "Code", doc.get("code"))]
    if status == 200:
        kind = doc.get("type")
        town = doc.get("municipality")
        rows += [("証明書", "Certificate", f"{_TYPES.get(str(kind), kind)}"),
                 ("発行団体", "Issued by", f"{doc.get('municipality_name') or ''} ({town})".strip()),
                 ("発行日時", "Issued at (JST)", _when(doc.get("issued_at")))]
        if doc.get("number"):
            rows.append(("証明番号", "Certificate number", doc.get("number")))
    listed = "".join(f'<dt>{_both(ja_, en_)}</dt><dd{" class=code" if en_ == "Code" else ""}>{_e(value)}</dd>'
                     for ja_, en_, value in rows)
    parts.append(f"<dl>{listed}</dl></section>")
    pages = doc.get("pages") or []
    if pages:
        parts.append(f"<p>{_both(*_COMPARE)}</p>")
    for number, page in enumerate(pages, start=1):
        fields = page.get("fields") or {}
        body = "".join(f"<tr><th>{_e(label)}</th><td>{_e(value)}</td></tr>" for label, value in fields.items())
        title = f"{page.get('title')}　" if page.get("title") else ""
        heading = _both(f"{title}おもて面 {number} / {len(pages)}", f"Front page {number} of {len(pages)}")
        parts.append(f'<section class="page"><h2>{heading}</h2><table>{body}</table></section>')
    return "".join(parts)


def _message(css: str, ja: str, en: str) -> str:
    return (f'<section class="verdict {css}" role="alert"><p class="big">{_e(ja)}</p>'
            f'<p class="en">{_e(en)}</p></section>')


def render_page(code_text: str, result: str) -> str:
    return (
        '<!doctype html><html lang="ja"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>証明書の検証 Certificate verification</title><style>{_CSS}</style></head><body><main>"
        f"<h1>{_both('証明書の検証', 'Certificate verification')}</h1>"
        '<form method="get" action="/verify">'
        f'<label for="code">{_both("検証コード（16文字）", "Verification code (16 characters)")}</label>'
        f'<div class="row"><input id="code" name="code" value="{_e(code_text)}" maxlength="{MAX_CODE_TEXT}" '
        'placeholder="ABCD-EFGH-JKMN-PQRS" autocomplete="off" autocapitalize="characters" spellcheck="false" '
        f'required><button type="submit">{_both("確認", "Check")}</button></div></form>'
        f"{result}"
        f"<footer>{_both(*_WHERE)}</footer>"
        "</main></body></html>"
    )


async def page(request: web.Request) -> web.Response:
    text = request.query.get("code", "")
    status, result = 200, ""
    headers = dict(PAGE_HEADERS)
    if text.strip():
        try:
            status, doc = await lookup(request, text)
            result = _result(status, doc)
        except RateLimited as exc:
            status, headers["Retry-After"] = 429, str(exc.retry_after)
            result = _message("error", _TOO_MANY, f"Too many lookups from this address: "
                                                  f"try again in {exc.retry_after} seconds.")
        except BadRequest as exc:
            status = 400
            result = _message("error", _MALFORMED, exc.message)
    return web.Response(text=render_page(text[:MAX_CODE_TEXT * 4], result), status=status,
                        content_type="text/html", charset="utf-8", headers=headers)


def setup(app: web.Application) -> None:
    app[VERIFY_LIMIT_KEY] = SharedLimit("verify", LOOKUPS_PER_MINUTE / 60.0, BURST)
    app.router.add_get("/verify/v1/{code}", api)
    app.router.add_get("/verify", page)
