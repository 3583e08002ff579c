"""``STAGES``: the function that runs each test stage, by stage."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bcl_console.domain.onboarding import Outcome, Stage
from bcl_console.services.onboarding.teststages import issuing, linkage, operation, stage1
from bcl_console.services.onboarding.teststages.kit import Kit, Run

StageFn = Callable[[Kit, Run], Awaitable[tuple[Outcome, str]]]

STAGES: dict[Stage, StageFn] = {
    Stage.LINKAGE: linkage.run,
    Stage.STAGE1: stage1.run,
    Stage.STAGE2: issuing.stage2,
    Stage.STAGE3: issuing.stage3,
    Stage.OPERATION: operation.run,
    Stage.REAL_STORE: issuing.real_store,
}
