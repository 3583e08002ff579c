"""The two centres, East and West (contract §11): this centre's role, epoch and
replication, and the promotion of a standby when the active centre is lost."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bcl_console.domain.errors import Conflict, InvalidInput
from bcl_console.services.platform.actor import Actor
from bcl_console.services.platform.clock import Clock, iso_now
from bcl_console.services.platform.postgres_local import (
    NotADataDirectory,
    ServerDirectory,
    with_application_name,
)
from bcl_console.store import StoreError, StoreUnavailable
from bcl_console.store.api import AuditEntry, CentreState, Store

log = logging.getLogger(__name__)

#: How a standby is named to its primary (``application_name``, ``synchronous_standby_names``).
STANDBY_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")
METHODS = ("auto", "rewind", "basebackup")


@dataclass(frozen=True)
class Rejoined:
    """``centre rejoin``: how this centre's server was brought onto the active centre's
    history, and the two centres' states afterwards."""

    method: str
    state: CentreState
    active: CentreState


def rejoined_document(done: Rejoined) -> dict[str, Any]:
    return {**state_document(done.state), "method": done.method, "active": state_document(done.active)}


def state_document(state: CentreState) -> dict[str, Any]:
    """``centre status --json`` (contract §11)."""
    return {"role": state.role, "epoch": state.epoch, "peer": state.peer,
            "replication": None if state.replication is None else asdict(state.replication)}


def centre_alert(state: CentreState) -> str | None:
    """What an operator must hear about, on whichever screen: None when all is well."""
    r = state.replication
    if r is None:
        return None
    if r.state == "fenced":
        return ("the other centre was promoted over this one: writes are refused until "
                "`centre rejoin --from URL`")
    if state.role == "active" and not r.sync and r.state == "disconnected":
        return ("the synchronous standby is lost: accepted writes wait for it "
                "(`centre sync off --reason TEXT` serves on without it)")
    if state.role == "active" and not r.sync:
        return ("accepted writes do not wait for a standby: RPO is not 0 until the other centre streams "
                "from this one (`centre rejoin` there) and `centre sync on --name NAME` here")
    if state.role == "standby" and not state.upstream_alive:
        return "not receiving from the active centre: if it is lost, `centre promote`"
    return None


class CentreService:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def state(self) -> CentreState:
        return await self._store.centre.state()

    async def peer(self, url: str) -> CentreState:
        """The other centre's state, asked of its database."""
        return await self._store.centre.peer(url)

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

    async def require_sync(self, *, actor: Actor, standby: str | None, reason: str = "") -> CentreState:
        """``centre sync on --name NAME`` / ``centre sync off --reason TEXT`` at the active
        centre. Off is the operator's decision to serve on while the standby is lost
        (accepted writes no longer wait for it: RPO is no longer 0 until it is on again);
        it needs a reason. Refused (Conflict, exit 3, nothing changed) on a standby or a
        single centre."""
        if standby is None and not reason.strip():
            raise InvalidInput("sync off needs --reason: say why the centre serves on without its standby",
                               field="reason")
        if standby is not None and not STANDBY_NAME.fullmatch(standby):
            raise InvalidInput(f"--name {standby!r} is not a standby name: lower-case letters, digits and _",
                               field="name")
        state = await self._store.centre.state()
        if state.role != "active":
            raise Conflict(f"this centre is {'a single centre' if state.role == 'single' else 'a standby'}: "
                           "only the active centre waits for a standby; nothing changed", code="not_active")
        at = iso_now(self._clock)
        if standby is None:
            audit = AuditEntry(at, actor.name, actor.interface, None, "centre-sync-off", "synchronous_standby_names",
                               state.peer, f"none: {reason.strip()}")
        else:
            audit = AuditEntry(at, actor.name, actor.interface, None, "centre-sync-on", "synchronous_standby_names",
                               None, standby)
        return await self._store.centre.require_standby(standby, at, audit)

    async def rejoin(self, source_url: str, *, actor: Actor, pgdata: str | None = None, name: str = "standby",
                     method: str = "auto", progress: Callable[[str], None] | None = None,
                     within: float = 120) -> Rejoined:
        """Make this centre, superseded by a promotion of the other (the old East), the
        active centre's standby: stop its server, bring its files onto the active centre's
        history (``pg_rewind``, or a fresh base backup), start it again as a standby
        streaming under ``name``, and make it the active centre's synchronous standby.
        Refused (Conflict, exit 3, nothing changed) on a single centre, when ``source_url``
        is not the active centre, when this centre is a standby already, and when this
        centre is active with an epoch not older than the other's."""
        say = progress or (lambda _message: None)
        if not STANDBY_NAME.fullmatch(name):
            raise InvalidInput(f"--name {name!r} is not a standby name: lower-case letters, digits and _ "
                               "(starting with a letter)", field="name")
        if method not in METHODS:
            raise InvalidInput(f"--method must be one of {', '.join(METHODS)}", field="method")
        state = await self._store.centre.state()
        if state.role == "single":
            raise Conflict("this is a single centre (nothing replicated to or from it): there is no other "
                           "centre to rejoin; nothing changed", code="single")
        peer = await self._store.centre.peer(source_url)
        if peer.role != "active":
            raise Conflict(f"the centre at --from is a {peer.role} (epoch {peer.epoch}), not the active centre: "
                           "rejoin from the active one; nothing changed", code="not_active")
        fenced = state.replication is not None and state.replication.state == "fenced"
        if state.role == "standby" and not fenced:
            raise Conflict(f"this centre is a standby already (epoch {state.epoch}, "
                           f"{state.replication.state if state.replication else '-'}); nothing changed",
                           code="already_standby")
        if state.epoch >= peer.epoch:
            raise Conflict(f"this centre's epoch is {state.epoch} and the other's is {peer.epoch}: "
                           "it was not promoted over this one, so it is the other that must rejoin; "
                           "nothing changed", code="not_superseded")
        if not await self._store.centre.same_system(source_url):
            raise Conflict("the server at --from was not made from this centre's (another PostgreSQL system "
                           "identifier): it is not this centre's pair; nothing changed", code="not_pair")
        directory = pgdata or await self._store.centre.data_directory()
        try:
            server = await asyncio.to_thread(ServerDirectory, Path(directory))
        except NotADataDirectory as exc:
            raise InvalidInput(str(exc), field="pgdata") from exc
        source = with_application_name(source_url, name)
        say(f"stopping this centre's server ({directory})")
        await asyncio.to_thread(server.stop)
        outcome: dict[str, bool] = {"damaged": False}
        try:
            used = await self._bring_onto(server, source_url, source, method, say, outcome)
        except BaseException:
            if outcome["damaged"]:  # a rewind stopped half-way: these files must not run as a primary
                log.error("this centre's server is left stopped: a rewind stopped half-way through its files; "
                          "run centre rejoin again with --method basebackup")
            else:
                try:  # as it was: nothing was changed in its files
                    await asyncio.to_thread(server.start)
                except RuntimeError as exc:
                    log.error("this centre's server did not start again: %s", exc)
            raise
        say("starting it again as the active centre's standby")
        try:
            await asyncio.to_thread(server.start)
        except RuntimeError as exc:
            raise StoreError(f"this centre's server did not start as a standby: {exc}") from exc
        say(f"waiting until the active centre waits for this one (standby {name!r})")
        at = iso_now(self._clock)
        audit = AuditEntry(at, actor.name, actor.interface, None, "centre-rejoin", "synchronous_standby_names",
                           None, name)
        active = await self._store.centre.name_standby(source_url, name, at, audit, within=within)
        return Rejoined(used, await self._state_when_streaming(within), active)

    async def _bring_onto(self, server: ServerDirectory, source_url: str, source: str, method: str,
                          say: Callable[[str], None], outcome: dict[str, bool]) -> str:
        """``rewind`` or ``basebackup``; ``outcome["damaged"]`` once this server's files may be
        half rewritten (a rewind that failed after it began writing, and no base backup)."""
        if method in ("auto", "rewind"):
            try:
                # a promoted server's control file names its new timeline only after a
                # checkpoint: without one, pg_rewind would find "no rewind required" and the
                # standby would never follow the active centre's history
                await self._store.centre.checkpoint_peer(source_url)
                say("pg_rewind --dry-run: can this centre's files be rewound?")
                await asyncio.to_thread(server.rewind, source, dry_run=True)
            except (RuntimeError, StoreError) as exc:
                if method == "rewind":
                    raise StoreError(f"pg_rewind cannot bring this centre onto the active centre: {exc}") from exc
                log.warning("pg_rewind cannot be used (%s); making a fresh base backup", exc)
            else:
                say("pg_rewind: copying what changed since the two centres parted")
                try:
                    await asyncio.to_thread(server.rewind, source)
                    return "rewind"
                except RuntimeError as exc:
                    outcome["damaged"] = True
                    if method == "rewind":
                        raise StoreError(f"pg_rewind failed half-way: {exc}; run centre rejoin again with "
                                         "--method basebackup") from exc
                    log.warning("pg_rewind failed half-way (%s); making a fresh base backup", exc)
        say("pg_basebackup: copying the active centre's files afresh")
        try:
            await asyncio.to_thread(server.copy_afresh, source)
        except (RuntimeError, OSError) as exc:
            raise StoreError(f"the base backup of the active centre failed: {exc}") from exc
        outcome["damaged"] = False
        return "basebackup"

    async def _state_when_streaming(self, within: float) -> CentreState:
        """This centre's state once its server streams from the active one (its pool's
        connections died with the restart: the first reads may fail)."""
        deadline = asyncio.get_running_loop().time() + within
        while True:
            try:
                state = await self._store.centre.state()
                if state.role == "standby" and state.upstream_alive:
                    return state
            except StoreUnavailable:
                pass
            if asyncio.get_running_loop().time() > deadline:
                raise StoreError(f"this centre's server did not stream from the active centre within {within:.0f} s")
            await asyncio.sleep(0.2)
