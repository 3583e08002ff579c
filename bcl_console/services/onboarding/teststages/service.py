"""Running a test stage: prerequisites, one run at a time per municipality, the stage
from ``STAGES``, and its outcome, evidence and log recorded whatever happens."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from bcl_console.domain.errors import Conflict, DomainError, InvalidInput, NotFound
from bcl_console.domain.fiscal import tokyo
from bcl_console.domain.municipality import Hosting
from bcl_console.domain.onboarding import (
    Outcome,
    Stage,
    missing_prerequisites,
    parse_stage,
    required_stages,
)
from bcl_console.services.issuance.own_server import OwnServerClient
from bcl_console.services.issuance.pki import PkiService
from bcl_console.services.issuance.relay import RelayService
from bcl_console.services.issuance.service import IssuanceService
from bcl_console.services.issuance.verification import VerificationService
from bcl_console.services.onboarding.teststages.kit import Kit, LogFn, Run, StageFailed
from bcl_console.services.onboarding.teststages.registry import STAGES
from bcl_console.services.platform.actor import Actor
from bcl_console.services.platform.clock import Clock, iso_now, today_in_japan
from bcl_console.services.platform.events import (
    EventBus,
    MunicipalityChanged,
    OnboardingChanged,
    StageFinished,
    StageProgress,
)
from bcl_console.services.platform.keys import KeyStore
from bcl_console.store.api import AuditEntry, Store

if TYPE_CHECKING:  # the onboarding area's row, passed through as the store returns it
    from bcl_console.store.api import StageRun


class TestStageService:
    def __init__(self, store: Store, clock: Clock, bus: EventBus, keys: KeyStore, data_dir: Path, tmp_dir: Path,
                 pki: PkiService, issuance: IssuanceService, relay: RelayService,
                 verification: VerificationService, own_server: OwnServerClient) -> None:
        self._store = store
        self._clock = clock
        self._bus = bus
        self._kit = Kit(store, clock, bus, keys, data_dir, tmp_dir, pki, issuance, relay, verification, own_server)
        self._running: set[str] = set()

    # -- reading -------------------------------------------------------------------------------
    async def runs(self, code: str) -> list[StageRun]:
        if not await self._store.teststages.municipality_exists(code):
            raise NotFound(f"municipality {code} is not registered", field="code")
        return await self._store.teststages.runs(code)

    async def get_run(self, run_id: int) -> StageRun:
        run = await self._store.teststages.run(run_id)
        if run is None:
            raise NotFound(f"there is no stage run {run_id}", field="run")
        return run

    async def operators(self) -> list[str]:
        return await self._kit.operators()

    # -- running -------------------------------------------------------------------------------
    async def run(self, code: str, stage_text: str, *, actor: Actor, operator: str | None = None,
                  log: LogFn | None = None) -> StageRun:
        """Run one stage now; its outcome, evidence and log are recorded whatever happens."""
        stage = parse_stage(stage_text)
        stages = self._store.teststages
        m = await stages.municipality(code)
        if m is None:
            raise NotFound(f"municipality {code} is not registered", field="code")
        plan = await stages.plan(code)
        if plan is None:
            raise NotFound(f"municipality {code} has no onboarding plan "
                           f"(make one: onboarding plan {code} --service-start YYYY-MM-DD)", field="code")
        missing = missing_prerequisites(stage, m.hosting, await stages.passed_stages(code))
        if missing:
            raise Conflict(f"stage {stage.value} needs {', '.join(s.value for s in missing)} to pass first",
                           field="stage")
        if code in self._running:
            raise Conflict(f"a test stage of {code} is already running", field="code")
        self._running.add(code)
        lines: list[str] = []

        def say(text: str) -> None:
            stamp = tokyo(self._clock.now()).strftime("%H:%M:%S")
            lines.append(f"{stamp} {text}")
            self._bus.publish(StageProgress(code, stage.value, text))
            if log is not None:
                log(text)

        try:
            run_id = await stages.start_run(code, stage, iso_now(self._clock), actor.name)
            ctx = Run(m, stage, say, offers_seal=plan.offers_seal, operator=operator)
            started = time.perf_counter()
            say(f"{stage.label_ja} ({stage.value}) for {m.name} {m.code} started by {actor.name}")
            try:
                outcome, reason = await self._dispatch(ctx)
            except StageFailed as exc:
                outcome, reason = Outcome.FAILED, str(exc)
            except DomainError as exc:
                outcome, reason = Outcome.FAILED, exc.sentence()
            ctx.evidence["seconds"] = round(time.perf_counter() - started, 2)
            say(f"{outcome.value}: {reason}")
            audit = AuditEntry(iso_now(self._clock), actor.name, actor.interface, code, "test-stage", stage.value,
                               None, f"run {run_id}: {outcome.value}")
            await stages.finish_run(run_id, code, stage, outcome, reason, ctx.evidence, "\n".join(lines),
                                    today_in_japan(self._clock), audit)
        finally:
            self._running.discard(code)
        self._bus.publish(StageFinished(code, stage.value, outcome.value))
        self._bus.publish(OnboardingChanged(code, "stage"))
        if outcome in (Outcome.PASSED, Outcome.NOT_REQUIRED):
            self._bus.publish(MunicipalityChanged(code, "stage"))
        return await self.get_run(run_id)

    async def _dispatch(self, ctx: Run) -> tuple[Outcome, str]:
        stage, m = ctx.stage, ctx.municipality
        if stage is Stage.STAGE1 and m.hosting is Hosting.BCL:
            return Outcome.NOT_REQUIRED, "stage 1 (pre-evaluation tool) is not required for BCL-hosted municipalities"
        if stage not in required_stages(m.hosting):
            return Outcome.NOT_REQUIRED, f"{stage.value} is not required for {m.hosting.value} hosting"
        return await STAGES[stage](self._kit, ctx)

    async def confirm(self, code: str, stage_text: str, *, actor: Actor, note: str | None = None) -> StageRun:
        """The municipality has checked the stage-3 documents: the stage passes."""
        stage = parse_stage(stage_text)
        if note is not None and len(note) > 500:
            raise InvalidInput("the note is longer than 500 characters", field="note")
        audit = AuditEntry(iso_now(self._clock), actor.name, actor.interface, code, "test-stage", stage.value,
                           Outcome.AWAITING_CONFIRMATION.value, None)
        run_id = await self._store.teststages.confirm(code, stage, note, today_in_japan(self._clock), audit)
        self._bus.publish(StageFinished(code, stage.value, Outcome.PASSED.value))
        self._bus.publish(OnboardingChanged(code, "stage"))
        self._bus.publish(MunicipalityChanged(code, "stage"))
        return await self.get_run(run_id)
