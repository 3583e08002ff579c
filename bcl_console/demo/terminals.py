"""The demo's terminals: each live municipality has registered a management terminal
(管理端末, its LGWAN terminal that controls its own store issuance) and a counter terminal
(らくらく窓口, where staff print certificates on the resident's card). Their tokens are made
and dropped (only the hashes are kept): a trainer registers a new one to try /manage/v1 or
/counter/v1. Each counter has a month of past card issuances at the town hall (weekdays,
office hours), which the Monitor's feed and a terminal's day listing show and settlement
leaves out."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

from bcl_console.domain.fiscal import TOKYO, tokyo
from bcl_console.domain.municipality import CertificateType, State
from bcl_console.services.issuance.relay import COUNTER_CARD
from bcl_console.services.platform.actor import DEMO
from bcl_console.store import issuances as issuance_store
from bcl_console.store import residents as res_store

if TYPE_CHECKING:
    from bcl_console.services.onboarding.municipalities import MunicipalityView
    from bcl_console.services.platform.runtime import Runtime

#: Days of counter history before today, and card issuances per weekday at one counter.
COUNTER_DAYS = 30
COUNTER_PER_DAY = (2, 9)


def terminal_name(municipality_name: str) -> str:
    return f"{municipality_name} 管理端末"


def counter_name(municipality_name: str) -> str:
    return f"{municipality_name} 住民課 らくらく窓口"


async def play(runtime: Runtime, seed: int = 0) -> None:
    for view in await runtime.municipalities.all():
        if view.state is State.LIVE:
            name = view.municipality.name
            await runtime.terminals.add(view.code, terminal_name(name), actor=DEMO)
            counter = await runtime.counters.add(view.code, counter_name(name), actor=DEMO)
            await _counter_history(runtime, view, f"counter:{counter.terminal.id}", seed)


async def _counter_history(runtime: Runtime, view: MunicipalityView, operator: str, seed: int) -> None:
    """Past card issuances at one counter (records only, no documents), on its own random
    stream so that the stores' history stays as it was."""
    rng = random.Random(f"{seed}:counter:{view.code}")
    residents = await runtime.db.read(res_store.resident_codes_by, view.code, "active", False)
    if not residents:
        return
    today = tokyo(runtime.clock.now()).date()
    types = (CertificateType.RESIDENCE, CertificateType.SEAL, CertificateType.TAX)
    rows: list[tuple[object, ...]] = []
    for back in range(COUNTER_DAYS, 0, -1):
        day: date = today - timedelta(days=back)
        if day.weekday() >= 5:  # the town hall is closed at weekends
            continue
        for _ in range(rng.randint(*COUNTER_PER_DAY)):
            ctype = rng.choices(types, (70, 20, 10))[0]
            wall = datetime.combine(day, time(rng.randint(8, 16), rng.randint(30, 59), rng.randint(0, 59)), TOKYO)
            created = wall.astimezone(UTC)
            issued = created + timedelta(seconds=rng.randint(5, 20))
            done = issued + timedelta(seconds=rng.randint(20, 60))
            state = "voided" if rng.random() < 0.01 else "printed"
            rows.append((f"{rng.getrandbits(128):032x}", ctype.value, view.code, rng.choice(residents), COUNTER_CARD,
                         operator, view.fees[ctype], state, created.isoformat(timespec="microseconds"),
                         issued.isoformat(timespec="microseconds"), done.isoformat(timespec="microseconds"),
                         done.isoformat(timespec="microseconds") if state == "voided" else None))
    await runtime.db.write(issuance_store.insert_history, rows)
