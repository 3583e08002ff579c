"""The test stages (試験), run for real against the centre's own services.

- linkage: the newest batch the municipality sent with its linkage token (over HTTP) is
  checked against the intermediate DB: its backup decrypts, every file's checksum
  matches the manifest, the record counts match, and sampled residents match field by field.
- stage1: not required for BCL-hosted municipalities (recorded as such); for own-server
  ones the own server must answer for each test resident.
- stage2: every certificate type offered is issued through the relay, in the
  pseudo-evaluation environment (channel test-stage-2, never billed), and verifies.
- stage3: per registered kiosk operator, a test issuance as that operator (channel
  test-stage-3); passes when an operator confirms the documents' content.
- operation: a failure drill — the relay must answer 503 while it runs and serve again
  after; the municipality's procedure checklist must be ticked.
- real-store: a real issuance at a store (channel real-store-test), paid and settled.

Every run is recorded with its evidence and log; a passed stage ticks its plan step.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

from bcl_console.domain import linkage as rules
from bcl_console.domain.errors import Conflict, DomainError, InvalidInput, NotFound, Unavailable
from bcl_console.domain.fiscal import tokyo, tokyo_at
from bcl_console.domain.linkage import Problems
from bcl_console.domain.municipality import CertificateType, Hosting, Municipality
from bcl_console.domain.onboarding import (
    STAGE_CHANNELS,
    Outcome,
    Stage,
    missing_prerequisites,
    parse_stage,
    required_stages,
)
from bcl_console.services.issuance.own_server import OwnServerClient, OwnServerUnavailable
from bcl_console.services.issuance.pki import CardHolder, PkiService
from bcl_console.services.issuance.relay import RelayService
from bcl_console.services.issuance.relay_values import CardProof, CertificateOrder, SessionOpened
from bcl_console.services.issuance.service import IssuanceService
from bcl_console.services.issuance.verification import VerificationService
from bcl_console.services.linkage.backup_crypto import decrypt_to_temp
from bcl_console.services.linkage.batch_rows import csv_rows
from bcl_console.services.linkage.batch_source import open_source, sha256_of
from bcl_console.services.linkage.service import read_manifest
from bcl_console.services.platform.actor import Actor
from bcl_console.services.platform.clock import Clock, iso_now, today_in_japan
from bcl_console.services.platform.events import (
    EventBus,
    MunicipalityChanged,
    OnboardingChanged,
    StageFinished,
    StageProgress,
)
from bcl_console.services.platform.keys import KeyStore
from bcl_console.store import Conn, Database
from bcl_console.store import cards as card_store
from bcl_console.store import linkage as linkage_store
from bcl_console.store import municipalities as muni_store
from bcl_console.store import onboarding as store
from bcl_console.store import residents as res_store
from bcl_console.store import tokens as token_store
from bcl_console.store.audit import AuditEntry, append_audit
from bcl_console.store.onboarding import StageRun

#: The centre's own pseudo-evaluation kiosk (擬似評価環境) that stage 2 issues through.
PSEUDO_OPERATOR = "擬似評価環境"
SAMPLE_RECORDS = 20
T = TypeVar("T")
TEST_RESIDENTS = 3

LogFn = Callable[[str], None]


class StageFailed(Exception):
    """The stage ran and did not pass: the reason goes on the record."""


class RefusedByRelay(StageFailed):
    """The relay refused a step of a test issuance, as it would refuse a kiosk."""

    def __init__(self, error: DomainError) -> None:
        super().__init__(f"the relay refused: {error.code}: {error.message}")
        self.error = error


@dataclass
class _Run:
    municipality: Municipality
    stage: Stage
    log: LogFn
    evidence: dict[str, Any] = field(default_factory=dict)


class TestStageService:
    def __init__(self, db: Database, clock: Clock, bus: EventBus, keys: KeyStore, data_dir: Path,
                 pki: PkiService, issuance: IssuanceService, relay: RelayService,
                 verification: VerificationService, own_server: OwnServerClient) -> None:
        self._db = db
        self._clock = clock
        self._bus = bus
        self._keys = keys
        self._data_dir = data_dir
        self._pki = pki
        self._issuance = issuance
        self._relay = relay
        self._verification = verification
        self._own = own_server
        self._running: set[str] = set()

    # -- reading -------------------------------------------------------------------------------
    async def runs(self, code: str) -> list[StageRun]:
        if not await self._db.read(muni_store.municipality_exists, code):
            raise NotFound(f"municipality {code} is not registered", field="code")
        return await self._db.read(store.runs, code)

    async def get_run(self, run_id: int) -> StageRun:
        run = await self._db.read(store.get_run, run_id)
        if run is None:
            raise NotFound(f"there is no stage run {run_id}", field="run")
        return run

    async def operators(self) -> list[str]:
        return await self._db.read(token_store.token_subjects, "kiosk")

    # -- running -------------------------------------------------------------------------------
    async def run(self, code: str, stage_text: str, *, actor: Actor, operator: str | None = None,
                  log: LogFn | None = None) -> StageRun:
        """Run one stage now; its outcome, evidence and log are recorded whatever happens."""
        stage = parse_stage(stage_text)
        m = await self._db.read(muni_store.get_municipality, code)
        if m is None:
            raise NotFound(f"municipality {code} is not registered", field="code")
        plan = await self._db.read(store.get_plan, code)
        if plan is None:
            raise NotFound(f"municipality {code} has no onboarding plan "
                           f"(make one: onboarding plan {code} --service-start YYYY-MM-DD)", field="code")
        passed = await self._db.read(store.passed_stage_set, code)
        missing = missing_prerequisites(stage, m.hosting, passed)
        if missing:
            raise Conflict(f"stage {stage.value} needs {', '.join(s.value for s in missing)} to pass first",
                           field="stage")
        if code in self._running:
            raise Conflict(f"a test stage of {code} is already running", field="code")
        self._running.add(code)
        lines: list[str] = []

        def say(text: str) -> None:
            stamp = tokyo(self._clock.now()).strftime("%H:%M:%S")
            lines.append(f"{stamp} {text}")
            self._bus.publish(StageProgress(code, stage.value, text))
            if log is not None:
                log(text)

        try:
            run_id = await self._db.write(store.start_run, code, stage, iso_now(self._clock), actor.name)
            ctx = _Run(m, stage, say)
            started = time.perf_counter()
            say(f"{stage.label_ja} ({stage.value}) for {m.name} {m.code} started by {actor.name}")
            try:
                outcome, reason = await self._dispatch(ctx, plan.offers_seal, operator)
            except StageFailed as exc:
                outcome, reason = Outcome.FAILED, str(exc)
            except DomainError as exc:
                outcome, reason = Outcome.FAILED, exc.sentence()
            ctx.evidence["seconds"] = round(time.perf_counter() - started, 2)
            say(f"{outcome.value}: {reason}")
            await self._finish(run_id, code, stage, outcome, reason, ctx.evidence, "\n".join(lines), actor)
        finally:
            self._running.discard(code)
        self._bus.publish(StageFinished(code, stage.value, outcome.value))
        self._bus.publish(OnboardingChanged(code, "stage"))
        if outcome in (Outcome.PASSED, Outcome.NOT_REQUIRED):
            self._bus.publish(MunicipalityChanged(code, "stage"))
        return await self.get_run(run_id)

    async def _finish(self, run_id: int, code: str, stage: Stage, outcome: Outcome, reason: str,
                      evidence: dict[str, Any], log: str, actor: Actor) -> None:
        at = iso_now(self._clock)
        today = today_in_japan(self._clock)

        def tx(conn: Conn) -> None:
            store.finish_run(conn, run_id, at, outcome, reason, evidence, log)
            if outcome in (Outcome.PASSED, Outcome.NOT_REQUIRED):
                store.mark_stage_step_done(conn, code, stage, today, f"stage run {run_id} {outcome.value}")
            append_audit(conn, AuditEntry(at, actor.name, actor.interface, code, "test-stage", stage.value,
                                          None, f"run {run_id}: {outcome.value}"))

        await self._db.write(tx)

    async def _dispatch(self, ctx: _Run, offers_seal: bool, operator: str | None) -> tuple[Outcome, str]:
        stage, m = ctx.stage, ctx.municipality
        if stage is Stage.STAGE1 and m.hosting is Hosting.BCL:
            return Outcome.NOT_REQUIRED, "stage 1 (pre-evaluation tool) is not required for BCL-hosted municipalities"
        if stage not in required_stages(m.hosting):
            return Outcome.NOT_REQUIRED, f"{stage.value} is not required for {m.hosting.value} hosting"
        if stage is Stage.LINKAGE:
            return await self._linkage(ctx)
        if stage is Stage.STAGE1:
            return await self._stage1(ctx)
        if stage is Stage.STAGE2:
            return await self._stage2(ctx, offers_seal)
        if stage is Stage.STAGE3:
            return await self._stage3(ctx)
        if stage is Stage.OPERATION:
            return await self._operation(ctx)
        return await self._real_store(ctx, operator)

    # -- linkage ---------------------------------------------------------------------------------
    async def _linkage(self, ctx: _Run) -> tuple[Outcome, str]:
        code = ctx.municipality.code
        batches = [b for b in await self._db.read(linkage_store.list_batches, code, 1000)
                   if b.outcome == "applied" and b.source == "http"]
        if not batches:
            raise StageFailed("no batch has arrived through the linkage API with this municipality's token")
        batch = max(batches, key=lambda b: b.sequence)
        received = tokyo_at(batch.received_at)
        ctx.log(f"batch {batch.sequence} ({batch.kind}) received {received:%Y-%m-%d %H:%M} JST over HTTP")
        backups = {b.sequence: b for b in await self._db.read(linkage_store.list_backups, code)}
        backup = backups.get(batch.sequence)
        if backup is None:
            raise StageFailed(f"batch {batch.sequence} has no backup")
        latest = await self._db.read(linkage_store.last_applied_sequence, code)
        today = today_in_japan(self._clock)
        checked = await asyncio.to_thread(self._read_backup, backup.path, batch.checksums, today)
        ctx.evidence.update({"batch_sequence": batch.sequence, "batch_kind": batch.kind,
                             "received_at": batch.received_at, "checksums": checked["checksums"]})
        ctx.log(f"backup decrypted; checksums of {len(checked['checksums'])} file(s) match the manifest")
        if checked["mismatch"]:
            raise StageFailed(f"checksum mismatch: {', '.join(checked['mismatch'])}")
        held = (await self._db.read(res_store.held_counts)).get(code)
        counts = {"batch_residents": batch.counts.get("residents", 0),
                  "db_residents": held.residents if held else 0}
        ctx.evidence.update(counts)
        if batch.kind == "full" and batch.sequence == latest and counts["batch_residents"] != counts["db_residents"]:
            raise StageFailed(f"the batch has {counts['batch_residents']:,} residents, "
                              f"the intermediate DB holds {counts['db_residents']:,}")
        ctx.log(f"counts: batch {counts['batch_residents']:,} residents, DB {counts['db_residents']:,}")
        sample: dict[str, tuple[Any, ...]] = checked["sample"]
        stored = await self._db.read(res_store.resident_values, code, list(sample))
        differ = [rc for rc, values in sample.items()
                  if batch.sequence == latest and stored.get(rc) != values]
        ctx.evidence.update({"sampled": len(sample), "sample_mismatches": differ[:10]})
        if differ:
            raise StageFailed(f"{len(differ)} of {len(sample)} sampled residents differ from the intermediate DB "
                              f"(e.g. {differ[0]})")
        ctx.log(f"{len(sample)} sampled residents match field by field")
        return Outcome.PASSED, (f"batch {batch.sequence} reached the intermediate DB: checksums, counts and "
                                f"{len(sample)} sampled records match")

    def _read_backup(self, rel_path: str, checksums: dict[str, str], today: date) -> dict[str, Any]:
        """Decrypt a batch's backup, check its checksums, sample residents (runs in a thread)."""
        plain = decrypt_to_temp(self._keys.backup_key, Path(self._data_dir) / rel_path, Path(self._data_dir) / "tmp")
        try:
            problems = Problems()
            source = open_source(plain, problems)
            if source is None:
                raise StageFailed("the batch's backup cannot be read: "
                                  + "; ".join(p.reason for p in problems.items[:3]))
            try:
                found: dict[str, str] = {}
                for file in sorted(checksums):
                    with source.open(file) as fh:
                        found[file] = sha256_of(fh)
                mismatch = [file for file, expected in sorted(checksums.items()) if found[file] != expected]
                sample: dict[str, tuple[Any, ...]] = {}
                manifest = read_manifest(source, problems)
                if manifest is not None and "residents.csv" in manifest.files:
                    rows = (row for _, row in csv_rows(source, "residents.csv", manifest, problems, [0])
                            if manifest.kind == "full" or row[-1].strip() != "D")
                    for row in _reservoir(rows, SAMPLE_RECORDS, random.Random(rel_path)):
                        values = rules.resident_row(row, today, [])
                        if values is not None:
                            sample[str(values[0])] = values
            finally:
                source.close()
        finally:
            plain.unlink(missing_ok=True)
        return {"checksums": found, "mismatch": mismatch, "sample": sample}

    # -- test residents and the in-process kiosk -----------------------------------------------------
    async def _test_residents(self, m: Municipality) -> list[str]:
        if m.hosting is Hosting.OWN_SERVER:
            residents = await self._db.read(card_store.card_residents, m.code, TEST_RESIDENTS)
        else:
            residents = await self._db.read(res_store.test_residents, m.code, TEST_RESIDENTS)
        if not residents:
            raise StageFailed("the municipality has no test residents (link its data, or issue test cards)")
        return residents

    async def _cards(self, m: Municipality, residents: list[str], ctx: _Run) -> dict[str, CardHolder]:
        """Fresh test cards for the test residents (recorded, so revocation checks apply)."""
        cards = await asyncio.gather(*(asyncio.to_thread(self._pki.make_card, m.code, rc) for rc in residents))
        await self._pki.record(list(cards), actor=Actor("teststage", "teststage"))
        ctx.evidence["test_cards"] = [c.serial for c in cards]
        ctx.log(f"{len(cards)} test card(s) made for residents {', '.join(residents)}")
        return {c.resident_code: CardHolder(c.pem) for c in cards}

    async def _registered_operators(self) -> list[str]:
        operators = await self.operators()
        if not operators:
            raise StageFailed("no kiosk operator is registered (kiosk register --operator NAME)")
        return operators

    async def _first_holder(self, ctx: _Run) -> CardHolder:
        """A fresh test card for the first test resident."""
        residents = await self._test_residents(ctx.municipality)
        return (await self._cards(ctx.municipality, residents[:1], ctx))[residents[0]]

    async def _session(self, operator: str, channel: str, holder: CardHolder) -> SessionOpened:
        """Authenticate the card at the relay as a kiosk does: challenge, signed nonce, session."""
        challenge = await _ask(self._relay.challenge(operator))
        proof = CardProof(challenge.challenge_id, holder.certificate, holder.sign(challenge.nonce))
        return await _ask(self._relay.open_session(operator, proof, channel=channel))

    async def _options(self, m: Municipality, resident: str, ctype: CertificateType) -> dict[str, Any] | None:
        """Options that make ``ctype`` issuable for ``resident``, or None when it is not."""
        options: dict[str, Any] = {}
        if ctype is CertificateType.RESIDENCE:
            options = {"scope": "self"}
        elif ctype is CertificateType.TAX:
            year = await self._db.read(res_store.latest_tax_year, m.code, resident)
            if year is None and m.hosting is Hosting.BCL:
                return None
            options = {"fiscal_year": year or tokyo(self._clock.now()).year}
        if m.hosting is Hosting.BCL:
            try:
                await self._issuance.prepare(resident, ctype.value, options, municipality_code=m.code)
            except DomainError:
                return None
        return options

    async def _flow(self, ctx: _Run, operator: str, channel: str, holder: CardHolder, ctype: CertificateType,
                    options: dict[str, Any]) -> dict[str, Any]:
        """One issuance through the relay, exactly as a kiosk drives it, then verified."""
        relay = self._relay
        session = await self._session(operator, channel, holder)
        key = f"teststage-{ctx.stage.value}-{time.time_ns()}"
        request = await _ask(relay.request(operator, CertificateOrder(session.session_id, ctype, 1, options),
                                           idempotency_key=key))
        rid = request.request_id
        paid = await _ask(relay.pay(operator, rid, request.fee_total))
        pdf = await _ask(relay.document(operator, rid))
        verdict = await self._verification.verify_bytes(pdf)
        done = await _ask(relay.complete(operator, rid, printed=True))
        item = {"operator": operator, "channel": channel, "type": ctype.value, "resident": session.resident_code,
                "request_id": rid, "fee": request.fee_total, "verification_code": paid.verification_code,
                "pages": paid.pages, "sha256": hashlib.sha256(pdf).hexdigest(), "verdict": verdict.status,
                "status": done.status}
        ctx.log(f"{operator}: {ctype.label} for {session.resident_code} → {paid.verification_code} "
                f"({paid.pages} page(s)), verification {verdict.status}")
        if verdict.status != "genuine":
            raise StageFailed(f"the {ctype.value} document of request {rid} did not verify: {verdict.reason}")
        return item

    # -- stage 1 (own-server only) ----------------------------------------------------------------------
    async def _stage1(self, ctx: _Run) -> tuple[Outcome, str]:
        m = ctx.municipality
        residents = await self._test_residents(m)
        answered = []
        for rc in residents:
            try:
                status = await self._own.resident_status(m, rc)
                content = await self._own.certificate_content(m, rc, "residence", {"scope": "self"})
            except OwnServerUnavailable as exc:
                raise StageFailed(f"the own server did not answer for resident {rc}: {exc.message}") from None
            if status is None:
                raise StageFailed(f"the own server does not know test resident {rc}")
            answered.append({"resident": rc, "type": content.type.value})
            ctx.log(f"own server answered for {rc}")
        ctx.evidence["answers"] = answered
        return Outcome.PASSED, f"the own server answered correctly for {len(answered)} test resident(s)"

    # -- stage 2 ------------------------------------------------------------------------------------------
    async def _stage2(self, ctx: _Run, offers_seal: bool) -> tuple[Outcome, str]:
        m = ctx.municipality
        residents = await self._test_residents(m)
        holders = await self._cards(m, residents, ctx)
        types = [CertificateType.RESIDENCE, CertificateType.TAX]
        if offers_seal:
            types.insert(1, CertificateType.SEAL)
        issued = []
        for ctype in types:
            for rc in residents:
                options = await self._options(m, rc, ctype)
                if options is not None:
                    issued.append(await self._flow(ctx, PSEUDO_OPERATOR, STAGE_CHANNELS[Stage.STAGE2],
                                                   holders[rc], ctype, options))
                    break
            else:
                raise StageFailed(f"no test resident can be issued a {ctype.value} certificate")
        ctx.evidence["issuances"] = issued
        return Outcome.PASSED, (f"{len(issued)} certificate type(s) issued in the pseudo-evaluation environment "
                                f"and verified: {', '.join(t.value for t in types)}")

    # -- stage 3 ------------------------------------------------------------------------------------------
    async def _stage3(self, ctx: _Run) -> tuple[Outcome, str]:
        m = ctx.municipality
        operators = await self._registered_operators()
        holder = await self._first_holder(ctx)
        issued = []
        for operator in operators:
            issued.append(await self._flow(ctx, operator, STAGE_CHANNELS[Stage.STAGE3], holder,
                                           CertificateType.RESIDENCE, {"scope": "self"}))
        ctx.evidence["issuances"] = issued
        ctx.evidence["documents"] = [f"documents/…/{i['request_id']}.pdf" for i in issued]
        ctx.log("the documents wait for the municipality to check their content "
                f"(teststage confirm {m.code} stage3)")
        return Outcome.AWAITING_CONFIRMATION, (f"{len(issued)} operator(s) issued on their test terminals; "
                                               "waiting for the content to be confirmed")

    async def confirm(self, code: str, stage_text: str, *, actor: Actor, note: str | None = None) -> StageRun:
        """The municipality has checked the stage-3 documents: the stage passes."""
        stage = parse_stage(stage_text)
        if note is not None and len(note) > 500:
            raise InvalidInput("the note is longer than 500 characters", field="note")
        at = iso_now(self._clock)
        today = today_in_japan(self._clock)

        def tx(conn: Conn) -> int:
            latest = store.latest_runs(conn, code).get(stage)
            if latest is None:
                raise Conflict(f"stage {stage.value} of {code} has not run yet", field="stage")
            if latest.outcome is not Outcome.AWAITING_CONFIRMATION:
                raise Conflict(f"stage {stage.value} of {code} is {latest.outcome.value}, not awaiting confirmation",
                               field="stage")
            store.confirm_run(conn, latest.id, at, actor.name, note)
            store.mark_stage_step_done(conn, code, stage, today, f"stage run {latest.id} confirmed by {actor.name}")
            append_audit(conn, AuditEntry(at, actor.name, actor.interface, code, "test-stage", stage.value,
                                          Outcome.AWAITING_CONFIRMATION.value, f"run {latest.id}: confirmed"))
            return latest.id

        run_id = await self._db.write(tx)
        self._bus.publish(StageFinished(code, stage.value, Outcome.PASSED.value))
        self._bus.publish(OnboardingChanged(code, "stage"))
        self._bus.publish(MunicipalityChanged(code, "stage"))
        return await self.get_run(run_id)

    # -- business operation test ----------------------------------------------------------------------------
    async def _operation(self, ctx: _Run) -> tuple[Outcome, str]:
        m = ctx.municipality
        holder = await self._first_holder(ctx)
        channel = STAGE_CHANNELS[Stage.STAGE2]
        await self._db.write(store.start_drill, m.code, iso_now(self._clock))
        self._bus.publish(MunicipalityChanged(m.code, "drill"))
        ctx.log("failure drill started: the centre is in a failure state for this municipality")
        try:
            during = await self._try_session(holder, channel)
        finally:
            await self._db.write(store.end_drill, m.code)
            self._bus.publish(MunicipalityChanged(m.code, "drill"))
        ctx.log(f"during the drill a kiosk got {during['status']} {during.get('code', '')}")
        after = await self._try_session(holder, channel)
        ctx.log(f"after the drill a kiosk got {after['status']}")
        ctx.evidence.update({"during_drill": during, "after_drill": after})
        if during["status"] != 503:
            raise StageFailed(f"during the drill the relay answered {during['status']}, not 503")
        if after["status"] != 201:
            raise StageFailed(f"after the drill the service did not return ({after['status']} {after.get('code')})")
        steps = await self._db.read(store.plan_steps, m.code)
        checklist = [s for s in steps if s.operation_checklist]
        open_items = [f"{s.title_ja} ({s.key})" for s in checklist if s.done_on is None]
        ctx.evidence["procedure_checklist"] = {s.key: s.done_on.isoformat() if s.done_on else None
                                               for s in checklist}
        if open_items:
            raise StageFailed(f"the municipality's procedure checklist is not confirmed: {', '.join(open_items)}; "
                              f"tick them on the Onboarding screen (n, select {m.code}, t on each step) or with "
                              f"`bcl-console onboarding done {m.code} STEP`")
        return Outcome.PASSED, "kiosks got a clear 503 during the drill, service returned after it, checklist confirmed"

    async def _try_session(self, holder: CardHolder, channel: str) -> dict[str, Any]:
        try:
            await self._session(PSEUDO_OPERATOR, channel, holder)
        except RefusedByRelay as refused:
            exc = refused.error
            # What a kiosk is told: 503 when the service is closed (the drill); the HTTP
            # statuses of other refusals are the HTTP layer's, and this stage fails on them.
            return {"status": 503 if isinstance(exc, Unavailable) else "refused", "code": exc.code,
                    "message": exc.message}
        return {"status": 201}

    # -- real-store test ---------------------------------------------------------------------------------------
    async def _real_store(self, ctx: _Run, operator: str | None) -> tuple[Outcome, str]:
        operators = await self._registered_operators()
        if operator is None:
            operator = operators[0]
        elif operator not in operators:
            raise StageFailed(f"{operator!r} is not a registered kiosk operator")
        holder = await self._first_holder(ctx)
        item = await self._flow(ctx, operator, STAGE_CHANNELS[Stage.REAL_STORE], holder,
                                CertificateType.RESIDENCE, {"scope": "self"})
        ctx.evidence["issuances"] = [item]
        return Outcome.PASSED, (f"a real issuance at {operator}'s store printed and verified; "
                                f"{item['fee']:,}円 settled like production")


async def _ask(step: Awaitable[T]) -> T:
    """A step of the in-process kiosk: what the relay refuses fails the stage, named as the relay's."""
    try:
        return await step
    except DomainError as exc:
        raise RefusedByRelay(exc) from None


def _reservoir(rows: Iterable[T], k: int, rng: random.Random) -> list[T]:
    """k rows drawn uniformly from a stream of unknown length, holding only k (a city's
    batch is never read whole into memory to sample twenty of its residents)."""
    kept: list[T] = []
    for i, row in enumerate(rows):
        if i < k:
            kept.append(row)
        else:
            j = rng.randrange(i + 1)
            if j < k:
                kept[j] = row
    return kept
