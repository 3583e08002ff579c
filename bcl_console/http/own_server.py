"""The reference municipal issuance server (`bcl-console own-server`): what an own-server
municipality runs, speaking the interface of services/issuance/own_server.py from its own data
directory (its residents in its own intermediate DB)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from aiohttp import web

from bcl_console.domain.certificate import content_to_dict
from bcl_console.domain.errors import DomainError, NotFound
from bcl_console.http.common import RUNTIME_KEY, errors, json_error, read_json

if TYPE_CHECKING:
    from bcl_console.services.platform.runtime import Runtime

BASE = "/issuance/v1"
_CODE = re.compile(r"^\d{11}$")


async def resident(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME_KEY]
    code = request.match_info["code"]
    if not _CODE.match(code):
        return json_error(400, "bad_request", "a resident code is 11 digits")
    r = await runtime.residents.by_code(code)
    if r is None:
        return json_error(404, "unknown_resident", "the resident is not known here")
    return web.json_response({"status": r.status.value, "restricted": r.restricted})


async def certificate(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME_KEY]
    body = await read_json(request, 16 * 1024)
    code, type_, options = body.get("resident_code"), body.get("type"), body.get("options", {})
    if not isinstance(code, str) or not _CODE.match(code) or not isinstance(type_, str) \
            or not isinstance(options, dict):
        return json_error(400, "bad_request", "give resident_code, type and options")
    try:
        _, _, content, _ = await runtime.issuance.prepare(code, type_, options)
    except NotFound as exc:
        return json_error(404, "unknown_resident", exc.message)
    except DomainError as exc:
        return json_error(422, "not_issuable", exc.message)
    return web.json_response({"content": content_to_dict(content)})


def build_own_server_app(runtime: Runtime) -> web.Application:
    app = web.Application(client_max_size=64 * 1024, middlewares=[errors])
    app[RUNTIME_KEY] = runtime
    app.router.add_get(f"{BASE}/residents/{{code}}", resident)
    app.router.add_post(f"{BASE}/certificates", certificate)
    return app
