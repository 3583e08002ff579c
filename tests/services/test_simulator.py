"""The kiosk simulator against the real relay on loopback, with the demo's cards."""

from __future__ import annotations

from bcl_console.clients.simulator import Simulator, load_cards
from bcl_console.http.app import start_http
from bcl_console.services.platform.actor import Actor
from bcl_console.services.platform.runtime import Runtime
from tests.conftest import execute


async def test_simulated_traffic_is_counted_exactly(demo_runtime: Runtime) -> None:
    rt = demo_runtime
    server = await start_http(rt, "127.0.0.1", 0)
    token = await rt.tokens.issue("kiosk", "simulator", actor=Actor("t", "cli"))
    cards = load_cards(rt.settings.data_dir / "cards")
    assert len(cards) >= 100
    sim = Simulator(server.url, token, cards, kiosks=4, rate=20, duration=3, failed_print=0.2,
                    wrong_payment=0.2, seed=1)
    report = (await sim.run()).as_dict()
    outcomes = report["outcomes"]
    assert report["flows"] >= 30 and outcomes.get("printed", 0) > 0
    assert outcomes.get("voided-failed-print", 0) > 0
    assert any(k.startswith("refused-") for k in outcomes), outcomes  # onboarding city, revoked, moved out
    assert not any(k.startswith(("error", "payment", "document", "completion", "wrong")) for k in outcomes), outcomes
    assert report["latency_ms"]["p50"] > 0
    states = dict(await execute(rt, "SELECT state, count(*) FROM issuances WHERE operator='simulator' GROUP BY state"))
    assert states.get("printed", 0) == outcomes.get("printed", 0)
    assert states.get("voided", 0) == outcomes.get("voided-failed-print", 0)
