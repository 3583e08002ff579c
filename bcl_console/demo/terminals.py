"""The demo's terminals: each live municipality has registered a management terminal
(管理端末, its LGWAN terminal that controls its own store issuance) and a counter terminal
(らくらく窓口, where staff print certificates on the resident's card). Their tokens are made
and dropped (only the hashes are kept): a trainer registers a new one to try /manage/v1 or
/counter/v1.

The counters of the municipalities whose residents the centre holds come with the data
set, each with a month of past card issuances at the town hall (weekdays, office hours):
they are written before the stores' year of history, so the Monitor's feed (newest
written first) still opens on the stores; a terminal's day listing shows them, settlement
leaves them out."""

from __future__ import annotations

import random
import secrets
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

from bcl_console.domain.fiscal import TOKYO
from bcl_console.domain.municipality import CertificateType, Municipality, State
from bcl_console.domain.terminals import COUNTER
from bcl_console.services.issuance.relay import COUNTER_CARD
from bcl_console.services.platform.actor import DEMO
from bcl_console.services.platform.tokens import token_hash
from bcl_console.store import issuances as issuance_store
from bcl_console.store import municipalities as muni_store
from bcl_console.store import residents as res_store
from bcl_console.store import terminals as terminal_store
from bcl_console.store.api import AuditEntry
from bcl_console.store.db import Conn

if TYPE_CHECKING:
    from bcl_console.services.platform.runtime import Runtime

#: Days of counter history before today, and card issuances per weekday at one counter.
COUNTER_DAYS = 30
COUNTER_PER_DAY = (2, 9)


def terminal_name(municipality_name: str) -> str:
    return f"{municipality_name} 管理端末"


def counter_name(municipality_name: str) -> str:
    return f"{municipality_name} 住民課 らくらく窓口"


async def play(runtime: Runtime) -> None:
    """A management terminal for each live municipality, and a counter for those that have none yet."""
    for view in await runtime.municipalities.all():
        if view.state is State.LIVE:
            name = view.municipality.name
            await runtime.terminals.add(view.code, terminal_name(name), actor=DEMO)
            if not await runtime.counters.list(view.code):
                await runtime.counters.add(view.code, counter_name(name), actor=DEMO)


def counters_with_history(conn: Conn, municipalities: list[Municipality], seed: int, today: date, at: str) -> None:
    """A counter terminal for each municipality (its token dropped: only a hash of a random
    one is kept) and its past card issuances (records only, no documents), each on its own
    random stream so that the rest of the data set stays as it was."""
    for m in municipalities:
        audit = AuditEntry(at, DEMO.name, DEMO.interface, m.code, COUNTER.add_action, "terminal", None,
                           counter_name(m.name))
        terminal = terminal_store.add_terminal(conn, COUNTER.key, m.code, counter_name(m.name),
                                               token_hash(COUNTER.token_prefix + secrets.token_urlsafe(32)), audit)
        _history(conn, m, f"counter:{terminal.id}", random.Random(f"{seed}:counter:{m.code}"), today)


def _history(conn: Conn, m: Municipality, operator: str, rng: random.Random, today: date) -> None:
    residents = res_store.resident_codes_by(conn, m.code, "active", False)
    fees = muni_store.get_fees(conn, m.code)
    if not residents:
        return
    types = (CertificateType.RESIDENCE, CertificateType.SEAL, CertificateType.TAX)
    rows: list[tuple[object, ...]] = []
    for back in range(COUNTER_DAYS, 0, -1):
        day = today - timedelta(days=back)
        if day.weekday() >= 5:  # the town hall is closed at weekends
            continue
        for _ in range(rng.randint(*COUNTER_PER_DAY)):
            ctype = rng.choices(types, (70, 20, 10))[0]
            wall = datetime.combine(day, time(rng.randint(8, 16), rng.randint(30, 59), rng.randint(0, 59)), TOKYO)
            created = wall.astimezone(UTC)
            issued = created + timedelta(seconds=rng.randint(5, 20))
            done = issued + timedelta(seconds=rng.randint(20, 60))
            state = "voided" if rng.random() < 0.01 else "printed"
            rows.append((f"{rng.getrandbits(128):032x}", ctype.value, m.code, rng.choice(residents), COUNTER_CARD,
                         operator, fees[ctype], state, created.isoformat(timespec="microseconds"),
                         issued.isoformat(timespec="microseconds"), done.isoformat(timespec="microseconds"),
                         done.isoformat(timespec="microseconds") if state == "voided" else None))
    issuance_store.insert_history(conn, rows)
