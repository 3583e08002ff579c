"""The demo's onboarding story, played for real through the centre's services.

- 西ヶ谷町 has just applied: its plan is made, the materials request is sent.
- 東浜市 is mid-testing: its linkage AP (the real linkage agent) sends its data over
  HTTP with its own token, the linkage test and stage 2 pass, stage 3 is issued at every
  registered kiosk operator and confirmed, and the business operation test fails
  because its BCP and disaster-support plans are not confirmed yet.
- 北山町 and 桜川村 joined before the centre kept plans: in service, no plan.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from bcl_console.clients.linkage_agent import LinkageAgent
from bcl_console.demo.service import OPERATORS, demo_municipalities
from bcl_console.http.app import HttpServer
from bcl_console.services.platform.actor import DEMO, Actor
from bcl_console.services.platform.clock import today_in_japan

if TYPE_CHECKING:
    from bcl_console.services.platform.runtime import Runtime

log = logging.getLogger(__name__)

#: 東浜市's internal procedures done so far (the BCP and disaster-support plans are not).
CITY_DONE = ("materials-request", "manuals-received", "review-personal-info", "ordinance-fee-reduction",
             "ordinance-seal", "procedure-fee-settlement", "budget", "terms-signed", "bcl-application",
             "system-modification", "linkage-server", "store-application")
CITY_STAFF = Actor("東浜市 市民課", "demo")


async def play(runtime: Runtime) -> None:
    today = today_in_japan(runtime.clock)
    specs = {s.municipality.name: s.municipality for s in demo_municipalities(today)}
    for name in OPERATORS:
        await runtime.tokens.issue("kiosk", name, actor=DEMO)
    town = specs["西ヶ谷町"]
    assert town.service_start is not None
    await runtime.onboarding.plan(town.code, town.service_start.isoformat(), actor=DEMO)
    await runtime.onboarding.done(town.code, "materials-request", note="申込書・誓約書 受領", actor=CITY_STAFF)
    await _city(runtime, specs["東浜市"].code, specs["東浜市"].service_start or today)
    await runtime.onboarding.remind()  # what the 07:00 job would have marked today


async def _city(runtime: Runtime, code: str, start: date) -> None:
    onboarding, stages = runtime.onboarding, runtime.teststages
    await onboarding.plan(code, start.isoformat(), actor=DEMO)
    for step in CITY_DONE:
        await onboarding.done(code, step, actor=CITY_STAFF)
    token = await runtime.linkage.issue_token(code, actor=DEMO)
    server = await HttpServer.start(runtime, "127.0.0.1", 0)
    outbox = Path(tempfile.mkdtemp(prefix="demo-outbox-", dir=runtime.linkage.tmp_dir))
    try:
        await runtime.linkage.export(code, outbox / f"{code}-000002", sequence=2)
        await LinkageAgent(outbox, server.url, token, say=log.info).run(once=True)
    finally:
        await server.stop()
        shutil.rmtree(outbox, ignore_errors=True)
    for stage in ("linkage", "stage1", "stage2", "stage3"):
        await stages.run(code, stage, actor=DEMO)
    await stages.confirm(code, "stage3", actor=CITY_STAFF, note="3社の証明書の記載内容を確認")
    await stages.run(code, "operation", actor=DEMO)
