"""The linkage receiving API over real HTTP, and the agent against it on loopback."""

from __future__ import annotations

import asyncio
import io
import json
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

import aiohttp

from bcl_console.clients.linkage_agent import LinkageAgent, is_complete
from bcl_console.http.app import start_http
from bcl_console.services.platform.actor import Actor
from bcl_console.services.platform.runtime import Runtime
from tests.conftest import free_port
from tests.services.test_linkage import held_data, kept_rejections

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "fixtures" / "linkage"
OP = Actor("op", "cli")


def zipped(directory: Path) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(directory).as_posix())
    return buf.getvalue()


async def post(url: str, body: bytes, token: str | None, content_type: str = "application/zip") -> tuple[int, dict]:  # type: ignore[type-arg]
    headers = {"Content-Type": content_type}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    async with aiohttp.ClientSession() as s, s.post(f"{url}/linkage/v1/batches", data=body, headers=headers) as r:
        return r.status, await r.json()


async def test_receiving_api(demo_runtime: Runtime, db_dump: Callable[[Path], list[str]]) -> None:
    rt = demo_runtime
    server = await start_http(rt, "127.0.0.1", 0)
    token = await rt.linkage.issue_token("993611", actor=OP)
    other_token = await rt.linkage.issue_token("994821", actor=OP)
    body = zipped(FIX / "valid-full")

    before = db_dump(rt.settings.db_path)
    status, doc = await post(server.url, body, None)
    assert status == 401 and doc["error"]["code"] == "unauthorized"
    status, _ = await post(server.url, body, "bcl_lnk_not-a-token")
    assert status == 401
    status, doc = await post(server.url, body, token, "text/csv")
    assert status == 415
    # a token of one municipality can never write another's data
    status, doc = await post(server.url, body, other_token)
    assert status == 422 and doc["outcome"] == "rejected"
    assert "the token is 994821's" in doc["problems"][0]["reason"]
    # … nor its batch history: the rejection is the sender's, seen by the sender only
    assert doc["municipality_code"] == "994821"
    assert [b.outcome for b in await rt.linkage.batches("993611") if b.outcome == "rejected"] == []
    assert [b.outcome for b in await rt.linkage.batches("994821") if b.outcome == "rejected"] == ["rejected"]
    status, doc = await post(server.url, (FIX / "invalid" / "zip-slip.zip").read_bytes(), token)
    assert status == 422 and "unsafe entry" in doc["problems"][0]["reason"]
    status, doc = await post(server.url, zipped(FIX / "invalid" / "bad-dates"), token)
    assert status == 422 and len(doc["problems"]) == 4
    assert {p["line"] for p in doc["problems"]} == {2, 3, 4, 5}
    after = db_dump(rt.settings.db_path)
    assert held_data(after) == held_data(before) and kept_rejections(after) == kept_rejections(before) + 3

    status, doc = await post(server.url, body, token)
    assert status == 201 and doc["outcome"] == "applied" and doc["sequence"] == 2
    status, doc = await post(server.url, body, token)
    assert status == 200 and doc["outcome"] == "already-applied"
    # tokens are stored only as hashes
    assert not any(token in line for line in db_dump(rt.settings.db_path))


async def test_oversized_body_is_refused(demo_runtime: Runtime) -> None:
    server = await start_http(demo_runtime, "127.0.0.1", 0)
    token = await demo_runtime.linkage.issue_token("993611", actor=OP)
    from bcl_console.http import linkage as web_linkage

    limit = web_linkage.MAX_BATCH_BYTES
    web_linkage.MAX_BATCH_BYTES = 1000
    try:
        status, doc = await post(server.url, b"x" * 5000, token)
    finally:
        web_linkage.MAX_BATCH_BYTES = limit
    assert status == 413 and doc["error"]["code"] == "too_large"


async def test_agent_waits_for_the_centre_and_delivers_in_order(demo_runtime: Runtime, tmp_path: Path) -> None:
    rt = demo_runtime
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    shutil.copytree(FIX / "valid-delta", outbox / "b-delta")  # sequence 3
    shutil.copytree(FIX / "valid-full", outbox / "a-full")  # sequence 2: must go first
    half = shutil.copytree(FIX / "valid-full", outbox / "c-half-written")
    (half / "taxes.csv").write_text("resident_code\n", encoding="utf-8")  # not finished yet
    shutil.copytree(FIX / "invalid" / "sequence-gap", outbox / "d-gap")
    assert not is_complete(half)

    token = await rt.linkage.issue_token("993611", actor=OP)
    port = free_port()
    said: list[str] = []
    retried = asyncio.Event()  # the agent found the centre unreachable twice: it retries

    def say(line: str) -> None:
        said.append(line)
        if sum("unreachable" in s for s in said) >= 2:
            retried.set()

    agent = LinkageAgent(outbox, f"http://127.0.0.1:{port}", token, interval=0.1,
                         first_backoff=0.2, max_backoff=0.5, say=say)
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop=stop))
    # the centre is down: the agent tries, backs off and tries again (at most 30 s on a loaded machine)
    await asyncio.wait_for(retried.wait(), 30)
    assert [line.split(":")[0] for line in said if "unreachable" in line][:2] == ["a-full", "a-full"], said
    assert (outbox / "a-full").exists() and not agent.deliveries
    await start_http(rt, "127.0.0.1", port)  # the centre comes back
    for _ in range(600):  # at most 30 s on a loaded machine
        if len(agent.deliveries) >= 3:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await task
    assert [(d.batch, d.outcome) for d in agent.deliveries] == [
        ("a-full", "applied"), ("b-delta", "applied"), ("d-gap", "rejected"),
    ]
    assert sorted(p.name for p in (outbox / "sent").iterdir()) == ["a-full", "b-delta"]
    problems = json.loads((outbox / "rejected" / "d-gap.problems.json").read_text(encoding="utf-8"))
    assert "a delta must be sequence 4" in problems["problems"][0]["reason"]
    assert (outbox / "c-half-written").exists()  # never sent half-written
    assert [b.sequence for b in await rt.linkage.batches("993611") if b.outcome == "applied"][:2] == [3, 2]
