"""Synthetic residents for the demo data set: households, people, seals and tax records.

Pure generation from a seeded ``random.Random``: the same seed, municipality and day
give the same people. Rows come out household by household as tuples in the column
order of the store, so that half a million residents stream straight into SQLite.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta

from bcl_console.demo import names, romaji
from bcl_console.domain.fiscal import fiscal_year_of_date

# Household shapes and how often they occur (a rural Japanese municipality).
_SHAPES = (("single", 30), ("couple", 24), ("nuclear", 28), ("three_gen", 10), ("single_parent", 8))
_FAMILY_WEIGHTS = [1.0 / (rank + 6) for rank in range(len(names.FAMILY_NAMES))]


@dataclass
class Place:
    """Where the municipality is and how its addresses are written."""

    prefecture: str
    name: str
    rural: bool
    districts: list[str] = field(default_factory=list)


@dataclass
class Household:
    number: str
    family: tuple[str, str]
    address: str
    residents: list[tuple[object, ...]]
    seals: list[tuple[object, ...]]
    taxes: list[tuple[object, ...]]


class PeopleGenerator:
    """Makes households until the wanted number of residents is reached."""

    def __init__(self, rng: random.Random, place: Place, today: date, code_salt: int) -> None:
        self.rng = rng
        self.place = place
        self.today = today
        self._household_seq = 0
        self._resident_seq = 0
        self._seal_seq = 0
        self._code_salt = code_salt
        self._fy = fiscal_year_of_date(today)
        # Redraws of a given name already in the family come from a stream of their own, so
        # that everything else the seed makes stays as it was.
        self._rename_rng = random.Random(f"{code_salt}:rename")

    # -- identifiers -------------------------------------------------------------
    def _resident_code(self) -> str:
        # An affine map of a counter onto 11 digits: unique, and random-looking like
        # a real 住民票コード, without keeping a set of issued codes in memory.
        self._resident_seq += 1
        value = (self._resident_seq * 7_368_787_841 + self._code_salt) % 10**11
        return f"{value:011d}"

    # -- places ------------------------------------------------------------------
    def _address(self) -> str:
        rng, p = self.rng, self.place
        district = rng.choice(p.districts)
        if p.rural:
            return f"{p.prefecture}{p.name}大字{district}{rng.randint(1, 2999)}番地"
        chome = names.kanji_number(rng.randint(1, 6))
        return f"{p.prefecture}{p.name}{district}{chome}丁目{rng.randint(1, 30)}番{rng.randint(1, 25)}号"

    def _elsewhere(self) -> str:
        rng = self.rng
        town = rng.choice(names.ELSEWHERE)
        district = rng.choice(names.CITY_DISTRICTS)
        return f"{town}{district}{names.kanji_number(rng.randint(1, 5))}丁目{rng.randint(1, 30)}番{rng.randint(1, 20)}号"

    # -- people ------------------------------------------------------------------
    def _birth(self, age: int) -> date:
        days = self.rng.randint(0, 364)
        born = date(self.today.year - age - 1, 1, 1) + timedelta(days=days)
        return min(born, self.today - timedelta(days=1))

    def _given(self, sex: int, born: date, rng: random.Random | None = None) -> tuple[str, str]:
        key = ("M" if sex == 1 else "F", names.generation(born.year))
        return (rng or self.rng).choice(names.GIVEN_NAMES[key])

    def households(self, count: int) -> Iterator[Household]:
        made = 0
        while made < count:
            household = self._household(count - made)
            made += len(household.residents)
            yield household

    def _household(self, room: int) -> Household:
        rng = self.rng
        shape = rng.choices([s for s, _ in _SHAPES], [w for _, w in _SHAPES])[0]
        self._household_seq += 1
        family = rng.choices(names.FAMILY_NAMES, _FAMILY_WEIGHTS)[0]
        h = Household(f"{self._household_seq:08d}", family, self._address(), [], [], [])
        moved_in = self.today - timedelta(days=rng.randint(30, 365 * 35))
        previous = self._elsewhere()
        domicile = self._elsewhere() if rng.random() < 0.4 else h.address.split("番")[0] + "番地"

        members: list[tuple[int, int, str]] = []  # (age, sex, relationship)
        head_age = rng.randint(20, 90) if shape == "single" else rng.randint(27, 82)
        head_sex = 1 if (shape in ("couple", "nuclear", "three_gen") and rng.random() < 0.85) else rng.choice((1, 2))
        members.append((head_age, head_sex, "世帯主"))
        if shape in ("couple", "nuclear", "three_gen"):
            spouse_sex = 2 if head_sex == 1 else 1
            members.append((max(18, head_age + rng.randint(-6, 4)), spouse_sex, "妻" if spouse_sex == 2 else "夫"))
        if shape in ("nuclear", "three_gen", "single_parent"):
            for _ in range(rng.choice((1, 1, 2, 2, 2, 3))):
                child_age = max(0, min(head_age - 22, rng.randint(0, 24)))
                members.append((child_age, rng.choice((1, 2)), "子"))
        if shape == "three_gen":
            parent_age = head_age + rng.randint(24, 32)
            if parent_age <= 100:
                members.append((parent_age, 1, "父"))
                members.append((parent_age - rng.randint(0, 4), 2, "母"))
        if rng.random() < 0.01:
            members.append((rng.randint(20, 70), rng.choice((1, 2)), "同居人"))
        members = members[: max(1, room)]

        head_name = father_name = ""
        given_names: set[str] = set()  # no two members of a family share a given name
        for age, sex, relationship in members:
            born = self._birth(age)
            fam = rng.choices(names.FAMILY_NAMES, _FAMILY_WEIGHTS)[0] if relationship == "同居人" else family
            given = self._given(sex, born)
            for _ in range(30):
                if given[0] not in given_names or relationship == "同居人":
                    break
                given = self._given(sex, born, self._rename_rng)
            given_names.add(given[0])
            name = f"{fam[0]} {given[0]}"
            kana = f"{fam[1]} {given[1]}"
            if relationship == "世帯主":
                head_name = name
            elif relationship == "父":
                father_name = name
            since = born if (relationship == "子" and born > moved_in) else max(born, moved_in)
            prev = "" if since == born else previous
            status, status_date = "active", None
            roll = rng.random()
            if roll < 0.012:
                status, status_date = "moved-out", self.today - timedelta(days=rng.randint(1, 300))
            elif roll < 0.02 and age >= 70:
                status, status_date = "deceased", self.today - timedelta(days=rng.randint(1, 300))
            if status_date is not None and status_date < since:
                status_date = since
            needs_help = int((age >= 75 and rng.random() < 0.25) or rng.random() < 0.005)
            restricted = int(rng.random() < 0.002)
            code = self._resident_code()
            former, roman = _former_and_roman(code, relationship, fam[0], kana)
            h.residents.append((
                code, h.number, name, kana, born.isoformat(), sex, relationship, h.address,
                since.isoformat(), prev, domicile, self._head_of_family(relationship, name, head_name, father_name),
                status, status_date.isoformat() if status_date else None, needs_help, restricted, former, roman,
            ))
            if age >= 15 and status == "active" and rng.random() < 0.35:
                self._seal_seq += 1
                earliest = max(since, born + timedelta(days=365 * 15 + 4))
                span = max(0, (self.today - earliest).days)
                registered = earliest + timedelta(days=rng.randint(0, span))
                seal_status = "active" if rng.random() < 0.95 else "abolished"
                h.seals.append((code, f"{self._seal_seq:07d}", registered.isoformat(), seal_status, fam[0]))
            if age >= 18 and status == "active":
                for fy in (self._fy - 1, self._fy):
                    h.taxes.append((code, fy, *self._tax(age)))
        return h

    @staticmethod
    def _head_of_family(relationship: str, name: str, head_name: str, father_name: str) -> str:
        """筆頭者 of a member's 戸籍: the head's parents have their own (the father heads it;
        the mother comes after him in the members, so he is known by then); the head, the
        spouse and the children are in the head's; a lodger (同居人) heads their own."""
        if relationship in ("父", "母"):
            return father_name or name
        if relationship == "同居人":
            return name
        return head_name

    def _tax(self, age: int) -> tuple[int, ...]:
        """(total, salary, deductions, taxable, municipal, prefectural, dependents, basic,
        social insurance and dependent deductions) in integer yen (dependents: people).
        The deductions are exactly basic + social insurance + dependents × 330,000."""
        rng = self.rng
        if age >= 65:
            salary = 0 if rng.random() < 0.75 else rng.randint(500, 2500) * 1000
            other = rng.randint(600, 2600) * 1000 // 2  # public pension, after its deduction
        elif age < 23 and rng.random() < 0.6:
            salary, other = rng.randint(0, 1300) * 1000, 0
        else:
            salary = 0 if rng.random() < 0.08 else int(rng.lognormvariate(15.1, 0.45)) // 1000 * 1000
            other = 0
        employment_deduction = min(1_950_000, max(550_000, salary * 3 // 10 + 80_000)) if salary else 0
        total = max(0, salary - employment_deduction) + other
        dependents = rng.choice((0, 0, 0, 1, 2))
        basic, social, for_dependents = 430_000, salary * 15 // 100, 330_000 * dependents
        deductions = basic + social + for_dependents
        taxable = max(0, total - deductions) // 1000 * 1000
        extras = (dependents, basic, social, for_dependents)
        if total <= 450_000:
            return total, salary, deductions, taxable, 0, 0, *extras
        # 所得割 6% and 4% of the taxable income (to 100 yen) plus 均等割 3,000 and 1,000.
        municipal = (taxable * 6 // 100 + 3_000) // 100 * 100
        prefectural = (taxable * 4 // 100 + 1_000) // 100 * 100
        return total, salary, deductions, taxable, municipal, prefectural, *extras


def _former_and_roman(code: str, relationship: str, family: str, kana: str) -> tuple[str, str]:
    """旧氏 and ローマ字 of a demo resident, from a stream of its own (seeded by the resident
    code), so every other value of the demo stays as it was: about a third of the spouses
    have their 旧氏 併記, and one resident in eight has the name in ローマ字."""
    rng = random.Random(f"former:{code}")
    former = ""
    if relationship in ("妻", "夫") and rng.random() < 0.35:
        former = rng.choice([f for f, _ in names.FAMILY_NAMES if f != family])
    roman = romaji.roman_name(kana) if (former or rng.random() < 0.125) else ""
    return former, roman
