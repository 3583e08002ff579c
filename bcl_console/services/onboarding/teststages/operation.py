"""The business operation test: a failure drill. While it runs the relay must refuse the
municipality's kiosks as closed (503 at the kiosk API); after it, serve them again; and
the municipality's procedure checklist must be ticked."""

from __future__ import annotations

from typing import Any

from bcl_console.domain.errors import Unavailable
from bcl_console.domain.onboarding import STAGE_CHANNELS, Outcome, Stage
from bcl_console.services.issuance.pki import CardHolder
from bcl_console.services.onboarding.teststages.kit import (
    PSEUDO_OPERATOR,
    Kit,
    RefusedByRelay,
    Run,
    StageFailed,
)
from bcl_console.services.platform.clock import iso_now
from bcl_console.services.platform.events import MunicipalityChanged


async def run(kit: Kit, ctx: Run) -> tuple[Outcome, str]:
    m = ctx.municipality
    holder = await kit.first_holder(ctx)
    channel = STAGE_CHANNELS[Stage.STAGE2]
    await kit.store.teststages.start_drill(m.code, iso_now(kit.clock))
    kit.bus.publish(MunicipalityChanged(m.code, "drill"))
    ctx.log("failure drill started: the centre is in a failure state for this municipality")
    try:
        during = await _try_session(kit, holder, channel)
    finally:
        await kit.store.teststages.end_drill(m.code)
        kit.bus.publish(MunicipalityChanged(m.code, "drill"))
    ctx.log(f"during the drill a kiosk got {during['status']} {during.get('code', '')}")
    after = await _try_session(kit, holder, channel)
    ctx.log(f"after the drill a kiosk got {after['status']}")
    ctx.evidence.update({"during_drill": during, "after_drill": after})
    if during["status"] != 503:
        raise StageFailed(f"during the drill the relay answered {during['status']}, not 503")
    if after["status"] != 201:
        raise StageFailed(f"after the drill the service did not return ({after['status']} {after.get('code')})")
    steps = await kit.store.teststages.plan_steps(m.code)
    checklist = [s for s in steps if s.operation_checklist]
    open_items = [f"{s.title_ja} ({s.key})" for s in checklist if s.done_on is None]
    ctx.evidence["procedure_checklist"] = {s.key: s.done_on.isoformat() if s.done_on else None
                                           for s in checklist}
    if open_items:
        raise StageFailed(f"the municipality's procedure checklist is not confirmed: {', '.join(open_items)}; "
                          f"tick them on the Onboarding screen (n, select {m.code}, t on each step) or with "
                          f"`bcl-console onboarding done {m.code} STEP`")
    return Outcome.PASSED, "kiosks got a clear 503 during the drill, service returned after it, checklist confirmed"


async def _try_session(kit: Kit, holder: CardHolder, channel: str) -> dict[str, Any]:
    """What a kiosk gets when it opens a session: 201, or the refusal — 503 when the
    service is closed (the HTTP statuses of other refusals are the HTTP layer's; the
    stage fails on any of them)."""
    try:
        await kit.session(PSEUDO_OPERATOR, channel, holder)
    except RefusedByRelay as refused:
        exc = refused.error
        return {"status": 503 if isinstance(exc, Unavailable) else "refused", "code": exc.code,
                "message": exc.message}
    return {"status": 201}
