"""Making the demo data set: from outside the runtime, through its real services.

`make_demo` fills a started runtime (the data set, then its onboarding and disaster
stories); `remake_demo` is `bcl-console demo`, made whole in a staging directory and
swapped in; `ensure_demo` is the console's first start on an empty directory."""

from __future__ import annotations

import asyncio
import os
import shutil
from dataclasses import replace

from bcl_console.config import ConfigError, Settings, prepare_data_dir
from bcl_console.demo import disaster as demo_disaster
from bcl_console.demo import onboarding as demo_onboarding
from bcl_console.demo import terminals as demo_terminals
from bcl_console.demo.service import DemoService, DemoSummary, ProgressFn
from bcl_console.services.platform.clock import Clock, set_training_clock, training_now
from bcl_console.services.platform.datadir import swap_in
from bcl_console.services.platform.runtime import Runtime


def demo_service(runtime: Runtime) -> DemoService:
    """The demo data set's maker over a runtime's database, clock, events and test CA."""
    if runtime.db is None:
        raise ConfigError("the demo data set is made on SQLite: make it in a data directory without "
                          "--database, then move it with `bcl-console database copy --to URL`")
    return DemoService(runtime.db, runtime.clock, runtime.bus, runtime.pki,
                       runtime.settings.cards_dir)


async def make_demo(runtime: Runtime, seed: int, *, residents: int | None = None,
                    progress: ProgressFn | None = None) -> DemoSummary:
    """The demo data set, then its onboarding story played through the real services."""
    summary = await demo_service(runtime).create(seed, residents=residents, progress=progress)
    if progress is not None:
        progress("onboarding", 0, 1)
    await demo_onboarding.play(runtime)
    await demo_disaster.play(runtime, seed)
    await demo_terminals.play(runtime)
    if progress is not None:
        progress("onboarding", 1, 1)
    return summary


async def ensure_demo(runtime: Runtime) -> DemoSummary | None:
    """Make the demo data set if the database holds no municipality yet (SQLite only: a
    centre on PostgreSQL starts as it is)."""
    if runtime.db is not None and await demo_service(runtime).is_empty():
        return await make_demo(runtime, runtime.settings.demo_seed)
    return None


async def remake_demo(settings: Settings, seed: int, *, residents: int | None = None,
                      progress: ProgressFn | None = None, clock: Clock | None = None) -> DemoSummary:
    """`bcl-console demo`: the new data set is made whole in a staging directory inside the
    data directory (with the centre's own keys), then swapped in by renames. If anything
    fails on the way — a full disk above all — the staging directory is removed and the
    previous centre is left exactly as it was."""
    if settings.database_url:
        raise ConfigError("the demo data set is made on SQLite: make it in a data directory without "
                          "--database, then move it with `bcl-console database copy --to URL`")
    data_dir = settings.data_dir
    os.umask(0o077)
    prepare_data_dir(data_dir)
    if settings.now is None and clock is None:  # the directory's training clock, if it has one
        directory_now = training_now(data_dir)
        if directory_now is not None:
            settings = replace(settings, now=directory_now)
    staging = data_dir / ".demo-staging"
    await asyncio.to_thread(shutil.rmtree, staging, True)
    try:
        staging.mkdir(mode=0o700)
        if settings.keys_dir.is_dir():
            await asyncio.to_thread(shutil.copytree, settings.keys_dir, staging / "keys")
        runtime = Runtime(replace(settings, data_dir=staging), clock=clock)
        await runtime.start()
        try:
            summary = await make_demo(runtime, seed, residents=residents, progress=progress)
        finally:
            await runtime.stop()
        await asyncio.to_thread(swap_in, staging, data_dir)
    finally:
        await asyncio.to_thread(shutil.rmtree, staging, True)
    if settings.now is not None:  # `demo --now`: the whole directory lives at that time from now on
        set_training_clock(data_dir, settings.now)
    return summary

