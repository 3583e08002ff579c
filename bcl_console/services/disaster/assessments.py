"""Damage assessments (被害認定): one household at a time with revisions, or a CSV of
them all or nothing, every problem of a rejected file listed."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bcl_console.domain.damage import DamageClass, class_from_ratio, parse_damage_class
from bcl_console.domain.errors import Conflict, InvalidInput, NotFound
from bcl_console.domain.linkage import Problems
from bcl_console.domain.support import check_ratio
from bcl_console.services.disaster.common import DisasterPart, day, text
from bcl_console.services.platform.actor import Actor
from bcl_console.store.api import Assessment, AssessmentRevision, CheckedAssessment, DisasterRow

MAX_CSV_BYTES = 50 * 1024 * 1024
ASSESSMENT_COLUMNS = ("municipality_code", "household_number", "damage_ratio", "damage_class", "inspector",
                      "assessed_on", "flood_level", "flood_depth_cm")
#: 浸水区分 as an assessment may give it (the form's words, or short forms).
FLOOD_LEVELS = {"床上浸水": "床上浸水", "床上": "床上浸水", "above-floor": "床上浸水",
                "床下浸水": "床下浸水", "床下": "床下浸水", "below-floor": "床下浸水"}


def flood_of(level: str | None, depth_cm: int | None) -> tuple[str | None, int | None]:
    """The 浸水区分 of a flooded dwelling: a level (床上浸水/床下浸水) and an optional depth in
    cm; a depth without a level is refused (the form prints the depth beside the level)."""
    if not level:
        if depth_cm is not None:
            raise InvalidInput("a flood depth needs a flood level (床上浸水 or 床下浸水)", field="flood_level")
        return None, None
    canonical = FLOOD_LEVELS.get(level.strip())
    if canonical is None:
        raise InvalidInput(f"unknown flood level {level!r} (床上浸水 or 床下浸水)", field="flood_level")
    if depth_cm is not None and not 0 <= depth_cm <= 2000:
        raise InvalidInput(f"flood depth {depth_cm} cm is outside 0–2000", field="flood_depth_cm")
    return canonical, depth_cm


class AssessmentsRejected(InvalidInput):
    """A bulk import with problems: nothing was written; every problem is listed."""

    def __init__(self, problems: Problems, path: Path) -> None:
        first = problems.items[0].sentence() if problems.items else ""
        super().__init__(f"{path.name} was rejected with {len(problems)} problem(s), nothing imported: {first}",
                         field="file")
        self.problems = problems


@dataclass(frozen=True)
class AssessmentImport:
    disaster_id: int
    file: str
    imported: int

    def as_dict(self) -> dict[str, Any]:
        return {"disaster_id": self.disaster_id, "file": self.file, "imported": self.imported}


def assessed_class(ratio: int | None, damage_class: str | None) -> DamageClass:
    """The class from a ratio, a class, or both (then they must agree)."""
    if ratio is None and not damage_class:
        raise InvalidInput("give a damage ratio or a damage class", field="ratio")
    by_ratio = class_from_ratio(check_ratio(ratio)) if ratio is not None else None
    by_name = parse_damage_class(damage_class) if damage_class else None
    if by_ratio and by_name and by_ratio is not by_name:
        raise InvalidInput(f"a damage ratio of {ratio}% is {by_ratio.value}, not {by_name.value}", field="class")
    result = by_ratio or by_name
    assert result is not None
    return result


class AssessmentService(DisasterPart):
    def _check(self, d: DisasterRow, code: str, household: str, address: str | None, ratio: int | None,
               damage_class: str | None, inspector: str, assessed_on: str, flood_level: str | None = None,
               flood_depth_cm: int | None = None) -> CheckedAssessment:
        """The rules of one assessment, in the order their problems are reported."""
        d.check_affects(code, must_be_open=True)
        if address is None:
            raise NotFound(f"household {household} is not known in {code}", field="household")
        cls = assessed_class(ratio, damage_class)
        flood, depth = flood_of(flood_level, flood_depth_cm)
        today = self.today()
        when = day(assessed_on, "assessed_on", today) if assessed_on else today
        if when < d.occurred_on or when > today:
            raise InvalidInput(f"assessed_on {when.isoformat()} is not between the disaster and today",
                               field="assessed_on")
        return CheckedAssessment(address, cls.value, ratio, text(inspector, "inspector", 80), when.isoformat(),
                                 flood, depth)

    async def assess(self, disaster_id: int, code: str, household: str, *, ratio: int | None = None,
                     damage_class: str | None = None, inspector: str, assessed_on: str = "",
                     flood_level: str | None = None, flood_depth_cm: int | None = None,
                     actor: Actor) -> Assessment:
        def check(d: DisasterRow, address: str | None) -> CheckedAssessment:
            return self._check(d, code, household, address, ratio, damage_class, inspector, assessed_on,
                               flood_level, flood_depth_cm)

        result = await self._store.disaster.assess(
            disaster_id, code, household, check,
            self._audit(actor, code, "damage-assessment", f"{disaster_id}/{household}"))
        self._changed(disaster_id, "assessment")
        return result

    async def import_assessments(self, disaster_id: int, path: Path, *, actor: Actor) -> AssessmentImport:
        """A CSV of assessments, all or nothing; a rejection lists every problem."""
        rows = await asyncio.to_thread(_read_assessment_csv, path)
        households = list(dict.fromkeys((r["municipality_code"], r["household_number"])
                                        for _, r in rows if not isinstance(r, str)))

        def check(d: DisasterRow, addresses: Mapping[tuple[str, str], str | None]
                  ) -> list[tuple[tuple[str, str], CheckedAssessment]]:
            problems = Problems()
            checked = []
            seen: set[tuple[str, str]] = set()
            for line, row in rows:
                if isinstance(row, str):
                    problems.add(path.name, line, None, row)
                    continue
                key = (row["municipality_code"], row["household_number"])
                if key in seen:
                    problems.add(path.name, line, "household_number", f"household {key[1]} of {key[0]} appears twice")
                    continue
                seen.add(key)
                try:
                    ratio = int(row["damage_ratio"]) if row["damage_ratio"].strip() else None
                except ValueError:
                    problems.add(path.name, line, "damage_ratio", f"{row['damage_ratio']!r} is not a whole number")
                    continue
                try:
                    depth = int(row["flood_depth_cm"]) if row["flood_depth_cm"].strip() else None
                except ValueError:
                    problems.add(path.name, line, "flood_depth_cm",
                                 f"{row['flood_depth_cm']!r} is not a whole number of cm")
                    continue
                try:
                    checked.append((key, self._check(d, key[0], key[1], addresses.get(key), ratio,
                                                     row["damage_class"].strip() or None, row["inspector"],
                                                     row["assessed_on"], row["flood_level"].strip() or None,
                                                     depth)))
                except (InvalidInput, NotFound, Conflict) as exc:
                    problems.add(path.name, line, exc.field or None, exc.message)
            if problems or not rows:
                if not rows:
                    problems.add(path.name, None, None, "the file holds no assessments")
                raise AssessmentsRejected(problems, path)
            return checked

        imported = await self._store.disaster.import_assessments(
            disaster_id, households, check, path.name,
            self._audit(actor, None, "damage-assessment-import", str(disaster_id)))
        self._changed(disaster_id, "assessment")
        return AssessmentImport(disaster_id, path.name, imported)

    async def assessment_history(self, disaster_id: int, code: str, household: str) -> list[AssessmentRevision]:
        return await self._store.disaster.assessment_history(disaster_id, code, household)


def _read_assessment_csv(path: Path) -> list[tuple[int, dict[str, str] | str]]:
    """Rows of an assessments CSV as (line, row or the row's problem); a file-level problem raises."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InvalidInput(f"{path} cannot be read: {exc.strerror}", field="file") from None
    if size > MAX_CSV_BYTES:
        raise InvalidInput(f"{path.name} is larger than {MAX_CSV_BYTES // 1024 // 1024} MB", field="file")
    raw = path.read_bytes()
    try:
        content = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            content = raw.decode("cp932")
        except UnicodeDecodeError:
            raise InvalidInput(f"{path.name} is neither UTF-8 nor cp932", field="file") from None
    reader = csv.reader(io.StringIO(content, newline=""))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise InvalidInput(f"{path.name}:1 is empty (no header row)", field="file") from None
    missing = [c for c in ("municipality_code", "household_number", "inspector") if c not in header]
    unknown = [c for c in header if c not in ASSESSMENT_COLUMNS]
    if missing or unknown or not ({"damage_ratio", "damage_class"} & set(header)):
        why = "; ".join(filter(None, [
            f"missing column(s) {', '.join(missing)}" if missing else "",
            f"unknown column(s) {', '.join(unknown)}" if unknown else "",
            "needs damage_ratio or damage_class" if not ({"damage_ratio", "damage_class"} & set(header)) else ""]))
        raise InvalidInput(f"{path.name}:1 {why}", field="header")
    out: list[tuple[int, dict[str, str] | str]] = []
    for values in reader:
        if not values or all(not v.strip() for v in values):
            continue
        if len(values) != len(header):
            out.append((reader.line_num, f"the row has {len(values)} fields, the header has {len(header)}"))
            continue
        out.append((reader.line_num, {c: "" for c in ASSESSMENT_COLUMNS}
                    | dict(zip(header, (v.strip() for v in values), strict=True))))
    return out
