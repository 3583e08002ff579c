"""Own-server municipalities (証明発行サーバ): the relay asks the municipality's own
issuance server, over HTTP, for the resident's status and the certificate's content,
then signs and renders it like BCL's own. A failure is OwnServerUnavailable, a timeout
OwnServerTimeout (the HTTP layer answers 502 and 504).

The interface (also served by `bcl-console own-server`, the reference server):
  GET  {url}/residents/{resident_code}  → 200 {"status", "restricted"} | 404
  POST {url}/certificates {"resident_code", "type", "options"}
                                        → 200 {"content": {...}} | 404/422 {"error": {...}}
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from bcl_console.domain.certificate import CertificateContent, content_from_dict
from bcl_console.domain.errors import DomainError, InvalidInput, UpstreamFailed, UpstreamTimeout
from bcl_console.domain.municipality import Municipality

TIMEOUT = aiohttp.ClientTimeout(total=10, connect=3)
MAX_ANSWER = 2 * 1024 * 1024


class OwnServerUnavailable(UpstreamFailed):
    """The municipality's issuance server cannot be reached or answered what cannot be used."""

    code = "own_server_unreachable"


class OwnServerTimeout(OwnServerUnavailable, UpstreamTimeout):
    """The municipality's issuance server did not answer in time."""

    code = "own_server_timeout"


class OwnServerClient:
    def __init__(self, timeout: aiohttp.ClientTimeout = TIMEOUT) -> None:
        self._session: aiohttp.ClientSession | None = None
        self.timeout = timeout

    async def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _call(self, m: Municipality, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        url = f"{m.server_url}{path}"
        try:
            session = await self._client()
            async with session.request(method, url, json=body) as resp:
                raw = await resp.content.read(MAX_ANSWER + 1)
                if len(raw) > MAX_ANSWER:
                    raise OwnServerUnavailable(f"{m.name}'s issuance server answered too much", code="own_server_bad_answer")
                try:
                    data = json.loads(raw) if raw else None
                except ValueError:
                    data = None
                return resp.status, data
        except TimeoutError:
            raise OwnServerTimeout(f"{m.name}'s issuance server did not answer in time") from None
        except aiohttp.ClientError as exc:
            raise OwnServerUnavailable(
                f"{m.name}'s issuance server cannot be reached ({exc.__class__.__name__})") from None

    async def resident_status(self, m: Municipality, resident_code: str) -> tuple[bool, bool] | None:
        status, data = await self._call(m, "GET", f"/residents/{resident_code}")
        if status == 404:
            return None
        if status != 200 or not isinstance(data, dict):
            raise OwnServerUnavailable(f"{m.name}'s issuance server answered HTTP {status}", code="own_server_bad_answer")
        return data.get("status") == "active", bool(data.get("restricted"))

    async def certificate_content(self, m: Municipality, resident_code: str, type_: str,
                                  options: dict[str, Any]) -> CertificateContent:
        status, data = await self._call(m, "POST", "/certificates",
                                        {"resident_code": resident_code, "type": type_, "options": options})
        if status in (404, 422):
            message = (data or {}).get("error", {}).get("message", "refused") if isinstance(data, dict) else "refused"
            raise InvalidInput(f"{m.name}'s issuance server refused: {message}")
        if status != 200 or not isinstance(data, dict):
            raise OwnServerUnavailable(f"{m.name}'s issuance server answered HTTP {status}", code="own_server_bad_answer")
        try:
            return content_from_dict(data.get("content"), municipality_code=m.code)
        except DomainError as exc:
            raise OwnServerUnavailable(exc.message, code="own_server_bad_answer") from None

