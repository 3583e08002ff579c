"""The demo's management terminals (管理端末): each live municipality has registered one,
as its LGWAN terminal that controls its own store issuance. Their tokens are made and
dropped (only the hashes are kept): a trainer registers a new one to try /manage/v1."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bcl_console.domain.municipality import State
from bcl_console.services.platform.actor import DEMO

if TYPE_CHECKING:
    from bcl_console.services.platform.runtime import Runtime


def terminal_name(municipality_name: str) -> str:
    return f"{municipality_name} 管理端末"


async def play(runtime: Runtime) -> None:
    for view in await runtime.municipalities.all():
        if view.state is State.LIVE:
            await runtime.terminals.add(view.code, terminal_name(view.municipality.name), actor=DEMO)
