"""Rules of a linkage batch (連携用データ): the manifest, and every field of every row.

Pure functions: a row comes in as a dict of strings read from CSV, and goes out as a
tuple in the store's column order, or as problems naming the column and the reason.
Written to be fast: half a million residents pass through here in a few seconds.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from bcl_console.domain.codes import validate_municipality_code
from bcl_console.domain.errors import InvalidInput
from bcl_console.domain.kana import is_katakana, normalise_kana
from bcl_console.domain.wareki import parse_date

FORMAT = "bcl-linkage/1"
FILES = ("residents.csv", "seals.csv", "taxes.csv")
ENCODINGS = {"utf-8": "utf-8-sig", "cp932": "cp932"}
MAX_TEXT = 200
MAX_PROBLEMS = 200

RESIDENT_REQUIRED = (
    "resident_code", "household_number", "name", "name_kana", "birth_date", "sex",
    "relationship", "address", "resident_since", "status",
)
RESIDENT_OPTIONAL = (
    "previous_address", "domicile", "head_of_family", "status_date",
    "needs_evacuation_help", "restricted",
    # An extension of contract §3 that keeps the old form valid: 旧氏 and the name in
    # ローマ字, which the 住民票 of layout version 2 prints when they are sent.
    "former_surname", "name_roman",
)
MAX_FORMER_SURNAME = 20
MAX_NAME_ROMAN = 60
_ROMAN = re.compile(r"^[A-Za-z]+(?:[ '\-][A-Za-z]+)*$")
SEAL_COLUMNS = ("resident_code", "seal_number", "registered_on", "status", "impression")
TAX_COLUMNS = (
    "resident_code", "fiscal_year", "total_income", "salary_income", "deductions",
    "taxable_income", "municipal_tax", "prefectural_tax",
)
#: Optional columns of taxes.csv (an extension of contract §3 that keeps the old form
#: valid): 扶養人数 and parts of 所得控除, which the 課税証明書 prints when they are sent.
TAX_OPTIONAL = ("dependents", "basic_deduction", "social_insurance_deduction", "dependent_deduction")
CHANGES = ("A", "U", "D")


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    column: str | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "column": self.column, "reason": self.reason}

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Problem:
        return cls(str(doc.get("file") or ""), doc.get("line"), doc.get("column"), str(doc.get("reason") or ""))

    def sentence(self) -> str:
        """The one way a problem is written for a person: ``file:line [column]: reason``
        (the line and the column only when known)."""
        where = ":".join(str(x) for x in (self.file, self.line) if x not in (None, ""))
        column = f" [{self.column}]" if self.column else ""
        return f"{where}{column}: {self.reason}"


@dataclass
class Problems:
    """Every problem of a batch, capped so that a broken million-row file stays readable."""

    items: list[Problem] = field(default_factory=list)
    omitted: int = 0

    def add(self, file: str, line: int | None, column: str | None, reason: str) -> None:
        if len(self.items) < MAX_PROBLEMS:
            self.items.append(Problem(file, line, column, reason))
        else:
            self.omitted += 1

    def extend(self, items: list[Problem], omitted: int = 0) -> None:
        """Problems found elsewhere (a reading process), with the count it left off."""
        for p in items:
            self.add(p.file, p.line, p.column, p.reason)
        self.omitted += omitted

    def __bool__(self) -> bool:
        return bool(self.items) or self.omitted > 0

    def __len__(self) -> int:
        return len(self.items) + self.omitted


@dataclass(frozen=True)
class FileEntry:
    name: str
    sha256: str
    records: int


@dataclass(frozen=True)
class Manifest:
    municipality_code: str
    sequence: int
    kind: str  # full | delta
    created_at: str
    encoding: str  # utf-8 | cp932
    files: dict[str, FileEntry]

    @property
    def codec(self) -> str:
        return ENCODINGS[self.encoding]

    def checksums(self) -> dict[str, str]:
        return {name: entry.sha256 for name, entry in sorted(self.files.items())}


_SHA = re.compile(r"^[0-9a-f]{64}$")
#: No text of a manifest holds a control character (a NUL no database keeps, a line break).
_MANIFEST_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def parse_manifest(raw: Any, problems: Problems, file: str = "manifest.json") -> Manifest | None:
    """Check a decoded manifest.json; every problem is added, None when unusable."""
    if not isinstance(raw, dict):
        problems.add(file, None, None, "the manifest is not a JSON object")
        return None
    before = len(problems)

    def need(key: str, kind: type | tuple[type, ...]) -> Any:
        value = raw.get(key)
        if value is None:
            problems.add(file, None, key, f"{key} is missing")
        elif not isinstance(value, kind) or isinstance(value, bool):
            problems.add(file, None, key, f"{key} has the wrong type")
            return None
        elif isinstance(value, str) and _MANIFEST_CONTROL.search(value):
            problems.add(file, None, key, f"{key} holds a control character")
            return None
        return value

    fmt = need("format", str)
    if fmt is not None and fmt != FORMAT:
        problems.add(file, None, "format", f"format {fmt!r} is not {FORMAT!r}")
    code = need("municipality_code", str)
    if code is not None:
        try:
            validate_municipality_code(code)
        except InvalidInput as exc:
            problems.add(file, None, "municipality_code", exc.message)
    sequence = need("sequence", int)
    if sequence is not None and sequence < 1:
        problems.add(file, None, "sequence", "sequence must be 1 or more")
    kind = need("kind", str)
    if kind is not None and kind not in ("full", "delta"):
        problems.add(file, None, "kind", f"kind {kind!r} is not full or delta")
    created = need("created_at", str)
    if created is not None:
        try:
            stamp = datetime.fromisoformat(created)
            if stamp.tzinfo is None:
                problems.add(file, None, "created_at", "created_at needs a time zone")
        except ValueError:
            problems.add(file, None, "created_at", f"created_at {created!r} is not ISO 8601")
    encoding = raw.get("encoding", "utf-8")
    if encoding not in ENCODINGS:
        problems.add(file, None, "encoding", f"encoding {encoding!r} is not utf-8 or cp932")
    files_raw = need("files", dict)
    files: dict[str, FileEntry] = {}
    if files_raw is not None:
        for name, entry in files_raw.items():
            if name not in FILES:
                problems.add(file, None, "files", f"unknown file {name!r} (expected {', '.join(FILES)})")
                continue
            if not isinstance(entry, dict):
                problems.add(file, None, "files", f"the entry of {name} is not an object")
                continue
            sha = entry.get("sha256")
            records = entry.get("records")
            if not isinstance(sha, str) or not _SHA.match(sha.lower()):
                problems.add(file, None, "files", f"{name}: sha256 is not 64 hex digits")
                continue
            if not isinstance(records, int) or isinstance(records, bool) or records < 0:
                problems.add(file, None, "files", f"{name}: records is not a count")
                continue
            files[name] = FileEntry(name, sha.lower(), records)
        if kind == "full" and "residents.csv" not in files_raw:
            problems.add(file, None, "files", "a full batch must contain residents.csv")
        if not files_raw:
            problems.add(file, None, "files", "the batch lists no files")
    if len(problems) > before:
        return None
    return Manifest(code, sequence, kind, created, encoding, files)


# ------------------------------------------------------------------------- fields
class FieldError(Exception):
    """One field's problem; the caller adds file, line and column."""


def reason(column: str, exc: FieldError) -> str:
    """A field error as a sentence: 'name is empty', or the message when it names the value."""
    message = str(exc)
    return f"{column} {message}" if message.startswith(("is ", "holds ")) else message


_DIGITS11 = re.compile(r"^\d{11}$")
_YEN = re.compile(r"^\d{1,15}$")


def _nfkc(value: str) -> str:
    return unicodedata.normalize("NFKC", value).strip() if not value.isascii() else value.strip()


def code11(value: str) -> str:
    if len(value) == 11 and value.isascii() and value.isdigit():
        return value
    v = _nfkc(value)
    if not _DIGITS11.match(v):
        raise FieldError(f"{value!r} is not an 11-digit resident code")
    return v


def text(value: str, *, required: bool = True) -> str:
    v = value.strip()
    if required and not v:
        raise FieldError("is empty")
    if len(v) > MAX_TEXT:
        raise FieldError(f"is longer than {MAX_TEXT} characters")
    if "\n" in v or "\r" in v or "\x00" in v:
        raise FieldError("holds a control character")
    return v


def person_name(value: str) -> str:
    v = text(value).replace("\u3000", " ")
    parts = v.split(" ")
    if len(parts) != 2 or not parts[0] or not parts[1]:
        raise FieldError(f"{value!r} is not family and given name separated by one space")
    return v


def kana(value: str) -> str:
    v = normalise_kana(text(value))
    if not is_katakana(v):
        raise FieldError(f"{value!r} is not katakana")
    return v


def a_date(value: str, today: date) -> str:
    v = value.strip()
    if len(v) == 10 and v[4] == "-" and v[7] == "-" and v.isascii():
        try:
            parsed = date.fromisoformat(v)
        except ValueError:
            raise FieldError(f"{value!r} is not a real date") from None
        if parsed > today:
            raise FieldError(f"{value!r} is in the future")
        if parsed.year < 1868:
            raise FieldError(f"{value!r} is before the Meiji era, the earliest accepted")
        return v
    try:
        return parse_date(v, today=today).isoformat()
    except InvalidInput as exc:
        raise FieldError(exc.message) from None


def flag(value: str) -> int:
    v = value.strip()
    if v in ("", "0"):
        return 0
    if v == "1":
        return 1
    raise FieldError(f"{value!r} is not 0 or 1")


def yen(value: str) -> int:
    if value.isascii() and value.isdigit() and len(value) <= 15:
        return int(value)
    v = _nfkc(value).replace(",", "")
    if not _YEN.match(v):
        raise FieldError(f"{value!r} is not a whole number of yen ≥ 0")
    return int(v)


_SEX = {"1": 1, "2": 2, "9": 9}
_STATUS = ("active", "moved-out", "deceased")


def _slow(fn: Any, column: str, value: str, errors: list[tuple[str, str]], *args: Any) -> Any:
    try:
        return fn(value, *args)
    except FieldError as exc:
        errors.append((column, reason(column, exc)))
        return None


def _iso_ok(v: str, today_iso: str) -> bool:
    """The common case, checked cheaply: an ISO date of the past (the rest go the slow way)."""
    return (len(v) == 10 and v[4] == "-" and v[7] == "-" and v.isascii() and "1868" < v <= today_iso
            and v[5:7] <= "12" and v[8:10] <= "28" and v[5:7] != "00" and v[8:10] != "00")


def columns(file: str, delta: bool) -> tuple[str, ...]:
    """A file's columns in the order the row validators read them (any order in the CSV)."""
    base = {"residents.csv": (*RESIDENT_REQUIRED, *RESIDENT_OPTIONAL), "seals.csv": SEAL_COLUMNS,
            "taxes.csv": (*TAX_COLUMNS, *TAX_OPTIONAL)}[file]
    return (*base, "change") if delta else base


def resident_row(row: Sequence[str], today: date, errors: list[tuple[str, str]]) -> tuple[Any, ...] | None:
    """Validate one residents.csv row (values in ``columns("residents.csv")`` order; an
    absent optional column is ""); the tuple is in RESIDENT_FIELDS order.

    Each field has a fast path for the common, valid form and falls back to the full
    rule (with its error message) otherwise: half a million rows pass in seconds.
    """
    (code, household, name, reading, born, sex_text, relationship, address, since, status,
     previous, domicile, head, status_date_text, help_text, restricted_text, former, roman) = row[:18]
    today_iso = today.isoformat()
    if not (len(code) == 11 and code.isascii() and code.isdigit()):
        code = _slow(code11, "resident_code", code, errors)
    household = household.strip()
    if not household or len(household) > MAX_TEXT:
        household = _slow(text, "household_number", household, errors)
    name = _slow(person_name, "name", name, errors)
    if not (reading.isascii() is False and _KATAKANA_LINE.match(reading)):
        reading = _slow(kana, "name_kana", reading, errors)
    born = born.strip()
    if not _iso_ok(born, today_iso):
        born = _slow(a_date, "birth_date", born, errors, today)
    sex = _SEX.get(sex_text.strip())
    if sex is None:
        errors.append(("sex", f"{sex_text!r} is not a sex code (1, 2 or 9)"))
    relationship = _slow(text, "relationship", relationship, errors)
    address = _slow(text, "address", address, errors)
    since = since.strip()
    if not _iso_ok(since, today_iso):
        since = _slow(a_date, "resident_since", since, errors, today)
    previous = previous.strip()
    domicile = domicile.strip()
    head = head.strip()
    for column, value in (("previous_address", previous), ("domicile", domicile), ("head_of_family", head)):
        if len(value) > MAX_TEXT:
            errors.append((column, f"{column} is longer than {MAX_TEXT} characters"))
    status = status.strip()
    if status not in _STATUS:
        errors.append(("status", f"{status!r} is not active, moved-out or deceased"))
    status_date: str | None = status_date_text.strip() or None
    if status_date is not None:
        if not _iso_ok(status_date, today_iso):
            status_date = _slow(a_date, "status_date", status_date, errors, today)
    elif status in ("moved-out", "deceased"):
        errors.append(("status_date", f"status_date is required when status is {status}"))
    help_flag = _FLAGS.get(help_text.strip())
    if help_flag is None:
        help_flag = _slow(flag, "needs_evacuation_help", help_text, errors)
    restricted = _FLAGS.get(restricted_text.strip())
    if restricted is None:
        restricted = _slow(flag, "restricted", restricted_text, errors)
    former = former_surname(former, errors) if former else ""
    roman = roman_name(roman, errors) if roman else ""
    if errors:
        return None
    if since < born:
        errors.append(("resident_since", "resident_since is before birth_date"))
        return None
    return (code, household, name, reading, born, sex, relationship, address, since, previous,
            domicile, head, status, status_date, help_flag, restricted, former, roman)


def former_surname(value: str, errors: list[tuple[str, str]]) -> str:
    """旧氏: one surname (no space inside), at most MAX_FORMER_SURNAME characters; may be empty."""
    v = value.strip().replace("\u3000", " ")
    if not v:
        return ""
    if " " in v:
        errors.append(("former_surname", f"former_surname {value!r} is one surname (no space inside)"))
    elif len(v) > MAX_FORMER_SURNAME:
        errors.append(("former_surname", f"former_surname is longer than {MAX_FORMER_SURNAME} characters"))
    return v


def roman_name(value: str, errors: list[tuple[str, str]]) -> str:
    """The name in ローマ字: Latin letters (full width is accepted and normalised), words
    separated by one space, hyphen or apostrophe, e.g. ``YAMADA Hanako``; may be empty."""
    v = " ".join(_nfkc(value).split())
    if not v:
        return ""
    if len(v) > MAX_NAME_ROMAN:
        errors.append(("name_roman", f"name_roman is longer than {MAX_NAME_ROMAN} characters"))
    elif not _ROMAN.match(v):
        errors.append(("name_roman", f"name_roman {value!r} is not a name in Latin letters (e.g. YAMADA Hanako)"))
    return v


_FLAGS = {"": 0, "0": 0, "1": 1}
# Full-width katakana, the long-vowel mark and one space between family and given name.
_KATAKANA_LINE = re.compile(r"^[\u30a1-\u30fa\u30fc\u30fd\u30fe・]+ [\u30a1-\u30fa\u30fc\u30fd\u30fe・]+$")


def seal_row(row: Sequence[str], today: date, errors: list[tuple[str, str]]) -> tuple[Any, ...] | None:
    """(resident_code, seal_number, registered_on, status, impression path), from values in
    SEAL_COLUMNS order."""
    values: list[Any] = []
    for column, fn, args, value in (
        ("resident_code", code11, (), row[0]),
        ("seal_number", text, (), row[1]),
        ("registered_on", a_date, (today,), row[2]),
    ):
        try:
            values.append(fn(value, *args))
        except FieldError as exc:
            errors.append((column, reason(column, exc)))
    status = row[3].strip()
    if status not in ("active", "abolished"):
        errors.append(("status", f"{status!r} is not active or abolished"))
    values.append(status)
    impression = row[4].strip().replace("\\", "/")
    if not impression:
        errors.append(("impression", "impression is empty"))
    values.append(impression)
    return None if errors else tuple(values)


def tax_row(row: Sequence[str], today: date, errors: list[tuple[str, str]]) -> tuple[Any, ...] | None:
    """(resident_code, fiscal_year, total, salary, deductions, taxable, municipal, prefectural,
    *optional), from values in TAX_COLUMNS + TAX_OPTIONAL order (an absent or empty
    optional value is None)."""
    code, fy_raw = row[0], row[1]
    if not (len(code) == 11 and code.isascii() and code.isdigit()):
        code = _slow(code11, "resident_code", code, errors)
    fy_text = fy_raw if fy_raw.isascii() else _nfkc(fy_raw)
    fy_text = fy_text.strip()
    fiscal_year = int(fy_text) if fy_text.isdigit() and len(fy_text) <= 6 else 0
    if not 1989 <= fiscal_year <= today.year + 1:
        errors.append(("fiscal_year", f"{fy_raw!r} is not a fiscal year (1989–{today.year + 1})"))
    amounts = []
    for column, raw in zip(_YEN_COLUMNS, row[2:8], strict=True):
        if raw.isascii() and raw.isdigit() and len(raw) <= 15:
            amounts.append(int(raw))
            continue
        try:
            amounts.append(yen(raw))
        except FieldError as exc:
            errors.append((column, reason(column, exc)))
    extras: list[int | None] = []
    for column, raw in zip(TAX_OPTIONAL, row[8:12], strict=True):
        if not raw.strip():
            extras.append(None)
        elif raw.isascii() and raw.isdigit() and len(raw) <= 15:
            extras.append(int(raw))
        elif column == "dependents":
            count = _nfkc(raw).strip()
            if count.isdigit() and len(count) <= 3:
                extras.append(int(count))
            else:
                errors.append((column, f"{raw!r} is not a whole number of people ≥ 0"))
        else:
            try:
                extras.append(yen(raw))
            except FieldError as exc:
                errors.append((column, reason(column, exc)))
    return None if errors else (code, fiscal_year, *amounts, *extras)


_YEN_COLUMNS = TAX_COLUMNS[2:]


def check_columns(file: str, header: list[str], delta: bool, problems: Problems) -> bool:
    """The header row: every required column once, nothing unknown."""
    required: tuple[str, ...]
    optional: tuple[str, ...]
    if file == "residents.csv":
        required, optional = RESIDENT_REQUIRED, RESIDENT_OPTIONAL
    elif file == "seals.csv":
        required, optional = SEAL_COLUMNS, ()
    else:
        required, optional = TAX_COLUMNS, TAX_OPTIONAL
    if delta:
        required = (*required, "change")
    ok = True
    seen: set[str] = set()
    for name in header:
        if name in seen:
            problems.add(file, 1, name, f"column {name!r} appears twice")
            ok = False
        seen.add(name)
        if name not in required and name not in optional:
            problems.add(file, 1, name, f"unknown column {name!r}")
            ok = False
    for name in required:
        if name not in seen:
            problems.add(file, 1, name, f"required column {name!r} is missing")
            ok = False
    return ok
