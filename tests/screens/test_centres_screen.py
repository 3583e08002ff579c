"""The Centres area (W) at 80x24: a SQLite centre says it is one centre and how to run two;
the last drills are listed with their figures and one is read with v; r starts a drill,
which on a machine without PostgreSQL says so in the drill's log and a notification,
having made nothing. (The drill itself, end to end: tests/cli/test_drill.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from textual.widgets import DataTable

from bcl_console.app import BclApp
from bcl_console.demo.drill import DrillReport, drills_dir
from bcl_console.screens.centres import CentresScreen
from bcl_console.services.platform.runtime import Runtime
from tests.screens.rendered import lines_of
from tests.screens.test_console import SIZE, settle, text_of


def write_report(rt: Runtime, drill: str, **figures: object) -> None:
    directory = drills_dir(rt.settings) / drill
    directory.mkdir(parents=True)
    report = DrillReport(drill, f"2026-12-0{drill[-1]}T10:00:00+00:00", directory=str(directory), **figures)
    (directory / "report.json").write_text(json.dumps(report.as_dict()), encoding="utf-8")


async def test_centres_area_single_centre_drills_and_a_drill_without_postgresql(
        demo_runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rt = demo_runtime
    write_report(rt, "20261201T100000-0001", accepted=310, rto_seconds=0.71, east_rejoined=True,
                 east_fenced=True, verdict="pass", rejoin_method="rewind", east_killed_at=14.2)
    write_report(rt, "20261202T100000-0002", accepted=120, lost=1, rto_seconds=None, verdict="fail",
                 problems=["request r1 was accepted and is not at West"])
    app = BclApp(rt)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app)
        await pilot.press("W")
        await settle(app)
        screen = app.screen
        assert isinstance(screen, CentresScreen)
        state = text_of(app, "#centres-state")
        assert "SINGLE" in state and "database copy --to URL" in state and "centre init-standby" in state
        footer = "".join(lines_of(app, screen.query_one("Footer")))
        assert "r Run drill" in footer and "v View drill" in footer
        table = screen.query_one("#centres-drills", DataTable)
        assert table.row_count == 2
        shown = "\n".join(lines_of(app, screen))
        # newest first, every figure on one line that fits 80 columns
        assert "12-02 10:00:00  fail     120       1     0    -      NO" in shown, shown
        assert "12-01 10:00:00  pass     310       0     0    0.71   yes" in shown, shown

        await pilot.press("v")  # the chosen (newest) drill's report
        await settle(app)
        log = text_of(app, "#centres-log")
        assert "fail" in log and "lost 1" in log and "not at West" in log
        await pilot.press("down", "v")
        await settle(app)
        log = text_of(app, "#centres-log")
        assert "RTO 0.71 s" in log and "East killed at 14.2 s" in log and "rejoined: yes (rewind)" in log

        empty = tmp_path / "no-postgresql"
        empty.mkdir()
        monkeypatch.setenv("BCL_PG_BINDIR", str(empty))
        await pilot.press("r")
        await settle(app)
        await pilot.press("enter")  # the form's default: 30 s of traffic
        await settle(app)
        assert "not installed" in text_of(app, "#centres-log")
        assert any("could not be run" in str(n.message) for n in app._notifications)
        assert sorted(p.name for p in drills_dir(rt.settings).iterdir()) == [
            "20261201T100000-0001", "20261202T100000-0002"]
