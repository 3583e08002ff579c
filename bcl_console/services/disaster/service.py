"""Disaster-victim support (クラウド型被災者支援システム): disasters, damage assessments
with revisions and CSV import, the victim ledger (被災者台帳) with extracts and CSV export,
evacuation centres with card check-in, support payments (被災者生活再建支援金), the list of
people needing evacuation help with their plans, and residents' online applications.

``LedgerService`` is the runtime's ``ledger``: its parts, one per sub-area, return typed
records (the console and the HTTP API use them: ``ledger.assessments``, ``ledger.centres`` …);
its own methods keep the names the CLI calls, and give the CLI's JSON documents
(``as_dict()`` of those records) where it prints them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bcl_console.services.disaster.applications import OnlineApplications
from bcl_console.services.disaster.assessments import AssessmentService
from bcl_console.services.disaster.assessments import AssessmentsRejected as AssessmentsRejected
from bcl_console.services.disaster.disasters import DisasterService
from bcl_console.services.disaster.disasters import DisasterView as DisasterView
from bcl_console.services.disaster.plans import EvacuationPlans
from bcl_console.services.disaster.shelters import ShelterService
from bcl_console.services.disaster.support import SupportService
from bcl_console.services.disaster.victims import VictimLedger
from bcl_console.services.platform.actor import Actor
from bcl_console.services.platform.clock import Clock
from bcl_console.services.platform.events import EventBus
from bcl_console.store.api import ShelterPerson, ShelterRow, Store

#: A JSON document as the CLI prints it.
Document = dict[str, Any]


class LedgerService:
    def __init__(self, store: Store, clock: Clock, bus: EventBus) -> None:
        self.declarations = DisasterService(store, clock, bus)
        self.assessments = AssessmentService(store, clock, bus)
        self.victims = VictimLedger(store, clock, bus)
        self.centres = ShelterService(store, clock, bus)
        self.payments = SupportService(store, clock, bus)
        self.plans = EvacuationPlans(store, clock, bus)
        self.requests = OnlineApplications(store, clock, bus)

    # -- disasters -------------------------------------------------------------------------------
    async def declare(self, name: str, kind: str, occurred_on: str, municipalities: list[str], *,
                      actor: Actor) -> DisasterView:
        return await self.declarations.declare(name, kind, occurred_on, municipalities, actor=actor)

    async def close(self, disaster_id: int, *, actor: Actor) -> DisasterView:
        return await self.declarations.close(disaster_id, actor=actor)

    async def disasters(self) -> list[DisasterView]:
        return await self.declarations.disasters()

    async def get(self, disaster_id: int) -> DisasterView:
        return await self.declarations.get(disaster_id)

    # -- damage assessments ---------------------------------------------------------------------------
    async def assess(self, disaster_id: int, code: str, household: str, *, ratio: int | None = None,
                     damage_class: str | None = None, inspector: str, assessed_on: str = "",
                     flood_level: str | None = None, flood_depth_cm: int | None = None,
                     actor: Actor) -> Document:
        return (await self.assessments.assess(disaster_id, code, household, ratio=ratio, damage_class=damage_class,
                                              inspector=inspector, assessed_on=assessed_on, flood_level=flood_level,
                                              flood_depth_cm=flood_depth_cm, actor=actor)).as_dict()

    async def import_assessments(self, disaster_id: int, path: Path, *, actor: Actor) -> Document:
        return (await self.assessments.import_assessments(disaster_id, path, actor=actor)).as_dict()

    async def assessment_history(self, disaster_id: int, code: str, household: str) -> list[Document]:
        return [h.as_dict() for h in await self.assessments.assessment_history(disaster_id, code, household)]

    # -- the ledger -------------------------------------------------------------------------------------
    async def ledger(self, disaster_id: int, *, code: str | None = None, min_class: str | None = None,
                     needs_help: bool = False, whereabouts: str | None = None) -> list[Document]:
        return [r.as_dict() for r in await self.victims.ledger(disaster_id, code=code, min_class=min_class,
                                                               needs_help=needs_help, whereabouts=whereabouts)]

    async def export_ledger(self, disaster_id: int, out: Path, **filters: Any) -> Document:
        return (await self.victims.export_ledger(disaster_id, out, **filters)).as_dict()

    async def set_person(self, disaster_id: int, code: str, resident: str, *, whereabouts: str | None = None,
                         injury: str | None = None, note: str | None = None, actor: Actor) -> None:
        await self.victims.set_person(disaster_id, code, resident, whereabouts=whereabouts, injury=injury, note=note,
                                      actor=actor)

    # -- evacuation centres --------------------------------------------------------------------------------
    async def open_shelter(self, disaster_id: int, code: str, name: str, capacity: int, *,
                           actor: Actor) -> ShelterRow:
        return await self.centres.open_shelter(disaster_id, code, name, capacity, actor=actor)

    async def shelter(self, shelter_id: int) -> ShelterRow:
        return await self.centres.shelter(shelter_id)

    async def shelters(self, disaster_id: int | None = None) -> list[ShelterRow]:
        return await self.centres.shelters(disaster_id)

    async def shelter_people(self, shelter_id: int) -> list[ShelterPerson]:
        return await self.centres.shelter_people(shelter_id)

    async def close_shelter(self, shelter_id: int, *, actor: Actor) -> ShelterRow:
        return await self.centres.close_shelter(shelter_id, actor=actor)

    async def check_in(self, shelter_id: int, code: str, resident: str, *, via: str = "hand",
                       actor: Actor) -> Document:
        return (await self.centres.check_in(shelter_id, code, resident, via=via, actor=actor)).as_dict()

    async def check_out(self, code: str, resident: str, *, whereabouts: str = "home", actor: Actor) -> Document:
        return (await self.centres.check_out(code, resident, whereabouts=whereabouts, actor=actor)).as_dict()

    # -- support payments ---------------------------------------------------------------------------------
    async def apply_support(self, disaster_id: int, code: str, household: str, *, method: str | None = None,
                            demolished: bool = False, long_term: bool = False, actor: Actor) -> Document:
        return (await self.payments.apply_support(disaster_id, code, household, method=method, demolished=demolished,
                                                  long_term=long_term, actor=actor)).as_dict()

    async def support(self, support_id: int) -> Document:
        return (await self.payments.support(support_id)).as_dict()

    async def decide_support(self, support_id: int, decision: str, *, note: str | None = None,
                             actor: Actor) -> Document:
        return (await self.payments.decide_support(support_id, decision, note=note, actor=actor)).as_dict()

    async def support_list(self, disaster_id: int) -> list[Document]:
        return [s.as_dict() for s in await self.payments.support_list(disaster_id)]

    # -- people needing evacuation help ---------------------------------------------------------------------
    async def needs_help(self, code: str) -> list[Document]:
        return [p.as_dict() for p in await self.plans.needs_help(code)]

    async def set_plan(self, code: str, resident: str, *, supporter: str, destination: str, notes: str = "",
                       actor: Actor) -> Document:
        return (await self.plans.set_plan(code, resident, supporter=supporter, destination=destination, notes=notes,
                                          actor=actor)).as_dict()

    # -- online applications ---------------------------------------------------------------------------------
    async def apply_online(self, code: str, resident: str, disaster_id: int) -> Document:
        return (await self.requests.apply_online(code, resident, disaster_id)).as_dict()

    async def application(self, application_id: int) -> Document:
        return (await self.requests.application(application_id)).as_dict()

    async def applications(self, state: str | None = None) -> list[Document]:
        return [a.as_dict() for a in await self.requests.applications(state)]

    async def decide_application(self, application_id: int, approve: bool, *, reason: str | None = None,
                                 actor: Actor) -> Document:
        return (await self.requests.decide_application(application_id, approve, reason=reason,
                                                       actor=actor)).as_dict()
