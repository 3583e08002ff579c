"""Residents' online applications for a disaster certificate (罹災証明書), made from
home with the card; approved once the household is assessed, then the certificate is
available at stores and the counter."""

from __future__ import annotations

from bcl_console.domain.errors import NotFound
from bcl_console.services.disaster.common import DisasterPart
from bcl_console.services.platform.actor import Actor
from bcl_console.services.platform.clock import iso_now
from bcl_console.store.api import OnlineApplication


class OnlineApplications(DisasterPart):
    async def apply_online(self, code: str, resident: str, disaster_id: int) -> OnlineApplication:
        application_id = await self._store.disaster.apply_online(code, resident, disaster_id, iso_now(self._clock))
        self._changed(disaster_id, "application")
        return await self.application(application_id)

    async def application(self, application_id: int) -> OnlineApplication:
        a = await self._store.disaster.application(application_id)
        if a is None:
            raise NotFound(f"there is no application {application_id}", field="application")
        return a

    async def applications(self, state: str | None = None) -> list[OnlineApplication]:
        return await self._store.disaster.applications(state)

    async def decide_application(self, application_id: int, approve: bool, *, reason: str | None = None,
                                 actor: Actor) -> OnlineApplication:
        """Approving needs the household's damage assessment: then its disaster certificate
        is available at stores and the counter."""
        audit = self._audit(actor, None, "application-" + ("approved" if approve else "rejected"),
                            str(application_id), "waiting", reason)
        disaster_id = await self._store.disaster.decide_application(application_id, approve, reason, audit)
        self._changed(disaster_id, "application")
        return await self.application(application_id)
