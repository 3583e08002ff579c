"""What each certificate says: the standard content of the five documents.

Pure: residents, seals, taxes and disasters in; pages of labelled fields out. The PDF
renderer draws exactly these strings, and the verification code and signature cover
exactly them, so a changed word on the paper fails verification.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass, field
from datetime import date

from bcl_console.domain.damage import DamageClass
from bcl_console.domain.errors import InvalidInput
from bcl_console.domain.municipality import CertificateType, Kind, Municipality
from bcl_console.domain.resident import SEX_LABELS, Resident, ResidentStatus
from bcl_console.domain.wareki import format_era, format_fiscal_year

SENTENCE_HOUSEHOLD = "この写しは、世帯全員の住民票の原本と相違ないことを証明する。"
SENTENCE_PERSON = "この写しは、住民票の原本と相違ないことを証明する。"
SENTENCE_SEAL = "この写しは、登録されている印影と相違ないことを証明する。"
SENTENCE_AS_ABOVE = "上記のとおり相違ないことを証明する。"
SENTENCE_VICTIM = "上記の者は、上記災害により被害を受けたことを届け出たことを証明する。"
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
    #: The layout version (様式の版) it was made with (domain.layouts).
    layout_version: int = 1

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
    #: Optional in the linkage data (None: not sent): 扶養人数 and parts of 所得控除.
    dependents: int | None = None
    basic_deduction: int | None = None
    social_insurance_deduction: int | None = None
    dependent_deduction: int | None = None


@dataclass(frozen=True)
class DisasterRecord:
    disaster_id: int
    name: str
    occurred_on: date
    address: str
    damage_class: str
    #: For a flood: 床上浸水 or 床下浸水, and the depth above ground in cm (None: not recorded).
    flood_level: str | None = None
    flood_depth_cm: int | None = None


@dataclass(frozen=True)
class VictimRecord:
    """A person's report of harm from a disaster (被災届出), as the 被災証明書 prints it."""

    disaster_id: int
    name: str
    occurred_on: date
    #: The address the person gave with the report (where the harm was suffered).
    address: str
    harm: str
    reported_on: date


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


_CHILD = re.compile(r"^(子|養子|[長次二三四五六七八九十]+[男女])$")


def household_rank(relationship: str) -> int:
    """Where a member stands on the household copy: 世帯主, spouse, children, parents, others."""
    if relationship == "世帯主":
        return 0
    if relationship in ("妻", "夫", "妻（未届）", "夫（未届）"):
        return 1
    if _CHILD.match(relationship):
        return 2
    if relationship in ("父", "母", "養父", "養母"):
        return 3
    return 4


def household_order(members: list[Resident]) -> list[Resident]:
    """世帯主, then 妻 (夫), then 子 by birth (eldest first), then 父 and 母, then others by birth."""
    def key(p: Resident) -> tuple[int, int, date, str]:
        rank = household_rank(p.relationship)
        mother_after_father = int(rank == 3 and p.relationship.endswith("母"))
        return rank, mother_after_father, p.birth_date, p.resident_code

    return sorted(members, key=key)


def change_reason(p: Resident, m: Municipality) -> str:
    """異動事由 of 住民となった年月日, derived: the linkage data (contract §3) carries no
    reason, so 出生 when the person became a resident on the day of birth with no
    previous address, 転居 when the previous address is in this municipality, else 転入."""
    if not p.previous_address:
        return "出生" if p.resident_since == p.birth_date else ""
    here = f"{m.prefecture}{m.name}"
    if p.previous_address.startswith(here) or (not m.prefecture and p.previous_address.startswith(m.name)):
        return "転居"
    return "転入"


def residence(m: Municipality, requester: Resident, members: list[Resident], *, household: bool,
              include_domicile: bool, issued_on: date, layout_version: int = 1) -> CertificateContent:
    """住民票の写し: one page (個人票) per person; the household copy lists the current members.
    Layout version 2 adds, for a person who has them, 旧氏 (併記 under the 氏名) and the
    name in ローマ字."""
    refuse_if_not_issuable(requester)
    people = [p for p in members if p.status is ResidentStatus.ACTIVE] if household else [requester]
    people = household_order(people)
    head = next((p for p in members if p.relationship == "世帯主"), requester)
    sentence = SENTENCE_HOUSEHOLD if household else SENTENCE_PERSON
    pages = []
    for p in people:
        reason = change_reason(p, m)
        fields = [
            ("氏名", p.name.replace(" ", "　")),
            *name_additions(p, layout_version),
            ("フリガナ", p.name_kana),
            ("生年月日", format_era(p.birth_date)),
            ("性別", _sex(p)),
            ("世帯主", head.name.replace(" ", "　")),
            ("続柄", p.relationship),
            ("住民となった年月日", f"{format_era(p.resident_since)}　{reason}".rstrip("　")),
            ("住所", p.address),
            # 届出日: the linkage data carries none; the day the address was set stands for it.
            ("住所を定めた年月日", f"{format_era(p.resident_since)}　{format_era(p.resident_since)}届出"),
            ("従前の住所", p.previous_address or "―"),
        ]
        if include_domicile:
            fields.append(("本籍", p.domicile or "―"))
            fields.append(("筆頭者", (p.head_of_family or "―").replace(" ", "　")))
        pages.append(FrontPage("住民票の写し", tuple(fields), sentence))
    issuer, seal = issuer_of(m)
    return CertificateContent(CertificateType.RESIDENCE, m.code, issuer, seal, issued_on, tuple(pages),
                              subject=requester.resident_code, layout_version=layout_version)


def name_additions(p: Resident, layout_version: int) -> list[tuple[str, str]]:
    """What layout version 2 of the 住民票 prints under the 氏名: 旧氏 and ローマ字 (each
    only when the linkage data carries it); nothing in version 1."""
    if layout_version < 2:
        return []
    out = []
    if p.former_surname:
        out.append(("旧氏", p.former_surname))
    if p.name_roman:
        out.append(("氏名（ローマ字）", p.name_roman))
    return out


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


def municipal_tax_name(m: Municipality) -> str:
    """市町村民税 as the municipality calls it: 町民税, 村民税, 市民税 (特別区民税 in a ward)."""
    return {Kind.TOWN: "町民税", Kind.VILLAGE: "村民税", Kind.SPECIAL_WARD: "特別区民税"}.get(m.kind, "市民税")


def prefectural_tax_name(m: Municipality) -> str:
    """道府県民税 by the prefecture's name: 都民税, 道民税, 府民税, 県民税 (県民税 when unknown)."""
    suffix = m.prefecture[-1:] if m.prefecture else "県"
    return f"{suffix}民税" if suffix in ("都", "道", "府", "県") else "県民税"


def per_capita_levy(fiscal_year: int) -> tuple[int, int]:
    """均等割 at the standard rates (地方税法), municipal and prefectural: 3,500 and 1,500 yen
    in FY2014–FY2023 (the reconstruction surcharge of 500 each), 3,000 and 1,000 otherwise."""
    return (3_500, 1_500) if 2014 <= fiscal_year <= 2023 else (3_000, 1_000)


def split_levy(tax: int, per_capita: int) -> tuple[int, int] | None:
    """(均等割, 所得割) of a levy at the standard per-capita rate; None when the amount is
    not consistent with it (below the 均等割 but not zero): then only the total is shown."""
    if tax == 0:
        return 0, 0
    if tax < per_capita:
        return None
    return per_capita, tax - per_capita


def deduction_lines(tax: TaxRecord) -> list[tuple[str, str]]:
    """所得控除の内訳 as far as the record holds it, the rest as その他の控除."""
    parts = [("基礎控除", tax.basic_deduction), ("社会保険料控除", tax.social_insurance_deduction),
             ("扶養控除", tax.dependent_deduction)]
    known = [(label, amount) for label, amount in parts if amount is not None]
    if not known:
        return []
    lines = [(f"　{label}", _yen(amount)) for label, amount in known if amount]
    rest = tax.deductions - sum(amount for _, amount in known)
    if rest > 0:
        lines.append(("　その他の控除", _yen(rest)))
    return lines


def tax_certificate(m: Municipality, r: Resident, tax: TaxRecord | None, *, fiscal_year: int,
                    issued_on: date) -> CertificateContent:
    """所得・課税証明書 for a fiscal year (income of the previous calendar year): the levies
    under the names of the municipality's kind and its prefecture, each split into
    均等割 and 所得割 at the standard rates."""
    refuse_if_not_issuable(r)
    if tax is None:
        raise InvalidInput(f"resident {r.resident_code} has no tax record for fiscal year {fiscal_year}")
    income_year = format_era(date(fiscal_year - 1, 12, 31)).split("年")[0] + "年中"
    fields: list[tuple[str, str]] = [
        ("年度", f"{format_fiscal_year(fiscal_year)}（{income_year}の所得）"),
        ("住所", r.address),
        ("氏名", r.name.replace(" ", "　")),
        ("生年月日", format_era(r.birth_date)),
        ("給与収入", _yen(tax.salary_income)),
        ("合計所得金額", _yen(tax.total_income)),
        ("所得控除の合計", _yen(tax.deductions)),
        *deduction_lines(tax),
    ]
    if tax.dependents is not None:
        fields.append(("扶養人数", f"{tax.dependents}人"))
    fields.append(("課税標準額", _yen(tax.taxable_income)))
    municipal_pc, prefectural_pc = per_capita_levy(fiscal_year)
    for name, amount, per_capita in ((municipal_tax_name(m), tax.municipal_tax, municipal_pc),
                                     (prefectural_tax_name(m), tax.prefectural_tax, prefectural_pc)):
        split = split_levy(amount, per_capita)
        if split is None:
            fields.append((name, _yen(amount)))
        else:
            fields.append((name, f"{_yen(amount)}（所得割 {_yen(split[1])}・均等割 {_yen(split[0])}）"))
    fields.append(("年税額", _yen(tax.municipal_tax + tax.prefectural_tax)))
    issuer, stamp = issuer_of(m)
    page = FrontPage("所得・課税証明書", tuple(fields), SENTENCE_AS_ABOVE)
    return CertificateContent(CertificateType.TAX, m.code, issuer, stamp, issued_on, (page,),
                              subject=r.resident_code)


FLOOD_LEVELS = ("床上浸水", "床下浸水")


def damage_marks(applicable: str) -> str:
    """The 内閣府 standard form's six classes, ■ for the applicable one and □ for the others."""
    return "　".join(f"{'■' if c.value == applicable else '□'}{c.value}" for c in DamageClass)


def flood_marks(applicable: str) -> str:
    return "　".join(f"{'■' if level == applicable else '□'}{level}" for level in FLOOD_LEVELS)


def disaster_certificate(m: Municipality, r: Resident, head: Resident, record: DisasterRecord | None, *,
                         issued_on: date) -> CertificateContent:
    """罹災証明書 for the requester's household: the head, the dwelling, the damage class."""
    refuse_if_not_issuable(r)
    if record is None:
        raise InvalidInput(f"the household of resident {r.resident_code} has no damage assessment for this disaster")
    fields: tuple[tuple[str, str], ...] = (
        ("罹災者（世帯主）", head.name.replace(" ", "　")),
        ("住所（被災住家）", record.address),
        ("災害名", record.name),
        ("災害発生日", format_era(record.occurred_on)),
        ("被害の程度", damage_marks(record.damage_class)),
    )
    if record.flood_level:
        depth = f"（浸水深 {record.flood_depth_cm}cm）" if record.flood_depth_cm is not None else ""
        fields += (("浸水区分", f"{flood_marks(record.flood_level)}{depth}"),)
    issuer, stamp = issuer_of(m)
    page = FrontPage("罹災証明書", fields, SENTENCE_AS_ABOVE)
    return CertificateContent(CertificateType.DISASTER, m.code, issuer, stamp, issued_on, (page,),
                              subject=r.resident_code)


def victim_certificate(m: Municipality, r: Resident, record: VictimRecord | None, *,
                       issued_on: date) -> CertificateContent:
    """被災証明書 of the person who reported the harm: it certifies the report (what was
    reported and when), not an assessment of the damage (that is the 罹災証明書)."""
    refuse_if_not_issuable(r)
    if record is None:
        raise InvalidInput(f"resident {r.resident_code} has reported no harm (被災届出) for this disaster")
    fields = (
        ("被災者氏名", r.name.replace(" ", "　")),
        ("住所", record.address),
        ("災害名", record.name),
        ("災害発生日", format_era(record.occurred_on)),
        ("被害の内容", record.harm),
        ("届出日", format_era(record.reported_on)),
    )
    issuer, stamp = issuer_of(m)
    page = FrontPage("被災証明書", fields, SENTENCE_VICTIM)
    return CertificateContent(CertificateType.DISASTER_VICTIM, m.code, issuer, stamp, issued_on, (page,),
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
