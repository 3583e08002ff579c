"""The stages that issue through the relay: stage 2 (every type, in the pseudo-evaluation
environment), stage 3 (each registered operator's terminal, confirmed by the municipality)
and the real-store test (a paid issuance, settled like production)."""

from __future__ import annotations

from bcl_console.domain.municipality import CertificateType
from bcl_console.domain.onboarding import STAGE_CHANNELS, Outcome, Stage
from bcl_console.services.onboarding.teststages.kit import PSEUDO_OPERATOR, Kit, Run, StageFailed


async def stage2(kit: Kit, ctx: Run) -> tuple[Outcome, str]:
    m = ctx.municipality
    residents = await kit.test_residents(m)
    holders = await kit.cards(m, residents, ctx)
    types = [CertificateType.RESIDENCE, CertificateType.TAX]
    if ctx.offers_seal:
        types.insert(1, CertificateType.SEAL)
    issued = []
    for ctype in types:
        for rc in residents:
            options = await kit.options(m, rc, ctype)
            if options is not None:
                issued.append(await kit.flow(ctx, PSEUDO_OPERATOR, STAGE_CHANNELS[Stage.STAGE2],
                                             holders[rc], ctype, options))
                break
        else:
            raise StageFailed(f"no test resident can be issued a {ctype.value} certificate")
    ctx.evidence["issuances"] = issued
    return Outcome.PASSED, (f"{len(issued)} certificate type(s) issued in the pseudo-evaluation environment "
                            f"and verified: {', '.join(t.value for t in types)}")


async def stage3(kit: Kit, ctx: Run) -> tuple[Outcome, str]:
    m = ctx.municipality
    operators = await kit.registered_operators()
    holder = await kit.first_holder(ctx)
    issued = []
    for operator in operators:
        issued.append(await kit.flow(ctx, operator, STAGE_CHANNELS[Stage.STAGE3], holder,
                                     CertificateType.RESIDENCE, {"scope": "self"}))
    ctx.evidence["issuances"] = issued
    ctx.evidence["documents"] = [f"documents/…/{i['request_id']}.pdf" for i in issued]
    ctx.log("the documents wait for the municipality to check their content "
            f"(teststage confirm {m.code} stage3)")
    return Outcome.AWAITING_CONFIRMATION, (f"{len(issued)} operator(s) issued on their test terminals; "
                                           "waiting for the content to be confirmed")


async def real_store(kit: Kit, ctx: Run) -> tuple[Outcome, str]:
    operators = await kit.registered_operators()
    operator = ctx.operator
    if operator is None:
        operator = operators[0]
    elif operator not in operators:
        raise StageFailed(f"{operator!r} is not a registered kiosk operator")
    holder = await kit.first_holder(ctx)
    item = await kit.flow(ctx, operator, STAGE_CHANNELS[Stage.REAL_STORE], holder,
                          CertificateType.RESIDENCE, {"scope": "self"})
    ctx.evidence["issuances"] = [item]
    return Outcome.PASSED, (f"a real issuance at {operator}'s store printed and verified; "
                            f"{item['fee']:,}円 settled like production")
