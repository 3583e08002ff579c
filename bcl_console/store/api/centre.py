"""Two centres (contract §11): the role of this centre's database, its epoch and its
replication, and the promotion of a standby: what crosses the store boundary."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bcl_console.store.api.audit import AuditEntry


@dataclass(frozen=True)
class ReplicationState:
    """The stream between the two centres, as this centre's server sees it. ``state`` is
    PostgreSQL's (streaming, catchup, …) or ``disconnected`` (a standby is expected and
    none is connected) or ``none`` (none expected: a promoted centre until the other
    rejoins); ``sync``: whether an accepted write waits for the other centre."""

    state: str
    sync: bool
    lag_bytes: int | None
    lag_seconds: float | None


@dataclass(frozen=True)
class CentreState:
    """``role``: active, standby or single (one centre, nothing replicated); ``epoch``
    grows by one at every promotion; ``peer``: the other centre's server as this one's
    sees it (the standby's upstream; the active's connected standby)."""

    role: str
    epoch: int
    peer: str | None
    replication: ReplicationState | None
    #: A standby's: whether it is receiving from its primary right now.
    upstream_alive: bool = False


class CentreStore(Protocol):
    async def state(self) -> CentreState: ...

    async def require_standby(self, name: str | None, at: str, audit: AuditEntry, *,
                              within: float = 60) -> CentreState:
        """At the active centre: wait for the standby ``name`` before answering a write
        accepted (waiting until it is the synchronous standby), or, with None, stop waiting
        for any (the operator's decision to serve on alone); audited."""
        ...

    async def peer(self, url: str) -> CentreState:
        """The other centre's state, asked of its database at ``url`` (StoreUnavailable
        when it cannot be reached)."""
        ...

    async def same_system(self, url: str) -> bool:
        """Whether the server at ``url`` was made from the same cluster as this centre's
        (PostgreSQL's system identifier): a standby is only ever rejoined to its own pair."""
        ...

    async def checkpoint_peer(self, url: str) -> None:
        """A CHECKPOINT at the other centre's server: a server promoted a moment ago says its
        new timeline in its control file only after one, and ``pg_rewind`` reads it there."""
        ...

    async def data_directory(self) -> str:
        """Where this centre's server keeps its files (PostgreSQL's ``data_directory``)."""
        ...

    async def name_standby(self, url: str, name: str, at: str, audit: AuditEntry, *,
                           within: float = 60) -> CentreState:
        """At the active centre (``url``): make the standby streaming under ``name`` its
        synchronous one, wait until it is, and audit it there; that centre's state."""
        ...

    async def promote(self, at: str, reason: str, audit: AuditEntry) -> int:
        """Promote this standby's server to active, stop waiting for a standby that is not
        there, and record the new epoch with ``reason`` (and ``audit``, its ``new_value``
        the epoch): the new epoch."""
        ...
