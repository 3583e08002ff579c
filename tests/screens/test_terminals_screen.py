"""Management terminals from the Municipalities area, driven with the pilot at 80x24:
list a municipality's terminals, add one (its token shown once and working), revoke it
(its token refused at once over HTTP), every key in the footer."""

from __future__ import annotations

import aiohttp
from textual.widgets import DataTable, Input, Static

from bcl_console.app import BclApp
from bcl_console.http.app import start_http
from bcl_console.screens.terminals import TerminalsScreen
from bcl_console.screens.widgets import ConfirmDialog, FormDialog
from bcl_console.services.platform.runtime import Runtime
from tests.screens.rendered import lines_of
from tests.screens.test_console import SIZE, fill, open_municipality, settle, text_of


async def status_of(url: str, token: str) -> int:
    async with aiohttp.ClientSession() as http, http.get(
            f"{url}/manage/v1/status", headers={"Authorization": f"Bearer {token}"}) as r:
        return r.status


async def test_list_add_and_revoke_terminals_at_80x24(demo_runtime: Runtime) -> None:
    server = await start_http(demo_runtime, "127.0.0.1", 0)
    app = BclApp(demo_runtime)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app)
        screen = await open_municipality(app, pilot, "993611")
        assert "management terminals: 1 in use (北山町 管理端末)" in text_of(app, "#municipality-detail")
        footer = "".join(lines_of(app, screen.query_one("Footer")))
        for key, label in (("a", "Add"), ("h", "Hours"), ("s", "Suspend"), ("r", "Resume"), ("f", "Fees"),
                           ("t", "Terminals")):
            assert f"{key} {label}" in footer, footer

        await pilot.press("t")
        await settle(app)
        dialog = app.screen
        assert isinstance(dialog, TerminalsScreen) and dialog.code == "993611"
        table = dialog.query_one("#terminal-table", DataTable)
        assert table.row_count == 1 and table.get_row_at(0)[1] == "北山町 管理端末"
        assert table.get_row_at(0)[2] == "in use"
        shown = lines_of(app, dialog)
        assert any("Management terminals (管理端末) of 北山町 993611" in line for line in shown)
        footer = "".join(lines_of(app, dialog.query_one("Footer")))
        assert "a Add terminal" in footer and "x Revoke" in footer and "esc Close" in footer, footer

        # k: the same municipality's counter terminals (らくらく窓口), then back
        await pilot.press("k")
        await settle(app)
        assert any("Counter terminals (らくらく窓口) of 北山町 993611" in line for line in lines_of(app, dialog))
        counters = [t.name for t in await demo_runtime.counters.list("993611")]
        assert table.row_count == len(counters) >= 1 and table.get_row_at(0)[1] == counters[0]
        assert "/counter/v1" in text_of(app, "#terminal-detail")
        await pilot.press("k")
        await settle(app)
        assert table.row_count == 1 and table.get_row_at(0)[1] == "北山町 管理端末"

        # add: a name the rules refuse stays in the form; a good one shows the token once
        await pilot.press("a")
        await fill(app, pilot, {"name": "12345"})
        assert "digits alone" in text_of(app, "#form-error")
        await fill(app, pilot, {"name": "総務課 LGWAN端末"})
        await settle(app)
        token_dialog = app.screen
        assert isinstance(token_dialog, FormDialog)
        token = token_dialog.query_one("#field-token", Input).value
        assert token.startswith("bcl_mgt_") and "shown once" in str(
            token_dialog.query_one(".title", Static).render())
        assert await status_of(server.url, token) == 200
        await pilot.press("escape")
        await settle(app)
        assert app.screen is dialog and table.row_count == 2
        # the same name again, while in use: refused in the form
        await pilot.press("a")
        await fill(app, pilot, {"name": "総務課 LGWAN端末"})
        assert "already has a management terminal in use" in text_of(app, "#form-error")
        await pilot.press("escape")
        await settle(app)

        # revoke: asks first (n changes nothing), then y; the token is refused at once
        table.move_cursor(row=1)
        await pilot.press("x")
        await settle(app)
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("n")
        await settle(app)
        assert await status_of(server.url, token) == 200
        await pilot.press("x")
        await settle(app)
        await pilot.press("y")
        await settle(app)
        assert app.screen is dialog
        assert table.get_row_at(1)[2] == "revoked"
        assert await status_of(server.url, token) == 401
        assert "revoked" in str(dialog.query_one("#terminal-detail", Static).render())
        await pilot.press("x")  # already revoked: says so, asks nothing
        await settle(app)
        assert app.screen is dialog

        await pilot.press("escape")
        await settle(app)
        assert app.screen is screen
        await screen.show_detail()
        assert "management terminals: 1 in use" in text_of(app, "#municipality-detail")
        trail = [(e.action, e.interface) for e in await demo_runtime.municipalities.audit_trail("993611", limit=2)]
        assert trail == [("terminal-revoke", "console"), ("terminal-add", "console")]
