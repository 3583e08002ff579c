"""The two centres, East and West (contract §11): this centre's role, epoch and
replication, and the promotion of a standby when the active centre is lost."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from bcl_console.domain.errors import Conflict, InvalidInput
from bcl_console.services.platform.actor import Actor
from bcl_console.services.platform.clock import Clock, iso_now
from bcl_console.store.api import AuditEntry, CentreState, Store


def state_document(state: CentreState) -> dict[str, Any]:
    """``centre status --json`` (contract §11)."""
    return {"role": state.role, "epoch": state.epoch, "peer": state.peer,
            "replication": None if state.replication is None else asdict(state.replication)}


class CentreService:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def state(self) -> CentreState:
        return await self._store.centre.state()

    async def promote(self, *, actor: Actor, force: bool = False, reason: str = "") -> CentreState:
        """Make this standby the active centre with the next epoch. Refused (Conflict, CLI
        exit 3, nothing changed) on an active or single centre, and on a standby still
        receiving from its primary unless ``force`` with a ``reason`` (audited)."""
        if force and not reason.strip():
            raise InvalidInput("--force needs --reason: say why the active centre is known to be lost",
                               field="reason")
        state = await self._store.centre.state()
        if state.role == "single":
            raise Conflict("this is a single centre (nothing replicated to or from it): there is no standby "
                           "to promote; nothing changed", code="not_standby")
        if state.role == "active":
            raise Conflict(f"this centre is the active one already (epoch {state.epoch}); nothing changed",
                           code="not_standby")
        if state.upstream_alive and not force:
            raise Conflict(f"the active centre is alive: this standby is receiving from it ({state.peer}) now; "
                           "promoting would make two active centres, so nothing changed (use --force "
                           "--reason TEXT only if it is known to be lost)", code="primary_alive")
        at = iso_now(self._clock)
        why = reason.strip() or "the active centre was lost"
        audit = AuditEntry(at, actor.name, actor.interface, None,
                           "centre-promote-forced" if force else "centre-promote", "epoch")
        await self._store.centre.promote(at, why, audit)
        return await self._store.centre.state()
