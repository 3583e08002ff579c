"""A kiosk client written from contract §5 alone (raw HTTP), for the relay tests; with
``api="counter"`` the same client speaks /counter/v1 (contract §14: the kiosk's shapes)."""

from __future__ import annotations

from typing import Any

import aiohttp

from bcl_console.services.issuance.pki import certificate_pem, sign_nonce


class Kiosk:
    def __init__(self, base: str, token: str, session: aiohttp.ClientSession, api: str = "kiosk") -> None:
        self.base = f"{base}/{api}/v1"
        self.headers = {"Authorization": f"Bearer {token}"}
        self.http = session

    async def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
                   raw: bytes | None = None) -> tuple[int, Any]:
        h = {**self.headers, **(headers or {})}
        kwargs: dict[str, Any] = {"headers": h}
        if raw is not None:
            kwargs["data"] = raw
            h.setdefault("Content-Type", "application/json")
        elif body is not None:
            kwargs["json"] = body
        async with self.http.request(method, self.base + path, **kwargs) as r:
            if r.content_type == "application/pdf":
                return r.status, await r.read()
            return r.status, await r.json()

    async def session(self, card: bytes) -> tuple[int, Any]:
        status, c = await self.call("POST", "/challenges")
        assert status == 201, c
        return await self.call("POST", "/sessions", {
            "challenge_id": c["challenge_id"], "certificate": certificate_pem(card),
            "signature": sign_nonce(card, c["nonce"])})

    async def flow(self, card: bytes, type_: str = "residence", options: dict[str, Any] | None = None,
                   key: str = "k") -> tuple[str, bytes]:
        status, s = await self.session(card)
        assert status == 201, s
        status, req = await self.call("POST", "/requests", {"session_id": s["session_id"], "type": type_,
                                                            "copies": 1, "options": options or {}},
                                      {"Idempotency-Key": key})
        assert status == 201, req
        status, paid = await self.call("POST", f"/requests/{req['request_id']}/payment", {"amount": req["fee_total"]})
        assert status == 200, paid
        status, pdf = await self.call("GET", f"/requests/{req['request_id']}/document")
        assert status == 200
        status, done = await self.call("POST", f"/requests/{req['request_id']}/completion", {"result": "printed"})
        assert status == 200, done
        return req["request_id"], pdf
