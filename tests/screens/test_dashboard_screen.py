"""The Dashboard as an operator reads it at 80 columns (#18 item 14): the header breaks
between phrases only, and the two counts of people say what they count."""

from __future__ import annotations

from bcl_console.app import BclApp
from bcl_console.http.app import start_http
from bcl_console.services.platform.runtime import Runtime
from tests.conftest import query
from tests.screens.rendered import lines_of
from tests.screens.test_console import SIZE, settle


async def test_the_header_breaks_between_phrases_and_names_what_it_counts(demo_runtime: Runtime) -> None:
    rt = demo_runtime
    db = rt.settings.db_path
    ov = await rt.overview.snapshot()
    # "held" is the residents living there now; the records are what the demo generates.
    assert ov.residents_held == query(db, "SELECT count(*) FROM residents WHERE status = 'active'")[0][0]
    assert ov.records_held == query(db, "SELECT count(*) FROM residents")[0][0] > ov.residents_held
    await start_http(rt, "127.0.0.1", 0)  # its address is in the header, as in the console
    app = BclApp(rt)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app)
        await pilot.pause()
        lines = lines_of(app, app.screen.query_one("#status-line"))
        for phrase in ("JST (令和8年6月17日)", "5 municipalities", "3 open now",
                       f"{ov.residents_held:,} residents held (active)",
                       f"{ov.records_held:,} records with the moved-out and deceased, in {ov.households_held:,} households"):
            assert any(phrase in line for line in lines), (phrase, lines)
        await pilot.resize_terminal(160, 45)
        await settle(app)
        await pilot.pause()
        wide = lines_of(app, app.screen.query_one("#status-line"))
        assert len(wide) < len(lines) and any("5 municipalities" in line for line in wide)
