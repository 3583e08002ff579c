"""Onboarding plans (導入スケジュール): made from the schedule template, ticked off step by
step, completed by the test stages, and the go-live gate they feed (with an audited
override). The scheduler's reminders mark steps that became due or late.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date
from importlib import resources
from typing import Any

from bcl_console.domain.errors import InvalidInput, NotFound
from bcl_console.domain.municipality import Municipality, State
from bcl_console.domain.onboarding import (
    PlanStatus,
    Stage,
    StepStatus,
    Template,
    lead_warning,
    parse_template,
    plan_status,
    required_stages,
    step_status,
)
from bcl_console.domain.wareki import format_era
from bcl_console.services.platform.actor import Actor
from bcl_console.services.platform.clock import Clock, iso_now, today_in_japan
from bcl_console.services.platform.events import EventBus, MunicipalityChanged, OnboardingChanged
from bcl_console.store.api import (
    AuditEntry,
    PlanRequest,
    PlanRow,
    Reminder,
    StageRun,
    StepRow,
    Store,
)

MAX_NOTE = 500
TEMPLATE_FILE = "onboarding_schedule.json"


@functools.cache
def schedule_template() -> Template:
    """The schedule template shipped with the package (domain/data/onboarding_schedule.json)."""
    text = resources.files("bcl_console.domain").joinpath("data", TEMPLATE_FILE).read_text("utf-8")
    return parse_template(text, TEMPLATE_FILE)


def both_dates(day: date) -> str:
    """2026-12-01 (令和8年12月1日): dates shown in Western and Japanese-era form."""
    return f"{day.isoformat()} ({format_era(day)})"


@dataclass(frozen=True)
class StepView:
    row: StepRow
    status: StepStatus

    def as_dict(self) -> dict[str, Any]:
        r = self.row
        return {
            "seq": r.seq, "key": r.key, "phase": r.phase, "title_ja": r.title_ja, "title_en": r.title_en,
            "starts_on": r.starts_on.isoformat(), "due_on": r.due_on.isoformat(), "due_on_ja": format_era(r.due_on),
            "stage": r.stage.value if r.stage else None, "status": self.status.value, "fits": r.fits,
            "done_on": r.done_on.isoformat() if r.done_on else None, "done_by": r.done_by, "note": r.note,
        }


@dataclass(frozen=True)
class StageLine:
    stage: Stage
    required: bool
    latest: StageRun | None

    @property
    def outcome(self) -> str:
        if self.latest is not None:
            return self.latest.outcome.value
        return "not-run" if self.required else "not-required"

    def as_dict(self) -> dict[str, Any]:
        return {"stage": self.stage.value, "label_ja": self.stage.label_ja, "required": self.required,
                "outcome": self.outcome, "reason": self.latest.reason if self.latest else "",
                "run_id": self.latest.id if self.latest else None,
                "finished_at": self.latest.finished_at if self.latest else None}


@dataclass(frozen=True)
class PlanView:
    municipality: Municipality
    plan: PlanRow
    steps: list[StepView]
    stages: list[StageLine]
    status: PlanStatus
    today: date

    @property
    def cannot_fit(self) -> list[str]:
        return [s.row.key for s in self.steps if not s.row.fits]

    @property
    def warning(self) -> str | None:
        return lead_warning(self.plan.service_start, self.plan.made_on)

    def as_dict(self) -> dict[str, Any]:
        m, p = self.municipality, self.plan
        return {
            "municipality": {"code": m.code, "name": m.name, "hosting": m.hosting.value,
                             "state": m.state(self.today).value},
            "service_start": p.service_start.isoformat(), "service_start_ja": format_era(p.service_start),
            "made_on": p.made_on.isoformat(), "offers_seal": p.offers_seal, "status": self.status.value,
            "warning": self.warning, "cannot_fit": self.cannot_fit,
            "awaiting_stages": list(m.awaiting_stages),
            "override": None if p.override_reason is None else {
                "reason": p.override_reason, "by": p.override_by, "at": p.override_at},
            "steps": [s.as_dict() for s in self.steps],
            "stages": [s.as_dict() for s in self.stages],
        }


@dataclass(frozen=True)
class ProgressLine:
    """One municipality's onboarding at a glance (the Onboarding screen, ``onboarding list``)."""

    code: str
    name: str
    state: State
    status: str  # live, late, on-track, in-service (no plan), no-plan
    service_start: date | None
    done: int
    total: int
    late: int
    next_step: str | None
    next_due: date | None
    next_title: str | None = None  # the next step as the schedule names it (Japanese)

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name, "state": self.state.value, "status": self.status,
                "service_start": self.service_start.isoformat() if self.service_start else None,
                "steps_done": self.done, "steps_total": self.total, "steps_late": self.late,
                "next_step": self.next_step, "next_step_title": self.next_title,
                "next_due": self.next_due.isoformat() if self.next_due else None}


def _stage_lines(m: Municipality, latest: dict[Stage, StageRun]) -> list[StageLine]:
    required = required_stages(m.hosting)
    return [StageLine(s, s in required, latest.get(s)) for s in Stage]


class OnboardingService:
    def __init__(self, store: Store, clock: Clock, bus: EventBus) -> None:
        self._store = store
        self._clock = clock
        self._bus = bus

    def today(self) -> date:
        return today_in_japan(self._clock)

    @property
    def template(self) -> Template:
        return schedule_template()

    # -- plans -----------------------------------------------------------------------------
    async def plan(self, code: str, service_start: str, *, offers_seal: bool = True, replace: bool = False,
                   actor: Actor) -> PlanView:
        """Lay the schedule back from a service start; the municipality's start moves with it."""
        try:
            start = date.fromisoformat(service_start.strip())
        except ValueError:
            raise InvalidInput(f"service start {service_start!r} is not a date (YYYY-MM-DD)",
                               field="service-start") from None
        request = PlanRequest(code, start, self.today(), offers_seal, replace, self.template)
        await self._store.onboarding.make_plan(request, AuditEntry(
            iso_now(self._clock), actor.name, actor.interface, code, "plan", "service_start", None,
            start.isoformat()))
        self._bus.publish(OnboardingChanged(code, "plan"))
        self._bus.publish(MunicipalityChanged(code, "plan"))
        return await self.show(code)

    async def show(self, code: str) -> PlanView:
        found = await self._store.onboarding.plan_record(code)
        if found is None:
            raise NotFound(f"municipality {code} has no onboarding plan "
                           f"(make one: onboarding plan {code} --service-start YYYY-MM-DD)", field="code")
        return self._view(found.municipality, found.plan, found.steps, found.latest)

    def _view(self, m: Municipality, plan: PlanRow, rows: list[StepRow],
              latest: dict[Stage, StageRun]) -> PlanView:
        today = self.today()
        live = m.state(today) is State.LIVE
        steps = []
        for r in rows:
            done_on = r.done_on
            if r.key == "service-start" and live and done_on is None:
                done_on = plan.service_start
            steps.append(StepView(r, step_status(r.due_on, done_on, today)))
        return PlanView(m, plan, steps, _stage_lines(m, latest),
                        plan_status(live, [s.status for s in steps]), today)

    async def done(self, code: str, step: str, *, note: str | None = None, actor: Actor) -> PlanView:
        """Tick one checklist step (not a stage's step: passing the stage ticks that)."""
        if note is not None and len(note) > MAX_NOTE:
            raise InvalidInput(f"the note is longer than {MAX_NOTE} characters", field="note")
        await self._store.onboarding.tick_step(code, step, self.template, self.today(), note, AuditEntry(
            iso_now(self._clock), actor.name, actor.interface, code, "onboarding-step", step, None,
            f"done{': ' + note if note else ''}"))
        self._bus.publish(OnboardingChanged(code, "step"))
        return await self.show(code)

    async def override(self, code: str, reason: str | None, *, actor: Actor) -> PlanView:
        """Let a municipality go live despite missing stages (reason given), or withdraw that."""
        text = " ".join(reason.split()) if reason is not None else None
        if text is not None and not text:
            raise InvalidInput("an override needs a reason", field="reason")
        if text is not None and len(text) > MAX_NOTE:
            raise InvalidInput(f"the reason is longer than {MAX_NOTE} characters", field="reason")
        await self._store.onboarding.set_override(code, text, AuditEntry(
            iso_now(self._clock), actor.name, actor.interface, code, "go-live-override", "override", None, text))
        self._bus.publish(OnboardingChanged(code, "override"))
        self._bus.publish(MunicipalityChanged(code, "override"))
        return await self.show(code)

    async def progress(self) -> list[ProgressLine]:
        """Every municipality's onboarding: plan status, steps done, late steps, the next step."""
        today = self.today()
        lines = []
        for m, plan, rows in await self._store.onboarding.plans_of_all():
            if plan is None:
                status = "in-service" if m.state(today) is not State.ONBOARDING else "no-plan"
                lines.append(ProgressLine(m.code, m.name, m.state(today), status, m.service_start,
                                          0, 0, 0, None, None))
                continue
            view = self._view(m, plan, rows, {})  # the steps are enough: no stage runs (and evidence) read
            pending = [s for s in view.steps if s.status is not StepStatus.DONE]
            lines.append(ProgressLine(
                m.code, m.name, m.state(today), view.status.value, plan.service_start,
                len(view.steps) - len(pending), len(view.steps),
                sum(1 for s in pending if s.status is StepStatus.LATE),
                pending[0].row.key if pending else None, pending[0].row.due_on if pending else None,
                pending[0].row.title_ja if pending else None,
            ))
        return lines

    # -- reminders ---------------------------------------------------------------------------
    async def remind(self) -> list[tuple[str, str, str]]:
        """Mark steps that became due or late since the last reminder: (code, step, kind)."""
        given = await self._store.onboarding.mark_reminders(self.today(), iso_now(self._clock))
        if given:
            self._bus.publish(OnboardingChanged(None, "reminders"))
        return given

    async def reminders(self, limit: int = 20) -> list[Reminder]:
        """(at, code, step, kind, due_on, title) of the newest reminders of steps still open."""
        return await self._store.onboarding.recent_reminders(limit)
