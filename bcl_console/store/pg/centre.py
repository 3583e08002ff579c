"""``CentreStore`` on PostgreSQL: the role, epoch and replication of this centre's server
from PostgreSQL's own views (``pg_is_in_recovery``, ``pg_stat_replication`` on the active,
``pg_stat_wal_receiver`` on the standby), and the promotion of a standby."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from dataclasses import replace

import asyncpg

from bcl_console.store.api import AuditEntry, CentreState, ReplicationState
from bcl_console.store.errors import StoreError, StoreUnavailable
from bcl_console.store.pg.audit import append_audit
from bcl_console.store.pg.db import (
    ENGINE_ERRORS,
    Conn,
    PgDatabase,
    _setup_connection,
    check_url,
    masked,
)

log = logging.getLogger(__name__)


async def centre_state(conn: Conn, fenced: str | None = None) -> CentreState:
    epoch = await _epoch(conn)
    in_recovery = await conn.fetchval("SELECT pg_is_in_recovery()")
    if fenced is not None and not in_recovery:  # superseded: answers as a standby would, and says why
        return CentreState("standby", epoch, None, ReplicationState("fenced", False, None, None))
    if in_recovery:
        row = await conn.fetchrow(
            "SELECT status, sender_host, sender_port FROM pg_stat_wal_receiver LIMIT 1")
        lag = await conn.fetchrow(
            "SELECT pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::bigint AS bytes, "
            "CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 "
            "ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END AS seconds")
        streaming = row is not None and row["status"] == "streaming"
        peer = f"postgresql://{row['sender_host']}:{row['sender_port']}" if row is not None else None
        return CentreState("standby", epoch, peer, ReplicationState(
            row["status"] if row is not None else "disconnected", streaming,
            None if lag["bytes"] is None else int(lag["bytes"]),
            None if lag["seconds"] is None else round(float(lag["seconds"]), 3)), upstream_alive=streaming)
    expected = str(await conn.fetchval("SELECT current_setting('synchronous_standby_names')")).strip()
    row = await conn.fetchrow(
        "SELECT application_name, client_addr::text AS addr, state, sync_state, "
        "pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint AS bytes, "
        "extract(epoch FROM coalesce(replay_lag, interval '0'))::float8 AS seconds "
        "FROM pg_stat_replication ORDER BY (sync_state = 'sync') DESC LIMIT 1")
    decided = await conn.fetchrow("SELECT standby FROM centre_sync ORDER BY id DESC LIMIT 1")
    if row is None and not expected and epoch == 1 and decided is None:
        return CentreState("single", epoch, None, None)
    if row is None:
        return CentreState("active", epoch, None, ReplicationState("disconnected" if expected else "none",
                                                                   False, None, None))
    return CentreState("active", epoch, f"{row['application_name']}@{row['addr']}", ReplicationState(
        str(row["state"]), row["sync_state"] == "sync", None if row["bytes"] is None else int(row["bytes"]),
        round(float(row["seconds"]), 3)))


async def fence_against(db: PgDatabase, peer_url: str, *, quiet: bool = False) -> None:
    """An active centre that comes back (East after a failover) asks the other centre: if
    that one is active with a higher epoch, it was promoted over this one, and this centre
    refuses every write (StoreStandby) until it has rejoined as its standby. A peer that
    cannot be reached says nothing: this centre's own synchronous standby setting then keeps
    a write from being answered accepted."""
    check_url(peer_url)
    try:
        peer = await asyncio.wait_for(asyncpg.connect(peer_url, timeout=3), 5)
    except ENGINE_ERRORS as exc:
        (log.debug if quiet else log.warning)(
            "the other centre (%s) cannot be asked whether it was promoted: %s", masked(peer_url), exc)
        return
    try:
        if await peer.fetchval("SELECT pg_is_in_recovery()"):
            return
        theirs = await peer.fetchval("SELECT max(epoch) FROM centre_epochs")
    except asyncpg.PostgresError as exc:
        log.warning("the other centre (%s) did not say its epoch: %s", masked(peer_url), exc)
        return
    finally:
        await peer.close()
    try:
        ours = await db.read(_epoch)
    except StoreUnavailable:  # this centre's own server is away: asked again later
        if not quiet:
            raise
        return
    if theirs is not None and int(theirs) > ours:
        db.fence(f"the other centre ({masked(peer_url)}) is active with epoch {theirs}, this one's is {ours}: "
                 "it was promoted over this centre, which refuses writes until it rejoins as its standby "
                 "(centre rejoin)")


async def _connect_peer(url: str) -> asyncpg.Connection:
    check_url(url)
    try:
        conn = await asyncio.wait_for(asyncpg.connect(
            url, timeout=5, server_settings={"TimeZone": "UTC", "DateStyle": "ISO"}), 10)
    except ENGINE_ERRORS as exc:
        raise StoreUnavailable(f"the other centre's database ({masked(url)}) cannot be reached: {exc}") from exc
    await _setup_connection(conn)
    return conn


async def _set_standby_names(conn: Conn, names: str) -> None:
    """``synchronous_standby_names`` (ALTER SYSTEM takes no parameters: names are checked)."""
    if names and not all(_STANDBY_NAME.fullmatch(n.strip()) for n in names.split(",")):
        raise StoreError(f"{names!r} is not a list of standby names")
    await conn.execute(f"ALTER SYSTEM SET synchronous_standby_names = '{names}'")
    await conn.execute("SELECT pg_reload_conf()")


async def _epoch(conn: Conn) -> int:
    return int(await conn.fetchval("SELECT coalesce(max(epoch), 1) FROM centre_epochs"))


class PgCentre:
    def __init__(self, db: PgDatabase) -> None:
        self._db = db

    async def state(self) -> CentreState:
        return await self._db.read(centre_state, self._db.fenced)

    async def promote(self, at: str, reason: str, audit: AuditEntry) -> int:
        """``pg_promote`` (waiting up to 60 s), then ``synchronous_standby_names = ''`` at
        once: a promoted centre cloned with its primary's settings would otherwise wait for
        a standby that is not there, and its first write would hang for ever."""
        async def promote(conn: Conn) -> None:
            if not await conn.fetchval("SELECT pg_promote(true, 60)"):
                raise StoreError("PostgreSQL did not finish the promotion within 60 s")
            await conn.execute("ALTER SYSTEM SET synchronous_standby_names = ''")
            await conn.execute("SELECT pg_reload_conf()")

        await self._db.outside_transaction(promote)
        self._db.standby = False

        async def record(conn: Conn) -> int:
            epoch = int(await conn.fetchval("SELECT coalesce(max(epoch), 1) + 1 FROM centre_epochs"))
            await conn.execute("INSERT INTO centre_epochs (epoch, began_at, reason) VALUES ($1, $2, $3)",
                               epoch, at, reason)
            await append_audit(conn, replace(audit, old_value=str(epoch - 1), new_value=str(epoch)))
            return epoch

        return await self._db.write(record)

    async def require_standby(self, name: str | None, at: str, audit: AuditEntry, *,
                              within: float = 60) -> CentreState:
        if name is not None and not _STANDBY_NAME.fullmatch(name):
            raise StoreError(f"{name!r} is not a standby name (lower-case letters, digits and _)")

        async def configure(conn: Conn) -> None:
            await _set_standby_names(conn, name or "")

        async def record(conn: Conn) -> None:
            await conn.execute("INSERT INTO centre_sync (at, standby, reason) VALUES ($1, $2, $3)",
                               at, name, audit.new_value or "")
            await append_audit(conn, audit)

        if name is None:  # stop waiting first: the audit entry itself would wait for the lost standby
            await self._db.outside_transaction(configure)
            await self._db.write(record)
            return await self.state()
        async def streaming(conn: Conn) -> bool:
            return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM pg_stat_replication "
                                            "WHERE application_name = $1 AND state = 'streaming')", name))

        if not await self._db.outside_transaction(streaming):
            raise StoreError(f"no standby named {name!r} is streaming from this centre: start it (or `centre "
                             "rejoin` it) first, so that writes do not wait for nothing; nothing changed")
        await self._db.write(record)
        await self._db.outside_transaction(configure)
        deadline = asyncio.get_running_loop().time() + within
        while True:
            state = await self.state()
            if state.replication is not None and state.replication.sync:
                return state
            if asyncio.get_running_loop().time() > deadline:
                raise StoreError(f"the standby {name!r} did not become synchronous within {within:.0f} s")
            await asyncio.sleep(0.1)

    async def peer(self, url: str) -> CentreState:
        conn = await _connect_peer(url)
        try:
            return await centre_state(conn)
        except asyncpg.PostgresError as exc:
            raise StoreError(f"the other centre's database ({masked(url)}) did not say its state: {exc}") from exc
        finally:
            await conn.close()

    async def same_system(self, url: str) -> bool:
        async def ours(conn: Conn) -> int:
            return int(await conn.fetchval("SELECT system_identifier FROM pg_control_system()"))

        conn = await _connect_peer(url)
        try:
            theirs = int(await conn.fetchval("SELECT system_identifier FROM pg_control_system()"))
        finally:
            await conn.close()
        return theirs == await self._db.outside_transaction(ours)

    async def checkpoint_peer(self, url: str) -> None:
        conn = await _connect_peer(url)
        try:
            await conn.execute("CHECKPOINT")
        except asyncpg.PostgresError as exc:
            raise StoreError(f"the other centre's database ({masked(url)}) refused a CHECKPOINT: {exc}") from exc
        finally:
            await conn.close()

    async def data_directory(self) -> str:
        async def ask(conn: Conn) -> str:
            return str(await conn.fetchval("SELECT current_setting('data_directory')"))

        return await self._db.outside_transaction(ask)

    async def name_standby(self, url: str, name: str, at: str, audit: AuditEntry, *,
                           within: float = 60) -> CentreState:
        if not _STANDBY_NAME.fullmatch(name):
            raise StoreError(f"{name!r} is not a standby name (lower-case letters, digits and _)")
        conn = await _connect_peer(url)
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + within
            # first streaming, and only then waited for: naming a standby that never comes
            # would make every write at the active centre wait for it
            while not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM pg_stat_replication "
                                          "WHERE application_name = $1 AND state = 'streaming')", name):
                if loop.time() > deadline:
                    raise StoreError(f"the standby {name!r} did not stream from {masked(url)} within "
                                     f"{within:.0f} s; the active centre does not wait for it")
                await asyncio.sleep(0.1)
            before = str(await conn.fetchval("SELECT current_setting('synchronous_standby_names')"))
            await _set_standby_names(conn, name)
            while await conn.fetchval("SELECT NOT EXISTS (SELECT 1 FROM pg_stat_replication "
                                      "WHERE application_name = $1 AND sync_state = 'sync')", name):
                if loop.time() > deadline:
                    with contextlib.suppress(StoreError):  # as it was: writes must not hang
                        await _set_standby_names(conn, before.strip())
                    raise StoreError(f"the standby {name!r} did not become the synchronous standby of "
                                     f"{masked(url)} within {within:.0f} s; its setting is as it was")
                await asyncio.sleep(0.1)
            async with conn.transaction():
                await append_audit(conn, replace(audit, new_value=name))
            return await centre_state(conn)
        except asyncpg.PostgresError as exc:
            raise StoreError(f"the other centre's database ({masked(url)}) refused: {exc}") from exc
        finally:
            await conn.close()


_STANDBY_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")
