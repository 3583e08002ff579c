"""The demo data set: a living centre for trainers, made with no network and no set-up.

Five invented municipalities of the invented prefecture 東雲県 (code 99, which no real
prefecture has): a town and a village in service on BCL, a small city in its onboarding
tests, a large city on its own issuance server, and a town that has just applied.
Deterministic for a seed and the day it is made for.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import random
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path

from bcl_console.demo import names as demo_names
from bcl_console.demo import terminals as demo_terminals
from bcl_console.demo.people import PeopleGenerator, Place
from bcl_console.domain.codes import with_check_digit
from bcl_console.domain.damage import class_from_ratio
from bcl_console.domain.errors import InvalidInput
from bcl_console.domain.fiscal import TOKYO, tokyo
from bcl_console.domain.municipality import Hosting, Kind, Municipality
from bcl_console.domain.wareki import era_year
from bcl_console.services.issuance import seal_image
from bcl_console.services.issuance.pki import PkiService
from bcl_console.services.platform.actor import DEMO
from bcl_console.services.platform.clock import Clock, iso_now
from bcl_console.services.platform.events import DemoCompleted, DemoProgress, EventBus
from bcl_console.store import disasters as disaster_store
from bcl_console.store import issuances as issuance_store
from bcl_console.store import linkage as linkage_store
from bcl_console.store import meta as meta_store
from bcl_console.store import municipalities as muni_store
from bcl_console.store import residents as res_store
from bcl_console.store.audit import AuditEntry, append_audit
from bcl_console.store.db import Conn, Database
from bcl_console.store.wipe import wipe_all

PREFECTURE = "東雲県"
CHUNK = 5_000
OWN_SERVER_DEMO_URL = "http://127.0.0.1:8471/issuance/v1"


@dataclass(frozen=True)
class DemoMunicipality:
    municipality: Municipality
    residents: int
    rural: bool


@dataclass(frozen=True)
class DemoSummary:
    seed: int
    municipalities: int
    #: Resident records generated: the active and the moved-out and deceased (除票) ones.
    residents: int
    #: Of those, the residents living there now (status active): the dashboard's "held".
    active_residents: int
    households: int
    seals: int
    taxes: int
    seconds: float

    def as_dict(self) -> dict[str, object]:
        return {
            "seed": self.seed,
            "municipalities": self.municipalities,
            "residents": self.residents,
            "active_residents": self.active_residents,
            "households": self.households,
            "seals": self.seals,
            "taxes": self.taxes,
            "seconds": round(self.seconds, 2),
        }


def _first_of_month_after(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def demo_municipalities(today: date, scaled_residents: int | None = None) -> list[DemoMunicipality]:
    """The demo's municipalities; ``scaled_residents`` grows the small city to that size."""
    city_residents = scaled_residents if scaled_residents is not None else 28_500

    def m(code5: str, name: str, kind: Kind, population: int, hosting: Hosting,
          start: date | None, mayor: str, url: str | None = None) -> Municipality:
        return Municipality(
            code=with_check_digit(code5), name=name, kind=kind, population=population,
            hosting=hosting, server_url=url, service_start=start,
            prefecture=PREFECTURE, mayor=mayor,
        )

    return [
        DemoMunicipality(
            m("99361", "北山町", Kind.TOWN, 6_200, Hosting.BCL, date(2021, 10, 1), "山本 健一"),
            6_200, rural=True,
        ),
        DemoMunicipality(
            m("99482", "桜川村", Kind.VILLAGE, 2_400, Hosting.BCL, date(2023, 4, 1), "中村 和子"),
            2_400, rural=True,
        ),
        DemoMunicipality(
            m("99205", "東浜市", Kind.CITY, max(28_500, city_residents), Hosting.BCL,
              _first_of_month_after(today, 3), "佐藤 誠"),
            city_residents, rural=False,
        ),
        DemoMunicipality(
            m("99201", "中央市", Kind.CITY, 182_000, Hosting.OWN_SERVER, date(2019, 2, 1),
              "高橋 直樹", OWN_SERVER_DEMO_URL),
            0, rural=False,
        ),
        DemoMunicipality(
            m("99383", "西ヶ谷町", Kind.TOWN, 9_800, Hosting.BCL,
              _first_of_month_after(today, 6), "小林 幸子"),
            0, rural=True,
        ),
    ]


ProgressFn = Callable[[str, int, int], None]


class _ChunkWriter:
    """Rows of one municipality, written to SQLite a chunk at a time."""

    def __init__(self, conn: Conn, code: str) -> None:
        self.conn = conn
        self.code = code
        self.residents: list[tuple[object, ...]] = []
        self.seals: list[tuple[object, ...]] = []
        self.taxes: list[tuple[object, ...]] = []
        self.counts = {"residents": 0, "seals": 0, "taxes": 0}

    def flush(self) -> None:
        res_store.insert_residents(self.conn, self.code, self.residents)
        res_store.insert_seals(self.conn, self.code, self.seals)
        res_store.insert_taxes(self.conn, self.code, self.taxes)
        self.counts["residents"] += len(self.residents)
        self.counts["seals"] += len(self.seals)
        self.counts["taxes"] += len(self.taxes)
        self.residents.clear()
        self.seals.clear()
        self.taxes.clear()


def _build(conn: Conn, specs: list[DemoMunicipality], seed: int, today: date, at: str,
           progress: ProgressFn) -> DemoSummary:
    started = time.perf_counter()
    wipe_all(conn)
    total = sum(s.residents for s in specs)
    done = 0
    households = seals = taxes = 0
    impressions: dict[str, str] = {}
    for index, spec in enumerate(specs):
        m = spec.municipality
        muni_store.insert_municipality(conn, m, at)
        append_audit(conn, AuditEntry(at, DEMO.name, DEMO.interface, m.code, "add", None, None, m.name))
        if spec.residents == 0:
            continue
        rng = random.Random(f"{seed}:{m.code}")
        districts = rng.sample(
            demo_names.RURAL_SECTIONS if spec.rural else demo_names.CITY_DISTRICTS, 10
        )
        generator = PeopleGenerator(
            rng, Place(PREFECTURE, m.name, spec.rural, districts), today,
            code_salt=(index + 1) * 1_234_567_891 + seed,
        )
        out = _ChunkWriter(conn, m.code)
        for household in generator.households(spec.residents):
            households += 1
            out.residents.extend(household.residents)
            for seal in household.seals:
                family = str(seal[4])
                if family not in impressions:
                    sha, png = seal_image.impression(family)
                    res_store.insert_seal_impression(conn, sha, png)
                    impressions[family] = sha
                out.seals.append((*seal[:4], impressions[family]))
            out.taxes.extend(household.taxes)
            if len(out.residents) >= CHUNK:
                done += len(out.residents)
                out.flush()
                progress(m.name, done, total)
        done += len(out.residents)
        out.flush()
        progress(m.name, done, total)
        counts = out.counts
        seals += counts["seals"]
        taxes += counts["taxes"]
        linkage_store.record_batch(
            conn, municipality_code=m.code, sequence=1, kind="full", created_at=at,
            received_at=at, source="demo", outcome="applied", counts=counts, checksums={},
        )
    _demo_disaster(conn, specs[0].municipality, seed, today, at)
    # the counters' month first: the stores' history stays the newest written (the Monitor's feed)
    demo_terminals.counters_with_history(conn, [s.municipality for s in specs[:2]], seed, today, at)
    _demo_history(conn, [s.municipality for s in specs[:2]], seed, today)
    meta_store.set_meta(conn, "demo_seed", str(seed))
    meta_store.set_meta(conn, "demo_created_at", at)
    return DemoSummary(
        seed=seed, municipalities=len(specs), residents=done,
        active_residents=sum(c.active for c in res_store.held_counts(conn).values()), households=households,
        seals=seals, taxes=taxes, seconds=time.perf_counter() - started,
    )


def _demo_disaster(conn: Conn, town: Municipality, seed: int, today: date, at: str) -> None:
    """One disaster, six weeks ago, with assessed dwellings in the town."""
    rng = random.Random(f"{seed}:disaster")
    occurred = today - timedelta(days=42)
    era, year = era_year(occurred)
    name = f"{era.name}{year}年{occurred.month}月{PREFECTURE}豪雨"
    disaster_id = disaster_store.insert_disaster(conn, name, "flood", occurred.isoformat(), at, [town.code])
    households = disaster_store.heads_of_households(conn, town.code)
    chosen = rng.sample(households, min(150, len(households)))
    inspectors = ("調査員 中野", "調査員 石井", "調査員 小川")
    flood = random.Random(f"{seed}:flood")  # its own stream: the assessments above stay as they were
    rows = []
    for household, address in sorted(chosen):
        ratio = min(100, int(rng.expovariate(1 / 14)))
        # 浸水区分: the deeper the water, the worse the damage (床上 from about 45 cm above ground).
        depth = flood.randint(45, 60) + ratio * 4 if ratio >= 10 else flood.randint(5, 44)
        rows.append((disaster_id, town.code, household, address, class_from_ratio(ratio).value, ratio,
                     rng.choice(inspectors), (occurred + timedelta(days=rng.randint(5, 30))).isoformat(),
                     "床上浸水" if depth >= 45 else "床下浸水", depth))
    disaster_store.insert_assessments(conn, rows)


#: Test cards the demo makes: (municipality index, (status, restricted), how many, revoke?)
_CARD_PLAN = (
    (0, ("active", False), 60, False),
    (1, ("active", False), 30, False),
    (2, ("active", False), 8, False),   # onboarding city: refused, not live
    (0, ("moved-out", None), 3, False),  # no longer a resident
    (0, ("active", True), 2, False),    # DV等支援措置: counter only
    (0, ("active", False), 5, True),    # revoked cards
)


def _card_holders(conn: Conn, specs: list[DemoMunicipality], seed: int) -> list[tuple[str, str, bool]]:
    rng = random.Random(f"{seed}:cards")
    taken: set[str] = set()
    out = []
    for index, where, count, revoke in _CARD_PLAN:
        code = specs[index].municipality.code
        candidates = [c for c in res_store.resident_codes_by(conn, code, *where) if c not in taken]
        for rc in rng.sample(candidates, min(count, len(candidates))):
            taken.add(rc)
            out.append((code, rc, revoke))
    return out


OPERATORS = ("セブンマート", "ローソム", "ファミリーストア")


def _demo_history(conn: Conn, live: list[Municipality], seed: int, today: date) -> None:
    """A year of store issuances (records only, no documents) for the live municipalities."""
    rng = random.Random(f"{seed}:history")
    rows = []
    for m in live:
        residents = res_store.resident_codes_by(conn, m.code, "active", False)
        per_day = max(1.0, m.population / 2500)
        day = today - timedelta(days=395)
        while day < today:
            for _ in range(int(rng.expovariate(1 / per_day))):
                ctype = rng.choices(("residence", "seal", "tax"), (70, 20, 10))[0]
                wall = datetime.combine(day, dtime(rng.randint(7, 21), rng.randint(0, 59), rng.randint(0, 59)), TOKYO)
                created = wall.astimezone(UTC)
                issued = created + timedelta(seconds=rng.randint(20, 90))
                state = "voided" if rng.random() < 0.02 else "printed"
                rows.append((
                    f"{rng.getrandbits(128):032x}", ctype, m.code, rng.choice(residents), "store",
                    rng.choice(OPERATORS), 300, state, created.isoformat(timespec="microseconds"),
                    issued.isoformat(timespec="microseconds"),
                    (issued + timedelta(seconds=30)).isoformat(timespec="microseconds"),
                    (issued + timedelta(seconds=30)).isoformat(timespec="microseconds") if state == "voided" else None,
                ))
            day += timedelta(days=1)
    issuance_store.insert_history(conn, rows)


class DemoService:
    def __init__(self, db: Database, clock: Clock, bus: EventBus, pki: PkiService, cards_dir: Path) -> None:
        self._db = db
        self._clock = clock
        self._bus = bus
        self._pki = pki
        self._cards_dir = cards_dir

    async def is_empty(self) -> bool:
        return await self._db.read(muni_store.count_municipalities) == 0

    async def create(
        self,
        seed: int,
        *,
        residents: int | None = None,
        progress: ProgressFn | None = None,
    ) -> DemoSummary:
        """Replace everything in the database with the demo data set, in one transaction.

        Generation runs on the writer's thread, so the event loop (the console, the
        relay) stays responsive; progress reaches subscribers as DemoProgress events.
        """
        if residents is not None and not 1 <= residents <= 5_000_000:
            raise InvalidInput("--residents must be between 1 and 5,000,000", field="residents")
        now = self._clock.now()
        today = tokyo(now).date()
        specs = demo_municipalities(today, residents)
        bus = self._bus

        def report(step: str, done: int, total: int) -> None:
            bus.publish_threadsafe(DemoProgress(step, done, total))
            if progress is not None:
                progress(step, done, total)

        summary = await self._db.write(_build, specs, seed, today, iso_now(self._clock), report)
        report("cards", 0, 1)
        await self._make_cards(specs, seed)
        report("cards", 1, 1)
        self._bus.publish(DemoCompleted(seed, summary.residents))
        return summary

    async def _make_cards(self, specs: list[DemoMunicipality], seed: int) -> None:
        """Test My Number cards for trainers and the simulator, in DATA_DIR/cards."""
        holders = await self._db.read(_card_holders, specs, seed)
        await asyncio.to_thread(shutil.rmtree, self._cards_dir, True)
        await asyncio.to_thread(self._cards_dir.mkdir, parents=True, exist_ok=True)
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:  # key generation frees the GIL
            loop = asyncio.get_running_loop()
            cards = await asyncio.gather(*(loop.run_in_executor(pool, self._pki.make_card, code, rc)
                                           for code, rc, _ in holders))
        await self._pki.record(list(cards), actor=DEMO)
        for card, (_, _, revoke) in zip(cards, holders, strict=True):
            name = f"{card.municipality_code}-{card.resident_code}{'-revoked' if revoke else ''}.pem"
            await asyncio.to_thread(_write_card, self._cards_dir / name, card.pem)
            if revoke:
                await self._pki.revoke(card.serial, actor=DEMO)


def _write_card(path: Path, pem: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
