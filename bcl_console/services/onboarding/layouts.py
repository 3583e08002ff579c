"""Layout versions (法改正対応): the centre stages a new layout of a certificate type,
re-tests it itself — stage 2 in the pseudo-evaluation environment, for every live
municipality that offers the type, evidence kept per municipality — and activates it
only when every re-test passed. Until then every channel prints the active version."""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from typing import Any

from bcl_console.domain.errors import DomainError, InvalidInput
from bcl_console.domain.layouts import Layout, LayoutState, layout, versions_of
from bcl_console.domain.municipality import (
    CertificateType,
    Hosting,
    Municipality,
    State,
    parse_certificate_type,
)
from bcl_console.domain.onboarding import STAGE_CHANNELS, Stage
from bcl_console.services.issuance.relay_values import CertificateOrder
from bcl_console.services.onboarding.teststages.kit import (
    PSEUDO_OPERATOR,
    Kit,
    Run,
    StageFailed,
    ask,
)
from bcl_console.services.platform.actor import Actor
from bcl_console.services.platform.clock import iso_now, today_in_japan
from bcl_console.services.platform.events import LayoutChanged
from bcl_console.store.api import AuditEntry, LayoutRow, RetestRecord

#: The test residents a re-test issues to per municipality (one with 旧氏/ローマ字 first).
RETEST_RESIDENTS = 2


@dataclass(frozen=True)
class LayoutView:
    """One layout version as the CLI and the console show it."""

    layout: Layout
    state: LayoutState
    row: LayoutRow | None
    #: For a staged version: (municipalities whose latest re-test passed, failed, still to re-test).
    passed: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()
    untested: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        r = self.row
        doc: dict[str, Any] = {
            "type": self.layout.type.value, "version": self.layout.version, "title": self.layout.title,
            "change": self.layout.change, "state": self.state.value,
            "staged_at": r.staged_at if r else None, "activated_at": r.activated_at if r else None,
            "retired_at": r.retired_at if r else None,
        }
        if self.state is LayoutState.STAGED:
            doc["retest"] = {"passed": list(self.passed), "failed": list(self.failed),
                             "untested": list(self.untested), "activatable": self.activatable}
        return doc

    @property
    def activatable(self) -> bool:
        return self.state is LayoutState.STAGED and bool(self.passed) and not self.failed and not self.untested


def parse_version(ctype: CertificateType, text: str | int) -> Layout:
    """A layout version of a type, from the command line or a form."""
    try:
        number = int(text)
    except ValueError:
        raise InvalidInput(f"layout version {text!r} is not a whole number", field="version") from None
    return layout(ctype, number)


def offers(m: Municipality, ctype: CertificateType, offers_seal: bool) -> bool:
    """Whether the centre prints ``ctype`` for ``m`` (own-server municipalities make
    their content themselves and re-test their own servers)."""
    if m.hosting is not Hosting.BCL:
        return False
    return ctype is not CertificateType.SEAL or offers_seal


class LayoutService:
    def __init__(self, kit: Kit) -> None:
        self._kit = kit
        self._store = kit.store
        self._clock = kit.clock
        self._bus = kit.bus

    # -- reading -------------------------------------------------------------------------------
    async def views(self) -> list[LayoutView]:
        rows = {(r.type, r.version): r for r in await self._store.layouts.layouts()}
        out = []
        for ctype in CertificateType:
            active = await self._store.layouts.active_version(ctype.value)
            for lay in versions_of(ctype):
                row = rows.get((ctype.value, lay.version))
                if row is not None:
                    state = LayoutState(row.state)
                elif lay.version == active:
                    state = LayoutState.ACTIVE
                else:
                    state = LayoutState.RETIRED if lay.version < active else LayoutState.AVAILABLE
                if state is LayoutState.STAGED:
                    out.append(await self._staged_view(lay, row))
                else:
                    out.append(LayoutView(lay, state, row))
        return out

    async def _staged_view(self, lay: Layout, row: LayoutRow | None) -> LayoutView:
        required = await self.required(lay.type)
        latest: dict[str, str] = {}
        for r in reversed(await self._store.layouts.retests(lay.type.value, lay.version)):
            latest[r.municipality_code] = r.outcome
        return LayoutView(lay, LayoutState.STAGED, row,
                          passed=tuple(c for c in required if latest.get(c) == "passed"),
                          failed=tuple(c for c in required if latest.get(c) == "failed"),
                          untested=tuple(c for c in required if c not in latest))

    async def retests(self, type_text: str | None = None) -> list[RetestRecord]:
        ctype = parse_certificate_type(type_text) if type_text else None
        return await self._store.layouts.retests(ctype.value if ctype else None)

    async def municipalities(self, ctype: CertificateType) -> list[Municipality]:
        """The live municipalities that offer ``ctype``: those a re-test covers."""
        today = today_in_japan(self._clock)
        out = []
        for m, _ in await self._store.municipalities.municipalities_with_fees():
            if m.state(today) is not State.LIVE:
                continue
            plan = await self._store.teststages.plan(m.code)
            if offers(m, ctype, plan.offers_seal if plan is not None else True):
                out.append(m)
        return out

    async def required(self, ctype: CertificateType) -> list[str]:
        return [m.code for m in await self.municipalities(ctype)]

    async def staged(self, ctype: CertificateType) -> int | None:
        for v in await self.views():
            if v.layout.type is ctype and v.state is LayoutState.STAGED:
                return v.layout.version
        return None

    # -- changing ------------------------------------------------------------------------------
    async def stage(self, type_text: str, version: str | int, *, actor: Actor) -> tuple[Layout, bool]:
        ctype = parse_certificate_type(type_text)
        lay = parse_version(ctype, version)
        audit = AuditEntry(iso_now(self._clock), actor.name, actor.interface, None, "layout-stage", ctype.value,
                           None, str(lay.version))
        changed = await self._store.layouts.stage(ctype.value, lay.version, audit)
        if changed:
            self._bus.publish(LayoutChanged(ctype.value, lay.version, "staged"))
        return lay, changed

    async def activate(self, type_text: str, version: str | int, *, actor: Actor) -> Layout:
        ctype = parse_certificate_type(type_text)
        lay = parse_version(ctype, version)
        audit = AuditEntry(iso_now(self._clock), actor.name, actor.interface, None, "layout-activate", ctype.value,
                           None, str(lay.version))
        await self._store.layouts.activate(ctype.value, lay.version, await self.required(ctype), audit)
        self._bus.publish(LayoutChanged(ctype.value, lay.version, "activated"))
        return lay

    async def retest(self, type_text: str, *, actor: Actor) -> list[RetestRecord]:
        """Stage 2 on the staged layout for every live municipality offering the type,
        one after another; each outcome and its evidence recorded whatever happens."""
        ctype = parse_certificate_type(type_text)
        version = await self.staged(ctype)
        if version is None:
            raise InvalidInput(f"no layout version of {ctype.value} is staged (layout stage {ctype.value} VERSION)",
                               field="type")
        targets = await self.municipalities(ctype)
        if not targets:
            raise InvalidInput(f"no live municipality offers {ctype.value}: there is nothing to re-test",
                               field="type")
        out = []
        for m in targets:
            out.append(await self._retest_one(m, ctype, version, actor))
        return out

    async def _retest_one(self, m: Municipality, ctype: CertificateType, version: int, actor: Actor) -> RetestRecord:
        started_at = iso_now(self._clock)
        started = time.perf_counter()
        lines: list[str] = []
        ctx = Run(m, Stage.STAGE2, lines.append)
        try:
            ctx.evidence["issuances"] = await self._issue(ctx, ctype, version)
            outcome = "passed"
            reason = (f"{len(ctx.evidence['issuances'])} {ctype.value} document(s) of layout version {version} "
                      "issued in the pseudo-evaluation environment, recorded with their version and verified")
        except StageFailed as exc:
            outcome, reason = "failed", str(exc)
        except DomainError as exc:
            outcome, reason = "failed", exc.sentence()
        ctx.evidence["seconds"] = round(time.perf_counter() - started, 2)
        ctx.evidence["log"] = lines
        record = RetestRecord(0, ctype.value, version, m.code, started_at, iso_now(self._clock), actor.name,
                              outcome, reason, ctx.evidence)
        audit = AuditEntry(iso_now(self._clock), actor.name, actor.interface, m.code, "layout-retest", ctype.value,
                           None, f"version {version}: {outcome}")
        new_id = await self._store.layouts.record_retest(record, audit)
        self._bus.publish(LayoutChanged(ctype.value, version, "retested"))
        return dataclasses.replace(record, id=new_id)

    async def _issue(self, ctx: Run, ctype: CertificateType, version: int) -> list[dict[str, Any]]:
        """Issue through the relay with the staged version, as stage 2 does; check that each
        document records the version and that its signed fields are those of the version."""
        kit, m = self._kit, ctx.municipality
        residents = await self._store.layouts.resident_with_additions(m.code, 1)
        residents += [r for r in await kit.test_residents(m) if r not in residents]
        residents = residents[:RETEST_RESIDENTS]
        holders = await kit.cards(m, residents, ctx)
        issued = []
        for rc in residents:
            options = await kit.options(m, rc, ctype)
            if options is None:
                continue
            item = await self._flow(ctx, holders[rc], ctype, options, version)
            issued.append(item)
        if not issued:
            raise StageFailed(f"no test resident can be issued a {ctype.value} certificate")
        return issued

    async def _flow(self, ctx: Run, holder: Any, ctype: CertificateType, options: dict[str, Any],
                    version: int) -> dict[str, Any]:
        kit, relay = self._kit, self._kit.relay
        channel = STAGE_CHANNELS[Stage.STAGE2]
        session = await kit.session(PSEUDO_OPERATOR, channel, holder)
        key = f"layout-retest-{ctype.value}-{version}-{time.time_ns()}"
        request = await ask(relay.request(PSEUDO_OPERATOR, CertificateOrder(session.session_id, ctype, 1, options,
                                                                            layout_version=version),
                                          idempotency_key=key))
        paid = await ask(relay.pay(PSEUDO_OPERATOR, request.request_id, request.fee_total))
        pdf = await ask(relay.document(PSEUDO_OPERATOR, request.request_id))
        verdict = await kit.verification.verify_bytes(pdf)
        await ask(relay.complete(PSEUDO_OPERATOR, request.request_id, printed=True))
        record = await self._store.issuances.by_request(request.request_id)
        recorded = record.layout_version if record else None
        # The labels the document's signed front carries (旧氏, 氏名（ローマ字） in version 2).
        labels = [str(f[0]) for page in (record.signed_pages or () if record else ())
                  for f in json.loads(page).get("fields", [])]
        ctx.log(f"{ctype.label} for {session.resident_code} → {paid.verification_code}, layout version "
                f"{recorded}, verification {verdict.status}")
        item = {"resident": session.resident_code, "request_id": request.request_id,
                "verification_code": paid.verification_code, "pages": paid.pages, "layout_version": recorded,
                "verdict": verdict.status, "fields": labels}
        if verdict.status != "genuine":
            raise StageFailed(f"the document of request {request.request_id} did not verify: {verdict.reason}")
        if recorded != version:
            raise StageFailed(f"the document of request {request.request_id} records layout version {recorded}, "
                              f"not {version}")
        return item
