"""Disaster-victim support (クラウド型被災者支援システム): disasters, damage assessments
with revisions and CSV import, the victim ledger (被災者台帳) with extracts and CSV export,
evacuation centres with card check-in, support payments (被災者生活再建支援金), the list of
people needing evacuation help with their plans, residents' online applications, and
reports of harm (被災届出) that the 被災証明書 certifies.

``LedgerService`` is the runtime's ``ledger``: one part per sub-area, each taking and
returning typed records (``ledger.declarations``, ``ledger.assessments``, ``ledger.victims``,
``ledger.centres``, ``ledger.payments``, ``ledger.plans``, ``ledger.requests``,
``ledger.reports``). The CLI, the console and the HTTP API call the parts; a JSON
document is made (``as_dict()``) only where one is printed or sent.
"""

from __future__ import annotations

from bcl_console.services.disaster.applications import OnlineApplications
from bcl_console.services.disaster.assessments import AssessmentService
from bcl_console.services.disaster.assessments import AssessmentsRejected as AssessmentsRejected
from bcl_console.services.disaster.disasters import DisasterService
from bcl_console.services.disaster.disasters import DisasterView as DisasterView
from bcl_console.services.disaster.plans import EvacuationPlans
from bcl_console.services.disaster.reports import VictimReports
from bcl_console.services.disaster.shelters import ShelterService
from bcl_console.services.disaster.support import SupportService
from bcl_console.services.disaster.victims import VictimLedger
from bcl_console.services.platform.clock import Clock
from bcl_console.services.platform.events import EventBus
from bcl_console.store.api import Store


class LedgerService:
    def __init__(self, store: Store, clock: Clock, bus: EventBus) -> None:
        self.declarations = DisasterService(store, clock, bus)
        self.assessments = AssessmentService(store, clock, bus)
        self.victims = VictimLedger(store, clock, bus)
        self.centres = ShelterService(store, clock, bus)
        self.payments = SupportService(store, clock, bus)
        self.plans = EvacuationPlans(store, clock, bus)
        self.requests = OnlineApplications(store, clock, bus)
        self.reports = VictimReports(store, clock, bus)
