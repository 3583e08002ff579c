"""The two-centres drill (contract §11): East and West on this machine, East lost with
SIGKILL under kiosk and linkage traffic, West promoted, the clients following it, the
figures taken from West's database, and East brought back as West's standby.

What it does, in order (each step is a phase of the events it reports):
1. ``clusters``: two PostgreSQL clusters from the installed binaries under
   ``DATA_DIR/drills/<id>/`` (with data checksums, which ``pg_rewind`` needs); East gets a
   copy of this data directory's centre (``database copy``), West is made East's
   streaming standby (``pg_basebackup``) and East's synchronous one (``remote_apply``).
2. ``centres``: each centre gets its data directory with the same keys (``centre
   init-standby``) and the other's database as its peer, and a ``serve`` process.
3. ``traffic``: kiosks that know both centres (East first) run complete store flows, and
   a municipality's linkage agent delivers a delta batch every few seconds.
4. ``failover``: at a random moment East's PostgreSQL server and its ``serve`` are killed
   with SIGKILL at once. The drill waits until West's server has lost its stream, then
   promotes West (``centre promote``). RTO runs from East's death to the first issuance
   completed at West.
5. ``check``: every step a client was told was accepted (a request, its payment, its
   completion, a batch) must be in West's database, once, for the right person; a
   document downloaded must be the one West holds for that request.
6. ``rejoin``: East's server comes back as it would after the machine is repaired: its
   ``serve`` (which knows West) must refuse writes, and ``centre rejoin`` makes it West's
   synchronous standby (``pg_rewind``).
Everything it started is stopped at the end, whatever happens; the clusters are removed
(unless ``keep``), the report and the logs are kept in the drill's directory.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import aiohttp

from bcl_console.clients.linkage_agent import LinkageAgent
from bcl_console.clients.simulator import FlowRecord, Simulator, load_cards
from bcl_console.config import ConfigError, Settings, load_settings
from bcl_console.domain.fiscal import TOKYO
from bcl_console.domain.municipality import State
from bcl_console.services.linkage.batch_writer import address_delta
from bcl_console.services.platform.actor import Actor
from bcl_console.services.platform.database import copy_centre
from bcl_console.services.platform.keys import provision_keys
from bcl_console.services.platform.postgres_local import (
    LocalCluster,
    find_bindir,
    free_port,
    kill_server,
)
from bcl_console.services.platform.runtime import Runtime
from bcl_console.store import StoreError

T = TypeVar("T")

DRILL = Actor("drill", "cli")
#: Kiosk outcomes that mean a flow lost an answer: a failover must not leave any.
LOST_ANSWERS = ("error-", "challenge-", "payment-", "document-", "completion-", "wrong-payment-not-refused")
#: RTO must stay under this many seconds for the drill to pass (issue 17's target).
RTO_TARGET = 10.0
#: Kiosks and their total rate of flows per second during the drill.
KIOSKS, RATE = 4, 8.0
#: The drill's servers' settings (beside the cluster's own, which the standby copies).
SERVER_SETTINGS = {"wal_keep_size": "256MB"}
#: Residents whose address each linkage batch of the drill changes.
CHANGES = 5


@dataclass(frozen=True)
class DrillEvent:
    """One step of a running drill: ``at`` seconds since it began, its ``phase``, what
    happened, and how far the whole drill is (0 to 1)."""

    at: float
    phase: str
    message: str
    fraction: float
    #: False for a step of progress only (the bar moves; no line of log).
    logged: bool = True


@dataclass
class DrillReport:
    drill: str
    started_at: str
    seconds: float = 0.0
    accepted: int = 0
    lost: int = 0
    duplicated: int = 0
    wrong_person: int = 0
    rto_seconds: float | None = None
    east_rejoined: bool = False
    #: Whether the old East refused writes when it came back (no split brain), and how it
    #: answered the write the drill tried there ("503 standby").
    east_fenced: bool = False
    east_write_answer: str | None = None
    verdict: str = "fail"
    #: Why the verdict is fail, one sentence each.
    problems: list[str] = field(default_factory=list)
    #: Seconds since the drill began: East killed, West promoted, first completion at West.
    east_killed_at: float | None = None
    #: When West's server was seen no longer receiving from East (the operator's cue).
    west_lost_stream_at: float | None = None
    west_promoted_at: float | None = None
    kiosks: dict[str, Any] = field(default_factory=dict)
    batches: dict[str, int] = field(default_factory=dict)
    rejoin_method: str | None = None
    directory: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class DrillFailed(RuntimeError):
    """The drill could not be run to its end (a cluster, a serve that did not start)."""


def drills_dir(settings: Settings) -> Path:
    return settings.data_dir / "drills"


def past_drills(settings: Settings, limit: int = 10) -> list[dict[str, Any]]:
    """The last drills' reports, newest first."""
    reports = []
    for path in sorted(drills_dir(settings).glob("*/report.json"), reverse=True)[:limit]:
        with contextlib.suppress(OSError, ValueError):
            reports.append(json.loads(path.read_text(encoding="utf-8")))
    return reports


def drill_now(source: datetime) -> datetime:
    """The centres' clock for the drill: the source centre's now, moved on to the next
    10:00 (Tokyo) when kiosks would be closed then, so a drill at night still has traffic.
    Never back: the test cards the demo made before the drill are valid from when they
    were made (an evening drill moved to that morning's 10:00 met only cards not yet valid)."""
    local = source.astimezone(TOKYO)
    if 8 <= local.hour < 20:
        return source
    if local.hour >= 20:
        local += timedelta(days=1)
    return local.replace(hour=10, minute=0, second=0, microsecond=0).astimezone(UTC)


class Drill:
    def __init__(self, source: Runtime, *, seconds: float = 30.0, keep: bool = False, seed: int | None = None,
                 on_event: Callable[[DrillEvent], None] | None = None) -> None:
        if seconds < 6:
            raise ConfigError("a drill needs at least 6 seconds of traffic (--seconds)")
        if source.settings.database_url:
            raise ConfigError("the drill copies a SQLite centre into its two clusters: run it on a data directory "
                              "without --database (a trainer's demo centre)")
        self.source = source
        self.seconds = seconds
        self.keep = keep
        self.rng = random.Random(seed)
        self.on_event = on_event or (lambda _e: None)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        self.id = f"{stamp}-{self.rng.getrandbits(16):04x}"
        self.root = drills_dir(source.settings) / self.id
        self.report = DrillReport(self.id, datetime.now(UTC).isoformat(timespec="seconds"),
                                  directory=str(self.root))
        self._began = time.monotonic()
        self._fraction = 0.0
        self._serves: dict[str, subprocess.Popen[bytes]] = {}
        self._tasks: list[asyncio.Task[Any]] = []
        self._clusters: list[LocalCluster] = []
        self._runtimes: list[Runtime] = []

    # -- reporting -------------------------------------------------------------------
    def _say(self, phase: str, message: str, fraction: float | None = None, *, logged: bool = True) -> None:
        if fraction is not None:
            self._fraction = max(self._fraction, min(1.0, fraction))
        self.on_event(DrillEvent(round(time.monotonic() - self._began, 2), phase, message, self._fraction, logged))

    def _t(self) -> float:
        return round(time.monotonic() - self._began, 3)

    def _task(self, work: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """A task of the drill's, cancelled at the end if it is still running."""
        task = asyncio.create_task(work)
        self._tasks.append(task)
        return task

    # -- the drill -----------------------------------------------------------------------
    async def run(self) -> DrillReport:
        find_bindir()  # PostgresMissing, in one sentence, before anything is made
        self.root.mkdir(parents=True, mode=0o700)
        # whatever ends this process before the drill's own cleanup (a console quit while
        # it runs, a second Ctrl-C), its servers and serves are stopped on the way out
        atexit.register(self._stop_processes)
        try:
            try:
                await self._run()
            except RuntimeError as exc:  # a cluster's tool or a serve that failed: one sentence
                raise exc if isinstance(exc, DrillFailed) else DrillFailed(" ".join(str(exc).split())) from exc
        except BaseException as exc:
            self.report.verdict = "fail"
            self.report.problems.insert(0, f"the drill stopped before its end: {exc or type(exc).__name__}")
            raise
        finally:
            self._say("cleanup", "stopping everything the drill started")
            await self._stop_everything()
            self.report.seconds = self._t()
            (self.root / "report.json").write_text(json.dumps(self.report.as_dict(), indent=2), encoding="utf-8")
        self._say("done", f"verdict: {self.report.verdict}", 1.0)
        return self.report

    async def _run(self) -> None:
        r = self.report
        east_pg, west_pg = await self._clusters_up()
        now = drill_now(self.source.clock.now())
        east_dir, west_dir = self.root / "east", self.root / "west"
        for directory, peer in ((east_dir, west_pg), (west_dir, east_pg)):
            directory.mkdir(mode=0o700)
            provision_keys(self.source.settings.keys_dir, directory / "keys")
            (directory / "config.toml").write_text(f'peer-url = "{peer.url("bcl")}"\n', encoding="utf-8")
        token, code, batches = await self._tokens_and_batches(east_dir, east_pg, now)
        east_port, west_port = free_port(), free_port()
        east_url, west_url = f"http://127.0.0.1:{east_port}", f"http://127.0.0.1:{west_port}"
        self._say("centres", "starting a serve for East and one for West", 0.25)
        await asyncio.gather(self._serve("east", east_dir, east_pg, east_port, now),
                             self._serve("west", west_dir, west_pg, west_port, now))
        west = await self._runtime(west_dir, west_pg, now)

        # -- traffic, and East lost in the middle of it --------------------------------
        journal: list[FlowRecord] = []
        cards = load_cards(self.source.settings.cards_dir)
        sim = Simulator([east_url, west_url], token, cards, kiosks=KIOSKS, rate=RATE, duration=self.seconds,
                        failed_print=0.03, wrong_payment=0.02, seed=self.rng.getrandbits(32), journal=journal)
        outbox = self.root / "outbox"
        outbox.mkdir()
        agent = LinkageAgent(outbox, [east_url, west_url], batches["token"], interval=0.2, first_backoff=0.2,
                             max_backoff=1.0, say=lambda text: self._say("traffic", f"linkage agent: {text}"))
        stop_agent = asyncio.Event()
        self._say("traffic", f"{KIOSKS} kiosks ({RATE:g} flows/s) and a linkage agent for {code}, "
                             f"both knowing East and West, for {self.seconds:g} s", 0.3)
        traffic = self._task(sim.run())
        delivering = self._task(agent.run(stop=stop_agent))
        feeding = self._task(self._feed(outbox, batches["dirs"]))
        kill_at = self.rng.uniform(0.3, 0.55) * self.seconds
        await asyncio.sleep(kill_at)
        died = time.monotonic()
        r.east_killed_at = self._t()
        await asyncio.to_thread(self._kill_east, east_pg)
        self._say("failover", f"East killed (SIGKILL: its PostgreSQL server and its serve) at "
                              f"{r.east_killed_at:.1f} s", 0.3 + 0.4 * kill_at / self.seconds)
        await self._promote_when_lost(west)
        r.west_promoted_at = self._t()
        self._say("failover", f"West promoted ({r.west_promoted_at - r.east_killed_at:.2f} s after East's death)")
        rto_watch = self._task(self._watch_first_completion(journal, died))
        try:
            report = await traffic
        finally:
            rto_watch.cancel()
            await feeding
        at_west = [f.completed_at for f in journal if f.centre == 1 and f.completed_at is not None
                   and f.completed_at > died]
        r.rto_seconds = round(min(at_west) - died, 3) if at_west else None
        self._say("traffic", f"kiosks done: {report.flows} flows, RTO "
                             f"{'-' if r.rto_seconds is None else f'{r.rto_seconds:.2f} s'}", 0.72)
        await self._drain(agent, outbox, stop_agent, delivering)
        r.kiosks = report.as_dict()
        unanswered = {o: n for o, n in report.outcomes.items() if o.startswith(LOST_ANSWERS)}
        if unanswered:
            r.problems.append(f"kiosk flows ended without their answer (after the failover too): {unanswered}")
        left = [p.name for p in agent.pending()]
        if left:
            r.problems.append(f"linkage batches never accepted by either centre: {', '.join(left)}")

        # -- the figures, from West's database -----------------------------------------
        self._say("check", "checking every accepted step against West's database", 0.75)
        await self._check(west, journal, agent, code)

        # -- East comes back, refuses writes, and rejoins as West's standby -------------
        try:
            await self._bring_east_back(east_dir, east_pg, west_pg, east_port, now, token)
        except Exception as exc:  # noqa: BLE001 - any failure here is one of the report's problems
            r.problems.append(f"East did not come back as West's standby: {exc or type(exc).__name__}")
            self._say("rejoin", f"East did not come back as West's standby: {exc}")
        r.verdict = "pass" if self._passes() else "fail"

    async def _clusters_up(self) -> tuple[LocalCluster, LocalCluster]:
        self._say("clusters", "East: a PostgreSQL cluster (initdb)", 0.02)
        # pg_rewind reads East's own WAL back to the checkpoint before the two parted: keep
        # enough of it through East's restart (else rejoin falls back to a base backup)
        east_pg = LocalCluster(self.root / "east-pg", settings=SERVER_SETTINGS)
        west_pg = LocalCluster(self.root / "west-pg", settings=SERVER_SETTINGS)
        self._clusters += [west_pg, east_pg]
        await asyncio.to_thread(east_pg.init, checksums=True)
        await asyncio.to_thread(east_pg.start)
        await asyncio.to_thread(east_pg.psql, "CREATE DATABASE bcl")

        def copying(table: str, done: int, total: int) -> None:
            self._say("clusters", f"copying this centre into East: {table} ({done:,}/{total:,})",
                      0.04 + 0.12 * (done / total if total else 1), logged=False)

        self._say("clusters", "copying this centre into East (database copy)", 0.04)
        copied = await copy_centre(self.source.settings, east_pg.url("bcl"), copying)
        if not copied["verified"]:
            raise DrillFailed("the copy of this centre into East did not verify")
        self._say("clusters", f"West: East's streaming standby (pg_basebackup), {copied['rows']:,} rows", 0.17)
        await asyncio.to_thread(west_pg.clone_as_standby, east_pg, "west")
        await asyncio.to_thread(west_pg.start)
        for sql in ("ALTER SYSTEM SET synchronous_standby_names = 'west'",
                    "ALTER SYSTEM SET synchronous_commit = 'remote_apply'", "SELECT pg_reload_conf()"):
            await asyncio.to_thread(east_pg.psql, sql)
        for _ in range(300):
            state = await asyncio.to_thread(
                east_pg.psql, "SELECT sync_state FROM pg_stat_replication WHERE application_name = 'west'")
            if state == "sync":
                break
            await asyncio.sleep(0.1)
        else:
            raise DrillFailed("West did not become East's synchronous standby within 30 s")
        self._say("clusters", "West is East's synchronous standby: an accepted write is at West already", 0.2)
        return east_pg, west_pg

    async def _runtime(self, directory: Path, cluster: LocalCluster, now: datetime) -> Runtime:
        runtime = Runtime(load_settings(str(directory), database_url=cluster.url("bcl"), now=now.isoformat()))
        await runtime.start(create=False)
        self._runtimes.append(runtime)
        return runtime

    async def _close(self, runtime: Runtime) -> None:
        if runtime in self._runtimes:
            self._runtimes.remove(runtime)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(runtime.stop(), 15)

    async def _tokens_and_batches(self, east_dir: Path, east_pg: LocalCluster,
                                  now: datetime) -> tuple[str, str, dict[str, Any]]:
        """At East: a kiosk operator's token, a municipality's linkage token, and delta
        batches of that municipality to deliver during the traffic."""
        east = await self._runtime(east_dir, east_pg, now)
        try:
            token = await east.tokens.issue("kiosk", f"drill-{self.id}", actor=DRILL)
            views = [v for v in await east.municipalities.all()
                     if v.state == State.LIVE and v.closed_reason is None]
            views.sort(key=lambda v: v.municipality.population)
            for view in views:
                export = self.root / "export"
                shutil.rmtree(export, ignore_errors=True)
                try:
                    exported = await east.linkage.export(view.code, export)
                except (StoreError, ValueError, LookupError):
                    continue
                break
            else:
                raise DrillFailed("no live municipality of this centre has linkage data to deliver")
            code = view.code
            linkage_token = await east.linkage.issue_token(code, actor=DRILL)
            count = max(2, int(self.seconds // 5))
            dirs = [self._delta(export, code, exported.sequence + i + 1, i + 1) for i in range(count)]
            return token, code, {"token": linkage_token, "dirs": dirs}
        finally:
            await self._close(east)

    def _delta(self, full: Path, code: str, sequence: int, n: int) -> Path:
        return address_delta(full, self.root / "batches" / f"{code}-{sequence:06d}", sequence=sequence,
                             changes=CHANGES, address=lambda a: f"{a.split('（')[0]}（訓練{n}）")

    async def _feed(self, outbox: Path, batches: list[Path]) -> None:
        """One batch into the outbox every few seconds, as a municipality's server makes them."""
        every = self.seconds / (len(batches) + 1)
        for batch in batches:
            await asyncio.sleep(every * self.rng.uniform(0.6, 1.0))
            await asyncio.to_thread(shutil.copytree, batch, outbox / f".{batch.name}")
            (outbox / f".{batch.name}").rename(outbox / batch.name)

    async def _drain(self, agent: LinkageAgent, outbox: Path, stop: asyncio.Event,
                     delivering: asyncio.Task[Any]) -> None:
        deadline = time.monotonic() + 30
        while agent.pending() and time.monotonic() < deadline:  # noqa: ASYNC110 - the outbox is a directory
            await asyncio.sleep(0.2)
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(delivering, 30)

    async def _serve(self, name: str, directory: Path, cluster: LocalCluster, port: int, now: datetime) -> None:
        log = (self.root / f"{name}-serve.log").open("ab")
        cmd = [sys.executable, "-m", "bcl_console", "--data-dir", str(directory), "--database", cluster.url("bcl"),
               "--now", now.isoformat(), "serve", "--port", str(port)]
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)  # noqa: ASYNC220 - returns at once
        log.close()
        self._serves[name] = proc
        url = f"http://127.0.0.1:{port}/healthz"
        deadline = time.monotonic() + 60
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    raise DrillFailed(f"{name.title()}'s serve stopped at start (exit {proc.returncode}): "
                                      f"see {self.root / f'{name}-serve.log'}")
                with contextlib.suppress(aiohttp.ClientError, TimeoutError, OSError):
                    async with http.get(url) as answer:
                        if answer.status == 200:
                            return
                await asyncio.sleep(0.2)
        raise DrillFailed(f"{name.title()}'s serve did not answer within 60 s")

    def _kill_east(self, east_pg: LocalCluster) -> None:
        proc = self._serves.pop("east", None)
        if proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        kill_server(east_pg.data)
        if proc is not None:
            proc.wait()

    async def _promote_when_lost(self, west: Runtime) -> None:
        """What the operator at West does: wait until West no longer receives from East,
        then promote (refused while East is alive)."""
        deadline = time.monotonic() + 30
        while (await west.centres.state()).upstream_alive:
            if time.monotonic() > deadline:
                raise DrillFailed("West still received from East 30 s after East was killed")
            await asyncio.sleep(0.05)
        self.report.west_lost_stream_at = self._t()
        await west.centres.promote(actor=DRILL)

    async def _watch_first_completion(self, journal: list[FlowRecord], died: float) -> None:
        """Tell the watchers the moment the first issuance is completed at West after
        East's death (cancelled when the traffic ends)."""
        while True:
            done = [f.completed_at for f in journal if f.centre == 1 and f.completed_at is not None
                    and f.completed_at > died]
            if done:
                self._say("failover", f"first issuance completed at West: RTO {min(done) - died:.2f} s")
                return
            await asyncio.sleep(0.05)

    async def _check(self, west: Runtime, journal: list[FlowRecord], agent: LinkageAgent, code: str) -> None:
        """Every step a client was told was accepted, looked up at West; and every request of
        the drill's kiosks at West accounted for by a flow (nothing made twice, nothing
        billed twice); every batch applied once."""
        r = self.report
        problems: list[str] = []
        accepted = lost = duplicated = wrong = 0
        for flow in journal:
            if flow.request_id is None:
                continue
            steps = 1 + flow.paid + (flow.completed is not None)
            accepted += steps
            record = await west.store.issuances.by_request(flow.request_id)
            if record is None:
                lost += steps
                problems.append(f"request {flow.request_id} was accepted and is not at West")
                continue
            if flow.paid and record.state == "awaiting_payment":
                lost += 1
                problems.append(f"the payment of {flow.request_id} was accepted and West has it unpaid")
            expected = {"printed": "printed", "failed": "voided"}.get(flow.completed or "")
            if expected is not None and record.state != expected:
                lost += 1
                problems.append(f"the completion of {flow.request_id} ({flow.completed}) was accepted and West "
                                f"has it {record.state}")
            card = await west.store.cards.card(flow.card_serial)
            if card is None or card.resident_code != record.resident_code:
                wrong += 1
                problems.append(f"request {flow.request_id} is for another person than its card's")
            if flow.document_sha256 is not None and flow.document_sha256 != record.content_sha256:
                wrong += 1
                problems.append(f"the document downloaded for {flow.request_id} is not the one West holds")
        # every request at West of the drill's operator is one flow's, and each flow's only one
        flows = {f.key: f for f in journal}
        seen: set[str] = set()
        for request_id, key, state in await west.store.issuances.operator_requests(f"drill-{self.id}"):
            owner = flows.get(key or "")
            if owner is None or key in seen or (owner.request_id is not None and owner.request_id != request_id):
                duplicated += 1
                problems.append(f"request {request_id} ({state}) at West is not the one request of a kiosk's flow")
            seen.add(key or "")
        applied = [d for d in agent.deliveries if d.outcome in ("applied", "already-applied")]
        rejected = [d.batch for d in agent.deliveries if d.outcome == "rejected"]
        if rejected:
            problems.append(f"valid batches were rejected: {', '.join(rejected)}")
        at_west: dict[int, list[str]] = {}
        for b in await west.store.linkage.batches(code, 1000):
            at_west.setdefault(b.sequence, []).append(b.outcome)
        for delivery in applied:
            accepted += 1
            sequence = int(delivery.batch.rsplit("-", 1)[-1])
            outcomes = at_west.get(sequence, [])
            if "applied" not in outcomes:
                lost += 1
                problems.append(f"batch {delivery.batch} was accepted and is not applied at West")
            elif outcomes.count("applied") > 1:
                duplicated += 1
                problems.append(f"batch {delivery.batch} is applied {outcomes.count('applied')} times at West")
        r.batches = {"delivered": len(applied), "rejected": len(rejected)}
        r.accepted, r.lost, r.duplicated, r.wrong_person = accepted, lost, duplicated, wrong
        r.problems += problems[:20]
        self._say("check", f"accepted {accepted}, lost {lost}, duplicated {duplicated}, wrong person {wrong}", 0.8)

    async def _bring_east_back(self, east_dir: Path, east_pg: LocalCluster, west_pg: LocalCluster,
                               east_port: int, now: datetime, token: str) -> None:
        r = self.report
        self._say("rejoin", "East's machine is back: its PostgreSQL server starts as it was", 0.82)
        await asyncio.to_thread(east_pg.start)
        await self._serve("east", east_dir, east_pg, east_port, now)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
            async with http.post(f"http://127.0.0.1:{east_port}/kiosk/v1/challenges",
                                 headers={"Authorization": f"Bearer {token}"}) as answer:
                body = await answer.json(content_type=None) if answer.content_length else None
                code = body.get("error", {}).get("code") if isinstance(body, dict) else None
                r.east_write_answer = f"{answer.status} {code or ''}".strip()
                r.east_fenced = answer.status == 503 and code == "standby"
        self._say("rejoin", "the old East refuses writes: West was promoted over it" if r.east_fenced
                  else f"the old East answered a write {r.east_write_answer}, not 503 standby", 0.85)
        east = await self._runtime(east_dir, east_pg, now)
        try:
            done = await east.centres.rejoin(
                west_pg.url("bcl"), actor=DRILL, pgdata=str(east_pg.data), name="east",
                progress=lambda m: self._say("rejoin", m))
        finally:
            await self._close(east)
        r.rejoin_method = done.method
        r.east_rejoined = done.state.role == "standby" and bool(done.active.replication and done.active.replication.sync)
        self._say("rejoin", f"East is West's synchronous standby ({done.method})" if r.east_rejoined
                  else "East did not become West's synchronous standby", 0.95)

    def _passes(self) -> bool:
        r = self.report
        checks = [
            (r.accepted > 0, "no step was accepted at all"),
            (r.lost == 0, f"{r.lost} accepted step(s) missing at West"),
            (r.duplicated == 0, f"{r.duplicated} duplicated"),
            (r.wrong_person == 0, f"{r.wrong_person} for the wrong person"),
            (r.rto_seconds is not None and r.rto_seconds < RTO_TARGET,
             f"RTO {r.rto_seconds} s is not under {RTO_TARGET:g} s"),
            (r.east_fenced, "the old East ACCEPTED a write after the failover"
             if (r.east_write_answer or "").startswith("20") else
             f"the old East's answer to a write was {r.east_write_answer or 'none'}, not 503 standby"),
            (r.east_rejoined, "East did not rejoin as West's standby"),
        ]
        found = bool(r.problems)  # traffic or check problems found on the way
        r.problems = [why for ok, why in checks if not ok] + r.problems
        return all(ok for ok, _ in checks) and not found

    async def _stop_everything(self) -> None:
        """Stop what the drill started. The processes and clusters are stopped by one thread,
        shielded: a drill cancelled (a console quit, a second Ctrl-C) still stops them, as
        the loop's shutdown waits for that thread."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(BaseException):
                await task
        self._tasks.clear()
        await asyncio.shield(asyncio.to_thread(self._stop_processes))
        atexit.unregister(self._stop_processes)
        for runtime in list(self._runtimes):
            await self._close(runtime)

    def _stop_processes(self) -> None:
        """Idempotent: run by the cleanup, and at exit if that was cut short."""
        for proc in self._serves.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self._serves.values():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self._serves.clear()
        for cluster in self._clusters:
            if cluster.data.is_dir():  # else never made
                with contextlib.suppress(Exception):
                    cluster.stop("immediate")
                with contextlib.suppress(Exception):
                    if cluster.running():  # pg_ctl could not stop it: the machine's way
                        kill_server(cluster.data)
            if cluster.log_file.exists():
                with contextlib.suppress(OSError):
                    shutil.copy(cluster.log_file, self.root / f"{cluster.directory.name}.log")
            if not self.keep:
                shutil.rmtree(cluster.directory, True)
        if not self.keep:
            for name in ("east", "west", "outbox", "export", "batches"):
                shutil.rmtree(self.root / name, True)


def summary_line(report: DrillReport) -> str:
    rto = "-" if report.rto_seconds is None else f"{report.rto_seconds:.2f} s"
    return (f"{report.verdict.upper()}: accepted {report.accepted}, lost {report.lost}, duplicated "
            f"{report.duplicated}, wrong person {report.wrong_person}, RTO {rto}, old East fenced "
            f"{'yes' if report.east_fenced else 'NO'}, rejoined {'yes' if report.east_rejoined else 'NO'}")


