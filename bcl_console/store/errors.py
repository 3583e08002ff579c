"""The store's errors, the same for every engine: what services and the HTTP layer catch."""

from __future__ import annotations

import errno


class StoreError(Exception):
    """The database failed: it cannot be opened or migrated, or the engine refused a
    statement. Engine exceptions never cross the store's boundary: they become this (or
    a subclass below), with the engine's own as ``__cause__``."""

    code = "store"


class StoreBusy(StoreError):
    """The database stayed locked by another process for longer than the busy timeout:
    nothing was written; the same request again may succeed."""

    code = "store_busy"

    def __init__(self, detail: str = "") -> None:
        super().__init__("the database is busy (locked by another process); try again"
                         + (f" ({detail})" if detail else ""))


class StorageFull(StoreError):
    """The disk of the data directory is full: nothing was written (SQLite rolled back)."""

    code = "storage_full"

    def __init__(self, detail: str = "") -> None:
        super().__init__("the data directory's disk is full" + (f" ({detail})" if detail else ""))


def disk_full(exc: BaseException) -> bool:
    """Whether an error means a full disk: the store's StorageFull, or ENOSPC/EDQUOT from a file."""
    return isinstance(exc, StorageFull) or (
        isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT))


class StoreUnavailable(StoreError):
    """The database server cannot be reached or went away mid-transaction (a restart, a
    failover, a network fault): the transaction was not committed, or its outcome is
    unknown to this process; the same request again may succeed (HTTP 503)."""

    code = "store_unavailable"

    def __init__(self, detail: str = "") -> None:
        super().__init__("the database cannot be reached; try again" + (f" ({detail})" if detail else ""))


class StoreStandby(StoreUnavailable):
    """This centre is the standby (contract §11): it answers reads, and every write goes to
    the active centre. Also what a centre that lost its role (another was promoted over
    it) answers until it has rejoined as the standby (HTTP 503 ``standby``)."""

    code = "standby"

    def __init__(self, detail: str = "") -> None:
        StoreError.__init__(self, "this centre is the standby: it answers reads, writes go to the active centre"
                            + (f" ({detail})" if detail else ""))


class StoreCannotOpen(StoreError):
    """The database named cannot be used at all: a URL that is not one, a server that
    cannot be reached, credentials refused, a database that does not exist or was made
    by a newer version. Nothing was created (the CLI's exit 2, contract §10)."""

    code = "database"
