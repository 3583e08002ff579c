"""The demo's disaster exercise in progress, made through the ledger service: two
evacuation centres in 北山町 with people checked in, whereabouts and injuries recorded,
individual evacuation plans for people needing help, support applications at every
state, residents' online applications waiting for the console, and a few reports of
harm (被災届出) from which the 被災証明書 is issued."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import TYPE_CHECKING

from bcl_console.services.platform.actor import Actor

if TYPE_CHECKING:
    from bcl_console.services.platform.runtime import Runtime

STAFF = Actor("北山町 防災課", "demo")
CENTRES = (("北山小学校 体育館", 80), ("北山町 公民館", 40))
SUPPORTERS = ("民生委員 田中", "自主防災会 鈴木", "隣人 高橋", "長男（町内在住）")
DESTINATIONS = ("北山小学校 体育館", "北山町 公民館", "福祉避難所 やすらぎ荘")
#: What people reported (被災届出): the kinds of harm a 被災証明書 certifies beyond the dwelling.
HARMS = ("自家用車（軽自動車）が冠水し走行不能となった",
         "床下浸水により家財（冷蔵庫、洗濯機、畳）が損傷した",
         "店舗（理容店）が浸水し、営業用の椅子と給湯器が故障した",
         "物置が流され、農機具（耕運機、草刈機）を失った",
         "ビニールハウス2棟が倒壊し、栽培中の野菜が全損した")


async def play(runtime: Runtime, seed: int) -> None:
    ledger = runtime.ledger
    views = await ledger.declarations.disasters()
    if not views:
        return
    disaster = views[0].disaster
    code = disaster.municipalities[0]
    rng = random.Random(f"{seed}:exercise")
    await runtime.tokens.issue("shelter", "北山小学校 受付端末", actor=STAFF)
    centres = [await ledger.centres.open_shelter(disaster.id, code, name, capacity, actor=STAFF)
               for name, capacity in CENTRES]
    people = await ledger.victims.ledger(disaster.id, min_class="半壊")
    heads = sorted({p.household_number for p in people})
    for n, person in enumerate(p for p in people if p.household_number in heads[: len(heads) * 2 // 3]):
        if n >= 45:
            break
        await ledger.centres.check_in(centres[n % 2].id, code, person.resident_code, actor=STAFF)
    people = await ledger.victims.ledger(disaster.id, min_class="半壊")
    at_home = [p for p in people if p.whereabouts == "home"]
    for person in rng.sample(at_home, min(8, len(at_home))):
        await ledger.victims.set_person(disaster.id, code, person.resident_code, actor=STAFF,
                                        whereabouts=rng.choice(("relatives", "elsewhere")))
    for person in rng.sample(people, min(3, len(people))):
        await ledger.victims.set_person(disaster.id, code, person.resident_code, injury="injured", actor=STAFF)
    for helped in (await ledger.plans.needs_help(code))[:12]:
        await ledger.plans.set_plan(code, helped.resident_code, supporter=rng.choice(SUPPORTERS),
                                    destination=rng.choice(DESTINATIONS),
                                    notes="車椅子使用" if rng.random() < 0.3 else "", actor=STAFF)
    severe = await ledger.victims.ledger(disaster.id, min_class="中規模半壊")
    households = sorted({p.household_number for p in severe})
    methods = ("build", "repair", "rent")
    for n, household in enumerate(households[:10]):
        app = await ledger.payments.apply_support(disaster.id, code, household, method=methods[n % 3], actor=STAFF)
        if n % 3 != 2:
            await ledger.payments.decide_support(app.id, "approve", actor=STAFF)
        if n % 3 == 0:
            await ledger.payments.decide_support(app.id, "pay", actor=STAFF)
    for person in severe[:: max(1, len(severe) // 5)][:5]:
        await ledger.requests.apply_online(code, person.resident_code, disaster.id)
    reporters = rng.sample(people, min(len(HARMS), len(people)))
    for n, (person, harm) in enumerate(zip(reporters, HARMS, strict=False)):
        await ledger.reports.report_harm(disaster.id, code, person.resident_code, harm, actor=STAFF,
                                         reported_on=(disaster.occurred_on + timedelta(days=3 + 4 * n)).isoformat())
