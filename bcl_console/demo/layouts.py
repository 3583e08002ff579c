"""The demo's law change (法改正対応): the 住民票's layout version 2 (旧氏 and ローマ字) is
staged and the centre's re-test has run for every live municipality offering it, all
passed, so a trainer sees the evidence and activates it (`layout activate residence 2`,
or `a` in the console's Layouts area, key L)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bcl_console.domain.municipality import CertificateType
from bcl_console.services.platform.actor import DEMO

if TYPE_CHECKING:
    from bcl_console.services.platform.runtime import Runtime

STAGED = (CertificateType.RESIDENCE, 2)


async def play(runtime: Runtime) -> None:
    ctype, version = STAGED
    await runtime.layouts.stage(ctype.value, version, actor=DEMO)
    await runtime.layouts.retest(ctype.value, actor=DEMO)
