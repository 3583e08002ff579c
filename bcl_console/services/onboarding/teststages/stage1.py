"""Stage 1 (own-server municipalities only): the municipality's issuance server answers
for each test resident."""

from __future__ import annotations

from bcl_console.domain.onboarding import Outcome
from bcl_console.services.issuance.own_server import OwnServerUnavailable
from bcl_console.services.onboarding.teststages.kit import Kit, Run, StageFailed


async def run(kit: Kit, ctx: Run) -> tuple[Outcome, str]:
    m = ctx.municipality
    residents = await kit.test_residents(m)
    answered = []
    for rc in residents:
        try:
            status = await kit.own.resident_status(m, rc)
            content = await kit.own.certificate_content(m, rc, "residence", {"scope": "self"})
        except OwnServerUnavailable as exc:
            raise StageFailed(f"the own server did not answer for resident {rc}: {exc.message}") from None
        if status is None:
            raise StageFailed(f"the own server does not know test resident {rc}")
        answered.append({"resident": rc, "type": content.type.value})
        ctx.log(f"own server answered for {rc}")
    ctx.evidence["answers"] = answered
    return Outcome.PASSED, f"the own server answered correctly for {len(answered)} test resident(s)"
