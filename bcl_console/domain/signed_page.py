"""What the back's 2-D code carries: its front page as printed, signed by the centre.

A person holding the paper decodes the code (``bcl-console verify --scan``) and compares
the decoded fields with the front: a changed word on the paper, or a genuine code on a
forged front, shows at once. The format, version 2, in the code's byte mode:

    b"BCL2" ‖ raw deflate of the JSON (with the dictionary below) ‖ ECDSA P-256 signature (r‖s, 64 bytes)

The JSON is compact with sorted keys, and the signature is over exactly its bytes. The
deflate dictionary is part of the format (a decoder needs the same bytes): it holds the
labels and words every certificate repeats, so a page fits a small code. Bytes, not
text: a third smaller than base64 would make it, so the code has fewer, larger modules
(easier to scan) and is quicker to make.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from typing import Any

from bcl_console.domain.certificate import CertificateContent
from bcl_console.domain.errors import InvalidInput

PREFIX = b"BCL2"
SIGNATURE_BYTES = 64
FORMAT_VERSION = 2
#: The preset dictionary of format version 2. Never change it: codes printed with it
#: must stay readable. (A new dictionary is a new version.)
DICTIONARY = (
    '{"code":"","date":"","fields":[["","issued_at":"","issuer":"","municipality":"","number":"",'
    '"page":,"pages":,"sentence":"","title":"","type":"residence","seal","tax","disaster","v":2}'
    "住民票の写し印鑑登録証明書所得・課税証明書罹災証明書氏名フリガナ生年月日性別世帯主続柄"
    "住民となった年月日住所を定めた年月日届出従前の住所本籍筆頭者転入出生登録番号登録年月日"
    "年度の所得給与収入合計所得金額所得控除の合計基礎控除社会保険料控除扶養控除その他の控除扶養人数"
    "課税標準額町民税村民税市民税県民税都民税府民税道民税所得割均等割年税額円人"
    "罹災者（世帯主）住所（被災住家）災害名災害発生日被害の程度浸水区分床上浸水床下浸水浸水深cm"
    "□全壊□大規模半壊□中規模半壊□半壊□準半壊□準半壊に至らない（一部損壊）■"
    "この写しは、世帯全員の住民票の原本と相違ないことを証明する。登録されている印影と"
    "上記のとおり相違ないことを証明する。令和平成昭和大正年月日元県町村市長之印"
    "番地丁目号男女長男長女次男次女妻夫子父母―　"
).encode()


@dataclass(frozen=True)
class PagePayload:
    """One front page's signed content: the JSON bytes and, once signed, the signature."""

    json_bytes: bytes
    signature: bytes = b""

    @property
    def fields(self) -> dict[str, Any]:
        value = json.loads(self.json_bytes)
        if not isinstance(value, dict):
            raise InvalidInput("the 2-D code's content is not an object", field="code")
        return value

    def code_bytes(self) -> bytes:
        """What the 2-D code holds."""
        if len(self.signature) != SIGNATURE_BYTES:
            raise ValueError("the page is not signed")
        squeeze = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY, DICTIONARY)
        return PREFIX + squeeze.compress(self.json_bytes) + squeeze.flush() + self.signature


def page_payloads(content: CertificateContent, *, code: str, number: str, issued_at: str) -> list[PagePayload]:
    """The signed content of each front page, the fields exactly as printed."""
    pages = len(content.pages)
    out = []
    for index, page in enumerate(content.pages, start=1):
        body = {
            "v": FORMAT_VERSION, "code": code, "type": content.type.value, "municipality": content.municipality_code,
            "issued_at": issued_at, "number": number, "page": index, "pages": pages, "title": page.title,
            "fields": [[label, value] for label, value in page.fields], "sentence": page.sentence,
            "date": content.issue_date_text, "issuer": content.issuer,
        }
        out.append(PagePayload(json.dumps(body, ensure_ascii=False, sort_keys=True,
                                          separators=(",", ":")).encode("utf-8")))
    return out


def read_code(data: bytes) -> PagePayload:
    """The payload and signature of a decoded 2-D code; InvalidInput when it is not one."""
    if not data.startswith(PREFIX) or len(data) < len(PREFIX) + SIGNATURE_BYTES + 2:
        raise InvalidInput("the 2-D code is not a certificate code of this system (it does not start with BCL2)",
                           field="code")
    packed, signature = data[len(PREFIX):-SIGNATURE_BYTES], data[-SIGNATURE_BYTES:]
    try:
        unpack = zlib.decompressobj(-15, DICTIONARY)
        json_bytes = unpack.decompress(packed, 64 * 1024)
        if unpack.unconsumed_tail or not unpack.eof:
            raise InvalidInput("the 2-D code is damaged or too large: its content cannot be unpacked", field="code")
    except zlib.error:
        raise InvalidInput("the 2-D code is damaged: its content cannot be unpacked", field="code") from None
    payload = PagePayload(json_bytes, signature)
    try:
        payload.fields  # noqa: B018 - parsed once here so a bad code fails now, with its reason
    except ValueError:
        raise InvalidInput("the 2-D code is damaged: its content is not JSON", field="code") from None
    return payload
