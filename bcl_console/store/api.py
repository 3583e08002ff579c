"""The store's boundary: what services may ask of a database, as typed protocols.

Services hold a ``Store`` and call ``store.<area>.<fact>(…)``; each fact is one
transaction inside the store. ``store/sqlite.py`` is the embedded implementation; a
second one (PostgreSQL) satisfies the same protocols. No service sees a connection, a
cursor, SQL or an engine's exceptions: the records below, ``StoreError`` and its
subclasses (``StorageFull``), and the domain's errors are all that cross this line.

One section per area, in the order of ``Store``'s attributes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

# --- audit: written inside the facts it records, read by the console -----------------


@dataclass(frozen=True)
class AuditEntry:
    at: str
    actor: str
    interface: str
    municipality_code: str | None
    action: str
    field: str | None = None
    old_value: str | None = None
    new_value: str | None = None


# --- tokens ---------------------------------------------------------------------------


class TokenStore(Protocol):
    async def issue_token(self, kind: str, subject: str, token_sha256: str, audit: AuditEntry, *,
                          must_be_municipality: bool) -> None:
        """Record a token (its hash only) and its audit line; NotFound when the subject
        must be a registered municipality and is not."""
        ...

    async def token_subject(self, kind: str, token_sha256: str) -> str | None: ...

    async def token_subjects(self, kind: str) -> list[str]:
        """Everyone holding a valid token of a kind, in the order first registered."""
        ...


# --- municipalities -------------------------------------------------------------------

# --- linkage --------------------------------------------------------------------------

# --- residents ------------------------------------------------------------------------

# --- issuance (issuances, cards, relay sessions) --------------------------------------

# --- onboarding (plans, test stages) --------------------------------------------------

# --- settlement -----------------------------------------------------------------------

# --- disaster (ledger, assessments, support) ------------------------------------------

# --- scheduler: the record of every job run ------------------------------------------


@dataclass(frozen=True)
class JobRun:
    """One run of a scheduled job; ``outcome`` is running, ok or failed."""

    id: int
    job: str
    started_at: str
    finished_at: str | None
    outcome: str
    detail: str


class SchedulerStore(Protocol):
    async def start_job(self, job: str, at: str) -> int:
        """Record that a job started (outcome 'running'); the run's id."""
        ...

    async def finish_job(self, run_id: int, at: str, outcome: str, detail: str) -> None: ...

    async def job_runs(self, limit: int) -> list[JobRun]:
        """The latest runs first."""
        ...


# --- the store ------------------------------------------------------------------------


class Store(Protocol):
    """One centre's database. Areas are attributes, one per centre function."""

    tokens: TokenStore
    scheduler: SchedulerStore

    async def open(self, *, target_version: int | None = None) -> tuple[int, int]:
        """Open and migrate; the schema versions before and after."""
        ...

    async def close(self) -> None: ...
