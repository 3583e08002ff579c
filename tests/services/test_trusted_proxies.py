"""Behind a load balancer (contract §10: several machines behind any balancer) the
per-address limits count the client the balancer forwarded for, not the balancer: a
peer among ``trusted-proxies`` is believed about ``X-Forwarded-For``, read from the
right; any other peer is not, whatever it writes there."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from ipaddress import ip_network
from pathlib import Path

import aiohttp
import pytest

from bcl_console.config import ConfigError, load_settings
from bcl_console.http.app import start_http
from bcl_console.services.platform.clock import FixedClock
from bcl_console.services.platform.runtime import Runtime
from tests.conftest import query


@pytest.fixture
async def proxied(demo_dir: Path, clock: FixedClock, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[
        tuple[Runtime, str]]:
    monkeypatch.setenv("BCL_TRUSTED_PROXIES", "127.0.0.1, 10.9.0.0/16")  # the test's balancer: loopback
    rt = Runtime(load_settings(str(demo_dir)), clock=clock)
    await rt.start()
    try:
        server = await start_http(rt, "127.0.0.1", 0)
        yield rt, server.url
    finally:
        await rt.stop()


async def lookup(url: str, forwarded: str | None, local: str = "127.0.0.1") -> int:
    headers = {} if forwarded is None else {"X-Forwarded-For": forwarded}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(local, 0))) as http, \
            http.get(url, headers=headers) as r:
        return r.status


async def test_the_limit_counts_the_client_a_trusted_proxy_forwarded_for(proxied: tuple[Runtime, str]) -> None:
    rt, url = proxied
    resident = query(rt.settings.db_path, "SELECT resident_code FROM residents WHERE status = 'active' "
                                          "AND restricted = 0 ORDER BY resident_code LIMIT 1")[0][0]
    code = (await rt.issuance.issue(resident, "residence")).record.verification_code
    page = f"{url}/verify/v1/{code}"
    # ten lookups of one client through the balancer, then the eleventh is refused
    assert [await lookup(page, "203.0.113.5") for _ in range(10)] == [200] * 10
    assert await lookup(page, "203.0.113.5") == 429
    # another client behind the same balancer has a budget of its own
    assert await lookup(page, "203.0.113.6") == 200
    # a client that writes a header of its own gains nothing: the balancer appended the
    # address it saw, and that (the rightmost hop not a trusted proxy) is the client;
    # hops of a trusted inner proxy are skipped on the way
    assert await lookup(page, "203.0.113.6, 203.0.113.5") == 429
    assert await lookup(page, "203.0.113.5, 10.9.3.4") == 429
    # a hop that is no address ends the walk at the proxy that passed it: the balancer's
    # own budget, not one the client names
    assert await lookup(page, "not-an-address, 10.9.3.4") == 200
    # nothing forwarded: the balancer itself
    assert await lookup(page, None) == 200

    # a peer that is no trusted proxy is the client, whatever it writes
    statuses = [await lookup(page, f"198.51.100.{i}", local="127.0.0.2") for i in range(11)]
    assert statuses == [200] * 10 + [429]

    # the access log names the client, not the balancer
    log = (rt.settings.logs_dir / "bcl-console.log").read_text(encoding="utf-8")
    assert '203.0.113.5 "GET /verify/v1/*" 429' in log and '127.0.0.2 "GET /verify/v1/*" 429' in log


def test_a_trusted_proxy_that_is_not_an_address_is_one_sentence(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "config.toml").write_text('trusted-proxies = ["10.0.0.0/8", "2001:db8::/32"]\n')
    assert load_settings(str(tmp_path)).trusted_proxies == (ip_network("10.0.0.0/8"), ip_network("2001:db8::/32"))
    monkeypatch.setenv("BCL_TRUSTED_PROXIES", "10.0.0.1 10.0.0.300")
    with pytest.raises(ConfigError, match=r"BCL_TRUSTED_PROXIES: '10.0.0.300' is not an address or a network"):
        load_settings(str(tmp_path))
    monkeypatch.delenv("BCL_TRUSTED_PROXIES")
    done = subprocess.run([sys.executable, "-m", "bcl_console", "--data-dir", str(tmp_path / "d"), "serve",
                           "--trusted-proxies", "balancer"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done
    assert "--trusted-proxies: 'balancer' is not an address or a network" in done.stderr
    assert not (tmp_path / "d").exists()  # nothing made
