"""East and West (contract §11), the part that stands today: West as a hot standby of East
by PostgreSQL's own streaming replication, with East waiting for West to have applied each
commit (``synchronous_commit = remote_apply``). West's centre answers reads (a document
East issued verifies there) and answers every write 503 ``standby``; once West's server is
promoted, the same running centre accepts writes, with no restart."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bcl_console.clients.linkage_agent import LinkageAgent
from bcl_console.clients.simulator import Simulator, load_cards
from bcl_console.config import load_settings
from bcl_console.http.app import start_http
from bcl_console.services.platform.actor import Actor
from bcl_console.services.platform.postgres_local import LocalCluster
from bcl_console.services.platform.runtime import Runtime
from bcl_console.store import StoreStandby, StoreUnavailable
from bcl_console.store.copy import copy_sqlite_to_postgres
from tests.conftest import TEST_NOW
from tests.pg import missing_reason, pg_query, skip_or_fail

OP = Actor("op", "cli")
FIX = Path(__file__).resolve().parents[2] / "fixtures" / "linkage"


def cli(data: Path, server: LocalCluster, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bcl_console", "--data-dir", str(data), "--database",
                           server.url("bcl"), *args], capture_output=True, text=True, timeout=120)


@pytest.fixture
def centres(tmp_path: Path) -> Iterator[tuple[LocalCluster, LocalCluster]]:
    reason = missing_reason()
    if reason:
        skip_or_fail(reason)
    east, west = LocalCluster(tmp_path / "east-pg"), LocalCluster(tmp_path / "west-pg")
    try:
        east.init()
        east.start()
        east.psql("CREATE DATABASE bcl")
        yield east, west
    finally:
        west.remove()
        east.remove()


def replicate(east: LocalCluster, west: LocalCluster) -> None:
    west.clone_as_standby(east, "west")
    west.start()
    east.psql("ALTER SYSTEM SET synchronous_standby_names = 'west'")
    east.psql("ALTER SYSTEM SET synchronous_commit = 'remote_apply'")
    east.psql("SELECT pg_reload_conf()")
    for _ in range(100):
        if east.psql("SELECT sync_state FROM pg_stat_replication WHERE application_name = 'west'") == "sync":
            return
        time.sleep(0.1)
    raise AssertionError("West did not become East's synchronous standby")


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["postgresql"])  # two centres are PostgreSQL's
async def test_west_answers_reads_refuses_writes_and_takes_over_once_promoted(
        demo_template: Path, tmp_path: Path, centres: tuple[LocalCluster, LocalCluster], backend: str) -> None:
    east_pg, west_pg = centres
    east_dir, west_dir = tmp_path / "east", tmp_path / "west"
    shutil.copytree(demo_template, east_dir)
    await copy_sqlite_to_postgres(east_dir / "bcl.sqlite3", east_pg.url("bcl"))
    replicate(east_pg, west_pg)
    west_dir.mkdir(mode=0o700)
    shutil.copytree(east_dir / "keys", west_dir / "keys")  # keys are provisioned to both centres

    east = Runtime(load_settings(str(east_dir), database_url=east_pg.url("bcl"), now=TEST_NOW.isoformat()))
    west = Runtime(load_settings(str(west_dir), database_url=west_pg.url("bcl"), now=TEST_NOW.isoformat()))
    await east.start(create=False)
    await west.start(create=False)
    try:
        east_http = await start_http(east, "127.0.0.1", 0)
        west_http = await start_http(west, "127.0.0.1", 0)
        token = await east.tokens.issue("kiosk", "simulator", actor=OP)
        cards = load_cards(east_dir / "cards")

        def traffic(url: str, seconds: float) -> Simulator:
            return Simulator(url, token, cards, kiosks=3, rate=15, duration=seconds, failed_print=0.0,
                             wrong_payment=0.0, seed=5)

        at_east = (await traffic(east_http.url, 2).run()).as_dict()
        assert at_east["outcomes"].get("printed", 0) >= 5, at_east
        # every issuance East answered is applied at West already (remote_apply)
        printed = "SELECT count(*) FROM issuances WHERE operator = 'simulator' AND state = 'printed'"
        assert pg_query(west_pg.url("bcl"), printed) == pg_query(east_pg.url("bcl"), printed)
        ((path,),) = pg_query(west_pg.url("bcl"), "SELECT document_path FROM issuances WHERE operator = "
                                                  "'simulator' AND state = 'printed' ORDER BY id DESC LIMIT 1")
        pdf = await west.issuance.read_document(path)
        assert (await west.verification.verify_bytes(pdf)).status == "genuine"

        # writes at the standby: 503 standby over HTTP, StoreStandby in the services
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{west_http.url}/kiosk/v1/challenges",
                                 headers={"Authorization": f"Bearer {token}"}) as r:
                assert r.status == 503 and (await r.json())["error"]["code"] == "standby"
                assert r.headers["Retry-After"] == "1"
            async with http.get(f"{west_http.url}/healthz") as r:
                assert r.status == 200
        with pytest.raises(StoreStandby):
            await west.tokens.issue("kiosk", "elsewhere", actor=OP)
        refused = (await traffic(west_http.url, 1).run()).as_dict()
        assert refused["outcomes"].get("printed", 0) == 0, refused

        # the roles as each centre's server tells them
        east_state, west_state = await east.centres.state(), await west.centres.state()
        assert (east_state.role, east_state.epoch) == ("active", 1)
        assert east_state.replication is not None and east_state.replication.sync
        assert east_state.replication.state == "streaming" and east_state.peer is not None
        assert (west_state.role, west_state.upstream_alive) == ("standby", True)
        status = cli(west_dir, west_pg, "centre", "status", "--json")
        assert status.returncode == 0, status.stderr
        doc = json.loads(status.stdout)
        assert (doc["role"], doc["epoch"], doc["replication"]["state"]) == ("standby", 1, "streaming")
        # … and on /metrics, for the operators' alerts
        async with aiohttp.ClientSession() as http:
            for url, role, sync in ((east_http.url, "active", 1.0), (west_http.url, "standby", 1.0)):
                async with http.get(f"{url}/metrics") as r:
                    families = {f.name: f for f in text_string_to_metric_families(await r.text())}
                roles = {s.labels["role"]: s.value for s in families["bcl_centre_role"].samples}
                assert roles == {"active": float(role == "active"), "standby": float(role == "standby"),
                                 "single": 0.0}
                assert families["bcl_replication_sync"].samples[0].value == sync
                assert families["bcl_centre_epoch"].samples[0].value == 1.0
        # promoting while East is alive would make two active centres: refused, nothing changed
        refused_promote = cli(west_dir, west_pg, "centre", "promote")
        assert refused_promote.returncode == 3 and "alive" in refused_promote.stderr
        assert (await west.centres.state()).role == "standby"

        # kiosks and a municipality's linkage server that know both centres, East first
        linkage_token = await east.linkage.issue_token("993611", actor=OP)
        outbox = tmp_path / "outbox"
        outbox.mkdir()
        shutil.copytree(FIX / "valid-full", outbox / "a-full")
        agent = LinkageAgent(outbox, [east_http.url, west_http.url], linkage_token, interval=0.1,
                             first_backoff=0.2, max_backoff=0.5)
        both = Simulator([east_http.url, west_http.url], token, cards, kiosks=3, rate=15, duration=8,
                         failed_print=0.0, wrong_payment=0.0, seed=7)
        # a second process of East that knows West's database and runs on through it all
        watcher = Runtime(load_settings(str(east_dir), database_url=east_pg.url("bcl"), now=TEST_NOW.isoformat(),
                                        peer_url=west_pg.url("bcl")))
        await watcher.start(create=False)
        running = asyncio.create_task(both.run())
        await asyncio.sleep(2)

        # East is lost mid-traffic; West is promoted: the same running centre serves writes
        east_pg.stop("immediate")
        delivered = asyncio.create_task(agent.run(once=True))
        for _ in range(100):
            if not (await west.centres.state()).upstream_alive:
                break
            await asyncio.sleep(0.1)
        promoted = cli(west_dir, west_pg, "centre", "promote", "--json")
        assert promoted.returncode == 0, promoted.stderr
        doc = json.loads(promoted.stdout)
        assert (doc["role"], doc["epoch"]) == ("active", 2)
        assert doc["replication"] == {"state": "none", "sync": False, "lag_bytes": None, "lag_seconds": None}
        failover = (await running).as_dict()
        await asyncio.wait_for(delivered, 60)
        # the kiosks moved on to West: flows completed there, none refused for a payment
        # whose answer was lost, and nothing billed twice
        assert failover["outcomes"].get("printed", 0) >= 5, failover
        lost_answers = ("payment-409", "completion-409", "payment-503", "completion-503", "document-503")
        assert not [o for o in failover["outcomes"] if o in lost_answers or o.startswith("error-")], failover
        twice = pg_query(west_pg.url("bcl"), "SELECT request_id FROM issuances GROUP BY request_id "
                                             "HAVING count(*) > 1")
        assert twice == []
        # the batch went to West once East was gone, and was applied once
        assert [(d.batch, d.outcome) for d in agent.deliveries] == [("a-full", "applied")]
        assert pg_query(west_pg.url("bcl"), "SELECT count(*) FROM linkage_batches WHERE municipality_code = "
                                             "'993611' AND sequence = 2 AND outcome = 'applied'") == [(1,)]
        again = cli(west_dir, west_pg, "centre", "promote")
        assert again.returncode == 3 and "active one already (epoch 2)" in again.stderr
        trail = await west.municipalities.audit_trail(None, 5)
        assert [(e.action, e.old_value, e.new_value) for e in trail][0] == ("centre-promote", "1", "2")
        at_west = (await traffic(west_http.url, 2).run()).as_dict()
        assert at_west["outcomes"].get("printed", 0) >= 5, at_west
        assert await west.tokens.issue("kiosk", "after-failover", actor=OP)

        # the old East comes back while West is active: it must never accept a write again
        await east.stop()
        east_pg.start()
        # the process that ran on is fenced by its own periodic check of West, no restart
        # (a write before it would wait for ever: East's server still waits for West)
        seen = None
        for _ in range(100):
            try:
                seen = await watcher.centres.state()
            except StoreUnavailable:  # its pool's connections died with the server
                pass
            if seen is not None and seen.replication is not None and seen.replication.state == "fenced":
                break
            await asyncio.sleep(0.2)
        assert seen is not None and seen.replication is not None and seen.replication.state == "fenced", seen
        with pytest.raises(StoreStandby, match="promoted over this centre"):
            await watcher.tokens.issue("kiosk", "ran-on", actor=OP)
        await watcher.stop()
        # as a deployment would: East's configuration names West's database
        (east_dir / "config.toml").write_text(f'peer-url = "{west_pg.url("bcl")}"\n', encoding="utf-8")
        count = "SELECT count(*) FROM issuances"
        before = pg_query(east_pg.url("bcl"), count)
        east = Runtime(load_settings(str(east_dir), database_url=east_pg.url("bcl"), now=TEST_NOW.isoformat(),
                                     peer_url=west_pg.url("bcl")))
        await east.start(create=False)
        old_east = await start_http(east, "127.0.0.1", 0)
        state = await east.centres.state()
        assert state.role == "standby" and state.replication is not None and state.replication.state == "fenced"
        with pytest.raises(StoreStandby, match="promoted over this centre"):
            await east.tokens.issue("kiosk", "split-brain", actor=OP)
        fenced = (await traffic(old_east.url, 1).run()).as_dict()
        assert fenced["outcomes"].get("printed", 0) == 0, fenced
        assert pg_query(east_pg.url("bcl"), count) == before

        # East rejoins as West's standby. Its server has no data checksums, so pg_rewind
        # cannot be used: auto falls back to a fresh base backup.
        status = cli(east_dir, east_pg, "centre", "status")
        assert "promoted over this one" in status.stdout and "centre rejoin" in status.stdout
        at_standby = cli(west_dir, west_pg, "centre", "rejoin", "--from", east_pg.url("bcl"))
        assert at_standby.returncode == 3 and "the other that must rejoin" in at_standby.stderr, at_standby.stderr
        rejoined = cli(east_dir, east_pg, "centre", "rejoin", "--from", west_pg.url("bcl"), "--name", "east",
                       "--json")
        assert rejoined.returncode == 0, rejoined.stderr
        doc = json.loads(rejoined.stdout)
        assert (doc["method"], doc["role"], doc["epoch"]) == ("basebackup", "standby", 2), doc
        assert doc["replication"]["state"] == "streaming"
        assert (doc["active"]["role"], doc["active"]["replication"]["sync"]) == ("active", True), doc
        assert not (east_pg.data.parent / "data.before-rejoin").exists()
        # the running old East is a standby like any other now; West's writes wait for it
        for _ in range(20):  # its pooled connections died with the restart: the first reads may fail
            try:
                state = await east.centres.state()
                break
            except StoreUnavailable:
                await asyncio.sleep(0.2)
        assert state.replication is not None and state.replication.state == "streaming"
        with pytest.raises(StoreStandby) as refused_at_east:
            await east.tokens.issue("kiosk", "at-the-standby", actor=OP)
        assert "promoted over" not in str(refused_at_east.value)
        await west.tokens.issue("kiosk", "after-rejoin", actor=OP)
        assert pg_query(east_pg.url("bcl"), "SELECT count(*) FROM api_tokens WHERE subject = 'after-rejoin'") == [(1,)]
        trail = await west.municipalities.audit_trail(None, 2)
        assert [(e.action, e.new_value) for e in trail] == [("kiosk-token", "issued"), ("centre-rejoin", "east")]
        # refused, nothing changed: again at East (a standby already), and from a standby
        again = cli(east_dir, east_pg, "centre", "rejoin", "--from", west_pg.url("bcl"))
        assert again.returncode == 3 and "standby already" in again.stderr, again.stderr
        from_standby = cli(west_dir, west_pg, "centre", "rejoin", "--from", east_pg.url("bcl"))
        assert from_standby.returncode == 3 and "is a standby" in from_standby.stderr, from_standby.stderr
    finally:
        await west.stop()
        await east.stop()
        if "watcher" in locals():
            await watcher.stop()


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["postgresql"])
async def test_east_serves_on_without_west_only_by_an_operators_decision(
        tmp_path: Path, centres: tuple[LocalCluster, LocalCluster], backend: str) -> None:
    from bcl_console.app import BclApp

    east_pg, west_pg = centres
    east_dir = tmp_path / "east"
    east = Runtime(load_settings(str(east_dir), database_url=east_pg.url("bcl"), now=TEST_NOW.isoformat()))
    await east.start()
    try:
        assert (await east.centres.state()).role == "single"  # nothing replicated yet
        replicate(east_pg, west_pg)
        state = await east.centres.state()
        assert state.role == "active" and state.replication is not None and state.replication.sync
        # a standby opens only on this program's schema (it cannot migrate: East does)
        (current,) = pg_query(east_pg.url("bcl"), "SELECT version FROM bcl_schema")[0]
        for version, says in ((current + 1, "newer than this program"), (current - 1, "older than this program")):
            pg_query(east_pg.url("bcl"), "UPDATE bcl_schema SET version = ?", version)
            refused = cli(east_dir, west_pg, "centre", "status")  # West's database
            assert refused.returncode == 2 and says in refused.stderr, refused.stderr
            assert len(refused.stderr.strip().splitlines()) == 1
        pg_query(east_pg.url("bcl"), "UPDATE bcl_schema SET version = ?", current)
        assert cli(east_dir, west_pg, "centre", "status").returncode == 0

        west_pg.stop("immediate")  # West's site is lost
        for _ in range(100):
            state = await east.centres.state()
            if state.replication is not None and state.replication.state == "disconnected":
                break
            await asyncio.sleep(0.1)
        assert state.replication is not None and not state.replication.sync
        status = cli(east_dir, east_pg, "centre", "status")
        assert "synchronous standby is lost" in status.stdout and "centre sync off" in status.stdout
        # never silent: the console says so on whichever screen is shown
        app = BclApp(east, make_demo=False)
        async with app.run_test(size=(80, 24)) as pilot:
            for _ in range(80):
                await pilot.pause(0.1)
                if any("synchronous standby is lost" in str(n.message) for n in app._notifications):
                    break
            assert any("synchronous standby is lost" in str(n.message) for n in app._notifications)

        # a write waits for the lost standby: it is not answered accepted
        waiting = asyncio.create_task(east.tokens.issue("kiosk", "waiting", actor=OP))
        await asyncio.sleep(1.5)
        assert not waiting.done()
        unexplained = cli(east_dir, east_pg, "centre", "sync", "off")
        assert unexplained.returncode == 3 and "--reason" in unexplained.stderr
        assert not waiting.done()
        decided = cli(east_dir, east_pg, "centre", "sync", "off", "--reason", "West's site is flooded", "--json")
        assert decided.returncode == 0, decided.stderr
        doc = json.loads(decided.stdout)
        assert (doc["role"], doc["replication"]["state"], doc["replication"]["sync"]) == ("active", "none", False)
        assert await asyncio.wait_for(waiting, 10)  # the operator's decision lets it through
        trail = await east.municipalities.audit_trail(None, 2)
        assert ("centre-sync-off", "none: West's site is flooded") in [(e.action, e.new_value) for e in trail]
        assert "RPO is not 0" in cli(east_dir, east_pg, "centre", "status").stdout

        # West is back (a standby again by itself): on again, refused while it is not streaming
        early = cli(east_dir, east_pg, "centre", "sync", "on", "--name", "west")
        assert early.returncode == 1 and "no standby named 'west' is streaming" in early.stderr
        west_pg.start()
        for _ in range(100):
            if east_pg.psql("SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'") == "1":
                break
            await asyncio.sleep(0.1)
        on = cli(east_dir, east_pg, "centre", "sync", "on", "--name", "west", "--json")
        assert on.returncode == 0, on.stderr
        assert json.loads(on.stdout)["replication"]["sync"] is True
        await east.tokens.issue("kiosk", "waited-for", actor=OP)
        assert pg_query(west_pg.url("bcl"), "SELECT count(*) FROM api_tokens WHERE subject = 'waited-for'") == [(1,)]
        at_standby = cli(east_dir, west_pg, "centre", "sync", "off", "--reason", "x")  # West's database
        assert at_standby.returncode == 3 and "standby" in at_standby.stderr
    finally:
        await east.stop()
