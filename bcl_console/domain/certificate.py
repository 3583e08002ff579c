"""What each certificate says: the national standard content of the four documents.

Pure: residents, seals, taxes and disasters in; pages of labelled fields out. The PDF
renderer draws exactly these strings, and the verification code and signature cover
exactly them, so a changed word on the paper fails verification.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import date

from bcl_console.domain.errors import InvalidInput
from bcl_console.domain.municipality import CertificateType, Municipality
from bcl_console.domain.resident import SEX_LABELS, Resident, ResidentStatus
from bcl_console.domain.wareki import format_era, format_fiscal_year

SENTENCE_HOUSEHOLD = "この写しは、世帯全員の住民票の原本と相違ないことを証明する。"
SENTENCE_PERSON = "この写しは、住民票の原本と相違ないことを証明する。"
SENTENCE_SEAL = "この写しは、登録されている印影と相違ないことを証明する。"
SENTENCE_AS_ABOVE = "上記のとおり相違ないことを証明する。"
VERIFY_NOTE = "この証明書の真正性は裏面の二次元コードまたは検証コードで確認できます。"

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_verification_code() -> str:
    """80 random bits in Crockford base32, grouped for people to type: ABCD-EFGH-JKMN-PQRS."""
    value = secrets.randbits(80)
    chars = "".join(_CROCKFORD[(value >> (5 * i)) & 31] for i in range(16))
    return "-".join(chars[i:i + 4] for i in range(0, 16, 4))


def normalise_code(text: str) -> str:
    """Accept a code typed with spaces, lower case, O for 0 and I/L for 1."""
    cleaned = text.upper().replace(" ", "").replace("-", "").replace("O", "0")
    cleaned = cleaned.replace("I", "1").replace("L", "1")
    if len(cleaned) != 16 or any(c not in _CROCKFORD for c in cleaned):
        raise InvalidInput(f"{text!r} is not a verification code (16 characters)", field="code")
    return "-".join(cleaned[i:i + 4] for i in range(0, 16, 4))


@dataclass(frozen=True)
class FrontPage:
    """One printed front side (おもて面)."""

    title: str
    fields: tuple[tuple[str, str], ...]
    sentence: str
    image_png: bytes | None = None  # the seal impression (印影)
    image_label: str = ""


@dataclass(frozen=True)
class CertificateContent:
    type: CertificateType
    municipality_code: str
    issuer: str  # 北山町長 山本 健一
    seal_text: str  # 北山町長之印
    issued_on: date
    pages: tuple[FrontPage, ...]
    subject: str = ""  # whose certificate (for the issuance record, never printed as such)

    @property
    def issue_date_text(self) -> str:
        return format_era(self.issued_on)


@dataclass(frozen=True)
class SealRecord:
    seal_number: str
    registered_on: date
    png: bytes


@dataclass(frozen=True)
class TaxRecord:
    fiscal_year: int
    total_income: int
    salary_income: int
    deductions: int
    taxable_income: int
    municipal_tax: int
    prefectural_tax: int


@dataclass(frozen=True)
class DisasterRecord:
    disaster_id: int
    name: str
    occurred_on: date
    address: str
    damage_class: str


@dataclass
class DrawnText:
    """The strings a renderer draws on the fronts, in order: what the signature covers."""

    items: list[str] = field(default_factory=list)

    def add(self, text: str) -> str:
        self.items.append(text)
        return text

    def sha256(self) -> str:
        return text_sha256("".join(self.items))


def text_sha256(text: str) -> str:
    """Hash of text with all white space removed (extraction may add or drop spaces)."""
    return hashlib.sha256("".join(text.split()).encode("utf-8")).hexdigest()


def issuer_of(m: Municipality) -> tuple[str, str]:
    title = f"{m.name}{m.kind.mayor_title[-1]}" if m.name.endswith(m.kind.mayor_title[0]) else f"{m.name}{m.kind.mayor_title}"
    return f"{title} {m.mayor}".strip(), f"{title}之印"


def refuse_if_not_issuable(r: Resident) -> None:
    if r.status is ResidentStatus.MOVED_OUT:
        raise InvalidInput(f"resident {r.resident_code} has moved out; certificates are issued by the new municipality")
    if r.status is ResidentStatus.DECEASED:
        raise InvalidInput(f"resident {r.resident_code} is deceased; the certificate cannot be issued here")
    if r.restricted:
        raise InvalidInput(
            f"resident {r.resident_code} is under a protection measure (DV等支援措置); "
            "certificates are issued only at the town hall counter after a check"
        )


def _sex(r: Resident) -> str:
    return SEX_LABELS.get(r.sex, "")


def residence(m: Municipality, requester: Resident, members: list[Resident], *, household: bool,
              include_domicile: bool, issued_on: date) -> CertificateContent:
    """住民票の写し: one page (個人票) per person; the household copy lists the current members."""
    refuse_if_not_issuable(requester)
    people = [p for p in members if p.status is ResidentStatus.ACTIVE] if household else [requester]
    people.sort(key=lambda p: (p.relationship != "世帯主", p.birth_date))
    head = next((p for p in members if p.relationship == "世帯主"), requester)
    sentence = SENTENCE_HOUSEHOLD if household else SENTENCE_PERSON
    pages = []
    for p in people:
        fields = [
            ("氏名", p.name.replace(" ", "　")),
            ("フリガナ", p.name_kana),
            ("生年月日", format_era(p.birth_date)),
            ("性別", _sex(p)),
            ("世帯主", head.name.replace(" ", "　")),
            ("続柄", p.relationship),
            ("住民となった年月日", format_era(p.resident_since)),
            ("住所", p.address),
            ("住所を定めた年月日", format_era(p.resident_since)),
            ("従前の住所", p.previous_address or "―"),
        ]
        if include_domicile:
            fields.append(("本籍", p.domicile or "―"))
            fields.append(("筆頭者", (p.head_of_family or "―").replace(" ", "　")))
        pages.append(FrontPage("住民票の写し", tuple(fields), sentence))
    issuer, seal = issuer_of(m)
    return CertificateContent(CertificateType.RESIDENCE, m.code, issuer, seal, issued_on, tuple(pages),
                              subject=requester.resident_code)


def seal_certificate(m: Municipality, r: Resident, seal: SealRecord | None, *, issued_on: date) -> CertificateContent:
    """印鑑登録証明書 with the registered impression."""
    refuse_if_not_issuable(r)
    if seal is None:
        raise InvalidInput(f"resident {r.resident_code} has no active seal registration")
    fields = (
        ("氏名", r.name.replace(" ", "　")),
        ("生年月日", format_era(r.birth_date)),
        ("性別", _sex(r)),
        ("住所", r.address),
        ("登録番号", seal.seal_number),
        ("登録年月日", format_era(seal.registered_on)),
    )
    issuer, stamp = issuer_of(m)
    page = FrontPage("印鑑登録証明書", fields, SENTENCE_SEAL, seal.png, "印影")
    return CertificateContent(CertificateType.SEAL, m.code, issuer, stamp, issued_on, (page,),
                              subject=r.resident_code)


def _yen(n: int) -> str:
    return f"{n:,}円"


def tax_certificate(m: Municipality, r: Resident, tax: TaxRecord | None, *, fiscal_year: int,
                    issued_on: date) -> CertificateContent:
    """所得・課税証明書 for a fiscal year (income of the previous calendar year)."""
    refuse_if_not_issuable(r)
    if tax is None:
        raise InvalidInput(f"resident {r.resident_code} has no tax record for fiscal year {fiscal_year}")
    income_year = format_era(date(fiscal_year - 1, 12, 31)).split("年")[0] + "年中"
    fields = (
        ("年度", f"{format_fiscal_year(fiscal_year)}（{income_year}の所得）"),
        ("住所", r.address),
        ("氏名", r.name.replace(" ", "　")),
        ("生年月日", format_era(r.birth_date)),
        ("給与収入", _yen(tax.salary_income)),
        ("合計所得金額", _yen(tax.total_income)),
        ("所得控除の合計", _yen(tax.deductions)),
        ("課税標準額", _yen(tax.taxable_income)),
        ("市町村民税", _yen(tax.municipal_tax)),
        ("道府県民税", _yen(tax.prefectural_tax)),
        ("年税額", _yen(tax.municipal_tax + tax.prefectural_tax)),
    )
    issuer, stamp = issuer_of(m)
    page = FrontPage("所得・課税証明書", fields, SENTENCE_AS_ABOVE)
    return CertificateContent(CertificateType.TAX, m.code, issuer, stamp, issued_on, (page,),
                              subject=r.resident_code)


def disaster_certificate(m: Municipality, r: Resident, head: Resident, record: DisasterRecord | None, *,
                         issued_on: date) -> CertificateContent:
    """罹災証明書 for the requester's household: the head, the dwelling, the damage class."""
    refuse_if_not_issuable(r)
    if record is None:
        raise InvalidInput(f"the household of resident {r.resident_code} has no damage assessment for this disaster")
    fields = (
        ("罹災者（世帯主）", head.name.replace(" ", "　")),
        ("住所（被災住家）", record.address),
        ("災害名", record.name),
        ("災害発生日", format_era(record.occurred_on)),
        ("被害の程度", record.damage_class),
    )
    issuer, stamp = issuer_of(m)
    page = FrontPage("罹災証明書", fields, SENTENCE_AS_ABOVE)
    return CertificateContent(CertificateType.DISASTER, m.code, issuer, stamp, issued_on, (page,),
                              subject=r.resident_code)


def content_to_dict(c: CertificateContent) -> dict[str, object]:
    """The content as JSON (own-server municipalities answer with it)."""
    return {
        "type": c.type.value, "municipality_code": c.municipality_code, "issuer": c.issuer,
        "seal_text": c.seal_text, "issued_on": c.issued_on.isoformat(), "subject": c.subject,
        "pages": [
            {"title": p.title, "fields": [list(f) for f in p.fields], "sentence": p.sentence,
             "image_png": base64.b64encode(p.image_png).decode() if p.image_png else None,
             "image_label": p.image_label}
            for p in c.pages
        ],
    }


def content_from_dict(raw: object, *, municipality_code: str) -> CertificateContent:
    """Validate content received from a municipality's own server; refuse anything odd."""
    def text(value: object, what: str, limit: int = 400) -> str:
        if not isinstance(value, str) or len(value) > limit:
            raise InvalidInput(f"the own server sent a bad {what}")
        return value

    if not isinstance(raw, dict):
        raise InvalidInput("the own server sent no certificate content")
    try:
        ctype = CertificateType(str(raw.get("type")))
    except ValueError:
        raise InvalidInput("the own server sent an unknown certificate type") from None
    if raw.get("municipality_code") != municipality_code:
        raise InvalidInput("the own server sent content of another municipality")
    pages_raw = raw.get("pages")
    if not isinstance(pages_raw, list) or not 1 <= len(pages_raw) <= 20:
        raise InvalidInput("the own server sent no pages (or too many)")
    pages = []
    for p in pages_raw:
        if not isinstance(p, dict) or not isinstance(p.get("fields"), list) or len(p["fields"]) > 30:
            raise InvalidInput("the own server sent a malformed page")
        fields = tuple((text(f[0], "label", 40), text(f[1], "value"))
                       for f in p["fields"] if isinstance(f, list) and len(f) == 2)
        image = p.get("image_png")
        png = base64.b64decode(text(image, "image", 400_000)) if image else None
        pages.append(FrontPage(text(p.get("title"), "title", 40), fields, text(p.get("sentence"), "sentence"),
                               png, text(p.get("image_label", ""), "image label", 20)))
    try:
        issued_on = date.fromisoformat(text(raw.get("issued_on"), "date", 10))
    except ValueError:
        raise InvalidInput("the own server sent a bad date") from None
    return CertificateContent(ctype, municipality_code, text(raw.get("issuer"), "issuer", 60),
                              text(raw.get("seal_text"), "seal text", 20), issued_on, tuple(pages),
                              subject=text(raw.get("subject", ""), "subject", 20))
