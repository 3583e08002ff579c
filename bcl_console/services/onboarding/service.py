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

from bcl_console.domain.errors import Conflict, InvalidInput, NotFound
from bcl_console.domain.municipality import Municipality, State
from bcl_console.domain.onboarding import (
    PlanStatus,
    Stage,
    StepStatus,
    Template,
    check_manual_done,
    lead_warning,
    make_plan,
    parse_template,
    plan_status,
    required_stages,
    step_status,
)
from bcl_console.domain.wareki import format_era
from bcl_console.services.platform.actor import Actor
from bcl_console.services.platform.clock import Clock, iso_now, today_in_japan
from bcl_console.services.platform.events import EventBus, MunicipalityChanged, OnboardingChanged
from bcl_console.store import Conn, Database
from bcl_console.store import municipalities as muni_store
from bcl_console.store import onboarding as store
from bcl_console.store.audit import AuditEntry, append_audit
from bcl_console.store.onboarding import PlanRow, StageRun, StepRow

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
    def __init__(self, db: Database, clock: Clock, bus: EventBus) -> None:
        self._db = db
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
        today = self.today()
        template = self.template
        at = iso_now(self._clock)

        def tx(conn: Conn) -> None:
            m = muni_store.get_municipality(conn, code)
            if m is None:
                raise NotFound(f"municipality {code} is not registered", field="code")
            existing = store.get_plan(conn, code)
            if existing is not None and not replace:
                raise Conflict(f"municipality {code} already has a plan (service start "
                               f"{existing.service_start.isoformat()}); use --replace to re-plan", field="code")
            if existing is None and m.service_start is not None and m.service_start <= today:
                raise Conflict(f"municipality {code} is already in service since {m.service_start.isoformat()}",
                               field="code")
            steps = make_plan(template, service_start=start, made_on=today, hosting=m.hosting,
                              offers_seal=offers_seal)
            keep = {s.key: (s.done_on.isoformat(), s.done_by, s.note)
                    for s in store.plan_steps(conn, code) if s.done_on is not None} if existing else {}
            store.replace_plan(conn, code, service_start=start, made_on=today, offers_seal=offers_seal,
                               template_version=template.version, at=at, by=actor.name, steps=steps,
                               keep_done=keep)
            old = m.service_start.isoformat() if m.service_start else None
            muni_store.set_service_start(conn, code, start)
            append_audit(conn, AuditEntry(at, actor.name, actor.interface, code,
                                          "replan" if existing else "plan", "service_start", old,
                                          start.isoformat()))

        await self._db.write(tx)
        self._bus.publish(OnboardingChanged(code, "plan"))
        self._bus.publish(MunicipalityChanged(code, "plan"))
        return await self.show(code)

    async def show(self, code: str) -> PlanView:
        def q(conn: Conn) -> tuple[Municipality, PlanRow, list[StepRow], dict[Stage, StageRun]] | None:
            m = muni_store.get_municipality(conn, code)
            if m is None:
                raise NotFound(f"municipality {code} is not registered", field="code")
            plan = store.get_plan(conn, code)
            if plan is None:
                return None
            return m, plan, store.plan_steps(conn, code), store.latest_runs(conn, code)

        found = await self._db.read(q)
        if found is None:
            raise NotFound(f"municipality {code} has no onboarding plan "
                           f"(make one: onboarding plan {code} --service-start YYYY-MM-DD)", field="code")
        m, plan, rows, latest = found
        return self._view(m, plan, rows, latest)

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
        today = self.today()
        at = iso_now(self._clock)

        def tx(conn: Conn) -> None:
            if store.get_plan(conn, code) is None:
                raise NotFound(f"municipality {code} has no onboarding plan", field="code")
            rows = {r.key: r for r in store.plan_steps(conn, code)}
            if step not in rows:
                self.template.step(step)  # an unknown key: the error lists the known ones
                raise NotFound(f"step {step} is not part of {code}'s plan", field="step")
            check_manual_done(rows[step], rows[step].done_on)
            store.mark_step_done(conn, code, step, today, actor.name, note)
            append_audit(conn, AuditEntry(at, actor.name, actor.interface, code, "onboarding-step", step,
                                          None, f"done{': ' + note if note else ''}"))

        await self._db.write(tx)
        self._bus.publish(OnboardingChanged(code, "step"))
        return await self.show(code)

    async def override(self, code: str, reason: str | None, *, actor: Actor) -> PlanView:
        """Let a municipality go live despite missing stages (reason given), or withdraw that."""
        text = " ".join(reason.split()) if reason is not None else None
        if text is not None and not text:
            raise InvalidInput("an override needs a reason", field="reason")
        if text is not None and len(text) > MAX_NOTE:
            raise InvalidInput(f"the reason is longer than {MAX_NOTE} characters", field="reason")
        at = iso_now(self._clock)

        def tx(conn: Conn) -> None:
            plan = store.get_plan(conn, code)
            if plan is None:
                raise NotFound(f"municipality {code} has no onboarding plan", field="code")
            store.set_override(conn, code, text, actor.name if text else None, at if text else None)
            append_audit(conn, AuditEntry(at, actor.name, actor.interface, code, "go-live-override",
                                          "override", plan.override_reason, text))

        await self._db.write(tx)
        self._bus.publish(OnboardingChanged(code, "override"))
        self._bus.publish(MunicipalityChanged(code, "override"))
        return await self.show(code)

    async def progress(self) -> list[ProgressLine]:
        """Every municipality's onboarding: plan status, steps done, late steps, the next step."""
        def q(conn: Conn) -> list[tuple[Municipality, PlanRow | None, list[StepRow]]]:
            out = []
            for m in muni_store.list_municipalities(conn):
                plan = store.get_plan(conn, m.code)
                out.append((m, plan, store.plan_steps(conn, m.code) if plan else []))
            return out

        today = self.today()
        lines = []
        for m, plan, rows in await self._db.read(q):
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
        today = self.today()
        at = iso_now(self._clock)

        def tx(conn: Conn) -> list[tuple[str, str, str]]:
            given = []
            for plan in store.list_plans(conn):
                for r in store.plan_steps(conn, plan.municipality_code):
                    status = step_status(r.due_on, r.done_on, today)
                    kind = {StepStatus.DUE: "due", StepStatus.LATE: "late"}.get(status)
                    if kind is None or r.reminded == kind or (r.stage is None and r.key == "service-start"):
                        continue
                    store.set_reminded(conn, plan.municipality_code, r.key, kind, r.due_on, at)
                    given.append((plan.municipality_code, r.key, kind))
            return given

        given = await self._db.write(tx)
        if given:
            self._bus.publish(OnboardingChanged(None, "reminders"))
        return given

    async def reminders(self, limit: int = 20) -> list[tuple[str, str, str, str, str, str]]:
        """(at, code, step, kind, due_on, title) of the newest reminders of steps still open."""
        return await self._db.read(store.recent_reminders, limit)
