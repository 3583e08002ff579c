"""The content of the four certificates against the standard forms (issue #14 §4)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from bcl_console.domain.certificate import (
    DisasterRecord,
    TaxRecord,
    disaster_certificate,
    residence,
    tax_certificate,
)
from bcl_console.domain.municipality import Hosting, Kind, Municipality
from bcl_console.domain.resident import Resident, ResidentStatus

TODAY = date(2026, 6, 17)
TOWN = Municipality("993611", "北山町", Kind.TOWN, 12000, Hosting.BCL, prefecture="東雲県", mayor="山本 健一")


def person(code: str, name: str, relationship: str, born: date, *, since: date | None = None,
           previous: str = "他県他市一丁目1番1号", sex: int = 1) -> Resident:
    return Resident(TOWN.code, code, "00000001", name, "ヤマダ タロウ", born, sex, relationship,
                    "東雲県北山町大字本郷1番地", since or date(2010, 4, 1), previous, "東雲県北山町大字本郷1番地",
                    "", ResidentStatus.ACTIVE, None, False, False)


def fields(page: object) -> dict[str, str]:
    return dict(page.fields)  # type: ignore[attr-defined]


def test_household_copy_lists_head_spouse_children_by_birth_then_parents_then_others() -> None:
    members = [
        person("00000000001", "山田 太郎", "世帯主", date(1975, 5, 1)),
        person("00000000002", "山田 一郎", "父", date(1948, 1, 1)),
        person("00000000003", "山田 花", "母", date(1950, 1, 1), sex=2),
        person("00000000004", "山田 次郎", "子", date(2008, 3, 3)),
        person("00000000005", "佐藤 健", "同居人", date(1960, 2, 2)),
        person("00000000006", "山田 春子", "妻", date(1977, 7, 7), sex=2),
        person("00000000007", "山田 一子", "子", date(2004, 9, 9), sex=2),
    ]
    content = residence(TOWN, members[0], members, household=True, include_domicile=False, issued_on=TODAY)
    order = [fields(p)["続柄"] for p in content.pages]
    assert order == ["世帯主", "妻", "子", "子", "父", "母", "同居人"]
    children = [fields(p)["氏名"] for p in content.pages if fields(p)["続柄"] == "子"]
    assert children == ["山田　一子", "山田　次郎"]  # by birth, the eldest first


def test_residence_shows_the_reason_of_the_change_and_the_notification_date() -> None:
    newborn = person("00000000008", "山田 三郎", "子", date(2015, 4, 2), since=date(2015, 4, 2), previous="")
    moved_in = person("00000000001", "山田 太郎", "世帯主", date(1975, 5, 1), since=date(2019, 4, 1))
    moved_within = person("00000000006", "山田 春子", "妻", date(1977, 7, 7), since=date(2019, 4, 1),
                          previous="東雲県北山町大字新田5番地", sex=2)
    content = residence(TOWN, moved_in, [moved_in, moved_within, newborn], household=True,
                        include_domicile=False, issued_on=TODAY)
    by_name = {fields(p)["氏名"]: fields(p) for p in content.pages}
    assert by_name["山田　太郎"]["住民となった年月日"] == "平成31年4月1日　転入"
    assert by_name["山田　太郎"]["住所を定めた年月日"] == "平成31年4月1日　平成31年4月1日届出"
    assert by_name["山田　春子"]["住民となった年月日"].endswith("転居")
    assert by_name["山田　三郎"]["住民となった年月日"] == "平成27年4月2日　出生"


def tax(**changes: object) -> TaxRecord:
    base = TaxRecord(2026, 2_000_000, 3_000_000, 1_210_000, 790_000, 50_400, 32_600)
    return replace(base, **changes)  # type: ignore[arg-type]


def test_tax_certificate_names_the_levies_of_the_municipality_and_splits_them() -> None:
    r = person("00000000001", "山田 太郎", "世帯主", date(1975, 5, 1))
    f = fields(tax_certificate(TOWN, r, tax(), fiscal_year=2026, issued_on=TODAY).pages[0])
    assert f["町民税"] == "50,400円（所得割 47,400円・均等割 3,000円）"
    assert f["県民税"] == "32,600円（所得割 31,600円・均等割 1,000円）"
    assert "市町村民税" not in f and "道府県民税" not in f
    village = replace(TOWN, name="桜川村", kind=Kind.VILLAGE, prefecture="北海道")
    f = fields(tax_certificate(village, r, tax(), fiscal_year=2026, issued_on=TODAY).pages[0])
    assert "村民税" in f and "道民税" in f
    for kind, prefecture, names in ((Kind.CITY, "東京都", ("市民税", "都民税")),
                                    (Kind.DESIGNATED_CITY, "大阪府", ("市民税", "府民税")),
                                    (Kind.SPECIAL_WARD, "東京都", ("特別区民税", "都民税"))):
        m = replace(TOWN, kind=kind, prefecture=prefecture)
        f = fields(tax_certificate(m, r, tax(), fiscal_year=2026, issued_on=TODAY).pages[0])
        assert all(n in f for n in names), (kind, f)
    # FY2014–FY2023: 均等割 3,500 and 1,500 (the reconstruction surcharge)
    f = fields(tax_certificate(TOWN, r, replace(tax(), fiscal_year=2023), fiscal_year=2023,
                               issued_on=TODAY).pages[0])
    assert f["町民税"] == "50,400円（所得割 46,900円・均等割 3,500円）"
    # not taxed: both parts zero; an amount below the 均等割: the total alone
    f = fields(tax_certificate(TOWN, r, tax(municipal_tax=0, prefectural_tax=700), fiscal_year=2026,
                               issued_on=TODAY).pages[0])
    assert f["町民税"] == "0円（所得割 0円・均等割 0円）" and f["県民税"] == "700円"


def test_tax_certificate_shows_dependents_and_the_deductions_when_the_record_has_them() -> None:
    r = person("00000000001", "山田 太郎", "世帯主", date(1975, 5, 1))
    plain = fields(tax_certificate(TOWN, r, tax(), fiscal_year=2026, issued_on=TODAY).pages[0])
    assert "扶養人数" not in plain and not any("基礎控除" in k for k in plain)
    full = tax(dependents=1, basic_deduction=430_000, social_insurance_deduction=450_000,
               dependent_deduction=330_000)
    page = tax_certificate(TOWN, r, full, fiscal_year=2026, issued_on=TODAY).pages[0]
    f = fields(page)
    assert f["扶養人数"] == "1人"
    assert f["　基礎控除"] == "430,000円" and f["　社会保険料控除"] == "450,000円" and f["　扶養控除"] == "330,000円"
    assert "　その他の控除" not in f  # the parts add up to the total
    labels = [label for label, _ in page.fields]
    assert labels.index("所得控除の合計") < labels.index("　基礎控除") < labels.index("課税標準額")
    partial = fields(tax_certificate(TOWN, r, tax(basic_deduction=430_000), fiscal_year=2026,
                                     issued_on=TODAY).pages[0])
    assert partial["　その他の控除"] == "780,000円"


def test_disaster_certificate_lists_the_six_classes_and_the_flood_level() -> None:
    r = person("00000000001", "山田 太郎", "世帯主", date(1975, 5, 1))
    record = DisasterRecord(1, "令和8年5月東雲県豪雨", date(2026, 5, 6), r.address, "中規模半壊")
    f = fields(disaster_certificate(TOWN, r, r, record, issued_on=TODAY).pages[0])
    assert f["被害の程度"] == ("□全壊　□大規模半壊　■中規模半壊　□半壊　□準半壊　"
                           "□準半壊に至らない（一部損壊）")
    assert "浸水区分" not in f  # not a flood
    flooded = replace(record, flood_level="床上浸水", flood_depth_cm=120)
    f = fields(disaster_certificate(TOWN, r, r, flooded, issued_on=TODAY).pages[0])
    assert f["浸水区分"] == "■床上浸水　□床下浸水（浸水深 120cm）"
    f = fields(disaster_certificate(TOWN, r, r, replace(record, flood_level="床下浸水"), issued_on=TODAY).pages[0])
    assert f["浸水区分"] == "□床上浸水　■床下浸水"
