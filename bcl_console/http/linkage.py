"""Linkage receiving API (contract §6): POST /linkage/v1/batches with a zip body."""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

from aiohttp import web

from bcl_console.http.common import RUNTIME_KEY, bearer_token, json_error
from bcl_console.services.platform.logs import note_municipality

#: Largest batch accepted over HTTP (a 500,000-resident city zips to about 60 MB).
MAX_BATCH_BYTES = 1024 * 1024 * 1024
#: A batch upload that sends nothing for this many seconds is given up (408).
STALL_TIMEOUT = 60.0


async def post_batch(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME_KEY]
    token = bearer_token(request)
    code = await runtime.linkage.token_municipality(token) if token else None
    if code is None:
        return json_error(401, "unauthorized", "a valid linkage token is required (Authorization: Bearer …)")
    note_municipality(code)
    if request.content_type not in ("application/zip", "application/x-zip-compressed"):
        return json_error(415, "unsupported_media_type", "the body must be a zip (Content-Type: application/zip)")
    if request.content_length is not None and request.content_length > MAX_BATCH_BYTES:
        return json_error(413, "too_large", f"a batch may be at most {MAX_BATCH_BYTES:,} bytes")
    fd, name = tempfile.mkstemp(suffix=".zip", dir=runtime.linkage.tmp_dir)
    path = Path(name)
    try:
        size = 0
        with os.fdopen(fd, "wb") as fh:
            while True:
                try:  # a big batch may take long; a stalled one is given up
                    async with asyncio.timeout(STALL_TIMEOUT):
                        chunk = await request.content.read(1 << 20)
                except TimeoutError:
                    return json_error(408, "body_timeout", f"no part of the batch arrived for {STALL_TIMEOUT:.0f} s")
                if not chunk:
                    break
                size += len(chunk)
                if size > MAX_BATCH_BYTES:
                    return json_error(413, "too_large", f"a batch may be at most {MAX_BATCH_BYTES:,} bytes")
                await asyncio.to_thread(fh.write, chunk)
        if size == 0:
            return json_error(400, "empty_body", "the request has no body")
        result = await runtime.linkage.link(path, source="http", expected_code=code)
    finally:
        await asyncio.to_thread(path.unlink, missing_ok=True)
    status = {"applied": 201, "already-applied": 200}.get(result.outcome, 422)
    return web.json_response(result.as_dict(), status=status)


def setup(app: web.Application) -> None:
    app.router.add_post("/linkage/v1/batches", post_batch)
