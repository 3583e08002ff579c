"""Onboarding (plans, test stages): what crosses the store boundary."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, NamedTuple, Protocol

from bcl_console.domain.municipality import Municipality
from bcl_console.domain.onboarding import Outcome, Stage, Template
from bcl_console.store.api.audit import AuditEntry


@dataclass(frozen=True)
class PlanRow:
    municipality_code: str
    service_start: date
    made_on: date
    offers_seal: bool
    template_version: int
    created_at: str
    created_by: str
    override_reason: str | None
    override_by: str | None
    override_at: str | None


@dataclass(frozen=True)
class StepRow:
    seq: int
    key: str
    phase: str
    title_ja: str
    title_en: str
    starts_on: date
    due_on: date
    stage: Stage | None
    operation_checklist: bool
    fits: bool
    done_on: date | None
    done_by: str | None
    note: str | None
    reminded: str | None


@dataclass(frozen=True)
class StageRun:
    id: int
    municipality_code: str
    stage: Stage
    started_at: str
    finished_at: str | None
    outcome: Outcome
    reason: str
    evidence: dict[str, Any]
    log: str
    run_by: str
    confirmed_by: str | None
    confirmed_at: str | None
    confirm_note: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "stage": self.stage.value, "outcome": self.outcome.value, "reason": self.reason,
            "started_at": self.started_at, "finished_at": self.finished_at, "run_by": self.run_by,
            "confirmed_by": self.confirmed_by, "confirmed_at": self.confirmed_at,
            "confirm_note": self.confirm_note, "evidence": self.evidence,
        }


@dataclass(frozen=True)
class PlanRecord:
    """A municipality's plan as one snapshot: its steps and each stage's newest run."""

    municipality: Municipality
    plan: PlanRow
    steps: list[StepRow]
    latest: dict[Stage, StageRun]


@dataclass(frozen=True)
class PlanRequest:
    """A plan to lay back from a service start (``replace``: a re-plan keeps what was done)."""

    code: str
    service_start: date
    made_on: date
    offers_seal: bool
    replace: bool
    template: Template


class Reminder(NamedTuple):
    at: str
    municipality_code: str
    step_key: str
    kind: str  # due, late
    due_on: str
    title: str


class OnboardingStore(Protocol):
    async def make_plan(self, request: PlanRequest, audit: AuditEntry) -> None:
        """Write a plan and move the municipality's service start with it, audited (the
        action becomes "replan" and the old start is read when a plan existed). NotFound
        for an unknown municipality; Conflict for a second plan without ``replace`` or a
        first plan of a municipality already in service."""
        ...

    async def plan_record(self, code: str) -> PlanRecord | None:
        """None when the municipality has no plan; NotFound when it is not registered."""
        ...

    async def plans_of_all(self) -> list[tuple[Municipality, PlanRow | None, list[StepRow]]]:
        """Every municipality with its plan and steps (no stage runs)."""
        ...

    async def tick_step(self, code: str, step: str, template: Template, done_on: date, note: str | None,
                        audit: AuditEntry) -> None:
        """Mark a checklist step done, audited; NotFound without a plan or for a step not
        in it (an unknown key: the template's error, which lists the known ones)."""
        ...

    async def set_override(self, code: str, reason: str | None, audit: AuditEntry) -> None:
        """Set (or, with None, withdraw) the go-live override, audited with the old reason."""
        ...

    async def mark_reminders(self, today: date, at: str) -> list[tuple[str, str, str]]:
        """Mark steps that became due or late since the last reminder: (code, step, kind)."""
        ...

    async def recent_reminders(self, limit: int = 20) -> list[Reminder]:
        """The newest reminders of steps still not done."""
        ...
