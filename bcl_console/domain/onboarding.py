"""Joining BCL (導入スケジュール): the onboarding plan and the test stages (試験).

The schedule itself is data (``domain/data/onboarding_schedule.json``), parsed here into
a template; a plan is the template laid back from a service start. Which stages a
municipality must pass, in which order, and whether it may go live are pure rules.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Protocol

from bcl_console.domain.errors import Conflict, InvalidInput, NotFound, parse_choice
from bcl_console.domain.municipality import Hosting

#: About five months from application to service start (domain.md "Joining").
RECOMMENDED_LEAD_DAYS = 150
#: A step is "due" this many days before its date, "late" after it.
DUE_WINDOW_DAYS = 7


class Stage(StrEnum):
    LINKAGE = "linkage"
    STAGE1 = "stage1"
    STAGE2 = "stage2"
    STAGE3 = "stage3"
    OPERATION = "operation"
    REAL_STORE = "real-store"

    @property
    def label_ja(self) -> str:
        return _STAGE_LABELS[self]


_STAGE_LABELS = {
    Stage.LINKAGE: "システム連携試験",
    Stage.STAGE1: "工程1試験",
    Stage.STAGE2: "工程2試験",
    Stage.STAGE3: "工程3試験",
    Stage.OPERATION: "業務運用試験",
    Stage.REAL_STORE: "実店舗試験",
}

#: The order stages run in; each required stage needs every earlier required one passed.
STAGE_ORDER = (Stage.LINKAGE, Stage.STAGE1, Stage.STAGE2, Stage.STAGE3, Stage.OPERATION, Stage.REAL_STORE)

#: Test-stage issuance channels (never billed) and the real-store one (billed).
STAGE_CHANNELS = {Stage.STAGE2: "test-stage-2", Stage.STAGE3: "test-stage-3", Stage.REAL_STORE: "real-store-test"}


class Outcome(StrEnum):
    RUNNING = "running"
    PASSED = "passed"
    FAILED = "failed"
    AWAITING_CONFIRMATION = "awaiting-confirmation"
    NOT_REQUIRED = "not-required"


def parse_stage(text: str) -> Stage:
    return parse_choice(Stage, text, "stage", "stage")


def required_stages(hosting: Hosting) -> tuple[Stage, ...]:
    """BCL-hosted: the linkage test and no stage 1; own-server: stage 1, no linkage."""
    skip = Stage.STAGE1 if hosting is Hosting.BCL else Stage.LINKAGE
    return tuple(s for s in STAGE_ORDER if s is not skip)


def missing_prerequisites(stage: Stage, hosting: Hosting, passed: Iterable[Stage]) -> list[Stage]:
    """The required stages before ``stage`` that have not passed yet."""
    required = required_stages(hosting)
    if stage not in required:
        return []
    done = set(passed)
    return [s for s in required[: required.index(stage)] if s not in done]


def go_live_blockers(hosting: Hosting, has_plan: bool, passed: Iterable[Stage], override: bool) -> list[Stage]:
    """Stages still keeping a municipality with a plan from live (none without a plan)."""
    if not has_plan or override:
        return []
    done = set(passed)
    return [s for s in required_stages(hosting) if s not in done]


# -- the schedule template ----------------------------------------------------------------

@dataclass(frozen=True)
class TemplateStep:
    key: str
    phase: str
    days_before: int
    title_ja: str
    title_en: str
    when: str | None = None
    stage: Stage | None = None
    starts_before: int | None = None
    operation_checklist: bool = False

    def applies(self, hosting: Hosting, offers_seal: bool) -> bool:
        if self.when is None:
            return True
        if self.when == "offers_seal":
            return offers_seal
        if self.when.startswith("hosting:"):
            return self.when.removeprefix("hosting:") == hosting.value
        raise InvalidInput(f"unknown condition {self.when!r} in step {self.key}", field="when")


@dataclass(frozen=True)
class Template:
    name: str
    version: int
    steps: tuple[TemplateStep, ...]

    def step(self, key: str) -> TemplateStep:
        for s in self.steps:
            if s.key == key:
                return s
        allowed = ", ".join(s.key for s in self.steps)
        raise NotFound(f"unknown step {key!r} (one of {allowed})", field="step")


def parse_template(text: str, source: str = "onboarding_schedule.json") -> Template:
    """Read a schedule template; every problem names the step and field."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{source} is not JSON: {exc.msg} at line {exc.lineno}", field="template") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("steps"), list) or not doc["steps"]:
        raise InvalidInput(f"{source} has no list of steps", field="steps")
    steps = []
    seen: set[str] = set()
    last_days = None
    for index, raw in enumerate(doc["steps"], start=1):
        where = f"{source} step {index}"
        if not isinstance(raw, dict):
            raise InvalidInput(f"{where} is not an object", field="steps")
        key = raw.get("key")
        if not isinstance(key, str) or not key or key in seen:
            raise InvalidInput(f"{where}: key is missing or repeated", field="key")
        seen.add(key)
        days = raw.get("days_before")
        if not isinstance(days, int) or days < 0:
            raise InvalidInput(f"{where} ({key}): days_before must be a whole number ≥ 0", field="days_before")
        if last_days is not None and days > last_days:
            raise InvalidInput(f"{where} ({key}): steps must be in order (days_before {days} > {last_days})",
                               field="days_before")
        last_days = days
        for text_field in ("title_ja", "title_en", "phase"):
            if not isinstance(raw.get(text_field), str) or not raw[text_field]:
                raise InvalidInput(f"{where} ({key}): {text_field} is missing", field=text_field)
        stage = parse_stage(raw["stage"]) if raw.get("stage") is not None else None
        steps.append(TemplateStep(
            key=key, phase=raw["phase"], days_before=days, title_ja=raw["title_ja"], title_en=raw["title_en"],
            when=raw.get("when"), stage=stage, starts_before=raw.get("starts_before"),
            operation_checklist=bool(raw.get("operation_checklist", False)),
        ))
    return Template(str(doc.get("name", "onboarding")), int(doc.get("version", 1)), tuple(steps))


# -- a plan ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class PlannedStep:
    seq: int
    key: str
    phase: str
    title_ja: str
    title_en: str
    due_on: date
    starts_on: date
    stage: Stage | None
    operation_checklist: bool
    fits: bool  # False when its date lies before the day the plan was made


def make_plan(template: Template, *, service_start: date, made_on: date, hosting: Hosting,
              offers_seal: bool) -> list[PlannedStep]:
    """Every applicable step with its due date counted back from the service start."""
    if service_start <= made_on:
        raise InvalidInput(
            f"the service start {service_start.isoformat()} is not after today ({made_on.isoformat()})",
            field="service-start",
        )
    out = []
    for seq, s in enumerate((s for s in template.steps if s.applies(hosting, offers_seal)), start=1):
        due = service_start - timedelta(days=s.days_before)
        starts = service_start - timedelta(days=s.starts_before) if s.starts_before else due
        out.append(PlannedStep(seq, s.key, s.phase, s.title_ja, s.title_en, due, min(starts, due),
                               s.stage, s.operation_checklist, due >= made_on))
    return out


def lead_warning(service_start: date, made_on: date) -> str | None:
    days = (service_start - made_on).days
    if days < RECOMMENDED_LEAD_DAYS:
        return (f"the service start is {days} days away; the schedule assumes about five months "
                f"({RECOMMENDED_LEAD_DAYS} days)")
    return None


class StepStatus(StrEnum):
    DONE = "done"
    LATE = "late"
    DUE = "due"
    UPCOMING = "upcoming"


def step_status(due_on: date, done_on: date | None, today: date) -> StepStatus:
    if done_on is not None:
        return StepStatus.DONE
    if due_on < today:
        return StepStatus.LATE
    if (due_on - today).days <= DUE_WINDOW_DAYS:
        return StepStatus.DUE
    return StepStatus.UPCOMING


class PlanStatus(StrEnum):
    LIVE = "live"
    LATE = "late"
    ON_TRACK = "on-track"


def plan_status(live: bool, statuses: Iterable[StepStatus]) -> PlanStatus:
    if live:
        return PlanStatus.LIVE
    return PlanStatus.LATE if StepStatus.LATE in statuses else PlanStatus.ON_TRACK


class _HasStage(Protocol):
    @property
    def key(self) -> str: ...

    @property
    def stage(self) -> Stage | None: ...


def check_manual_done(step: _HasStage, done_on: date | None) -> None:
    """Steps a test stage or the go-live completes cannot be ticked by hand."""
    if step.stage is not None:
        raise Conflict(f"step {step.key} is completed by passing the {step.stage.value} test stage "
                       f"(teststage run CODE {step.stage.value})", field="step")
    if step.key == "service-start":
        raise Conflict("the service-start step completes itself when the municipality goes live", field="step")
    if done_on is not None:
        raise Conflict(f"step {step.key} was already done on {done_on.isoformat()}", field="step")


def months_between(first: date, last: date) -> list[date]:
    """First days of every month from ``first``'s month through ``last``'s (for timelines)."""
    out = []
    index = first.year * 12 + first.month - 1
    end = last.year * 12 + last.month - 1
    while index <= end:
        out.append(date(index // 12, index % 12 + 1, 1))
        index += 1
    return out
