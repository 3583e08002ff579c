"""What every HTTP route shares (contract §9): the runtime key, bearer tokens, one error
middleware, and the one validation layer every request passes.

- A JSON body is read whole, however many TCP segments it arrives in, up to the route's
  limit (413 above it) and within ``BODY_TIMEOUT`` (408 when it drips slower).
- It must be UTF-8 JSON whose every string is valid Unicode (no lone surrogates), nested
  at most ``MAX_DEPTH`` deep, with integers that fit 64 bits and no NaN or Infinity.
- Header values must be valid UTF-8 without control characters.
Anything else is 400 with the JSON error body: a client never sees a 500 for its own bad
input, and never a stack trace.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import http_exceptions, web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.client_exceptions import ClientConnectionResetError
from aiohttp.typedefs import Handler
from aiohttp.web_protocol import RequestHandler, RequestPayloadError
from aiohttp.web_request import BaseRequest

from bcl_console.domain.errors import (
    BadRequest,
    Conflict,
    DomainError,
    NotFound,
    Refused,
    Unauthenticated,
    Unavailable,
    UpstreamFailed,
    UpstreamTimeout,
)
from bcl_console.services.issuance.pki import CardSignatureRefused, CardUnreadable
from bcl_console.services.platform.logs import EXTRA
from bcl_console.store import StoreBusy, StoreStandby, StoreUnavailable, disk_full

if TYPE_CHECKING:
    from bcl_console.services.platform.runtime import Runtime

log = logging.getLogger(__name__)

RUNTIME_KEY: web.AppKey[Runtime] = web.AppKey("runtime")

#: Largest JSON body of any route (a card session with its PEM is about 1.7 KB).
MAX_JSON = 64 * 1024
#: Deepest nesting of arrays and objects a JSON body may have.
MAX_DEPTH = 32
#: Integers in a JSON body must fit a signed 64-bit column.
MAX_INT = 2**63 - 1
#: A body must have arrived whole within this many seconds of its headers.
BODY_TIMEOUT = 30.0


def bearer_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):  # an IPv6 hop written as in a URL
        text = text[1:-1]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


#: The client of a request (``client_address``), worked out once per request.
CLIENT: web.RequestKey[str] = web.RequestKey("client-address", str)


def client_address(request: web.Request) -> str:
    """The client a request came from, for per-address limits and the log: the peer,
    unless the peer is one of the centre's trusted proxies (``trusted-proxies``); then
    the nearest hop of ``X-Forwarded-For`` that is not a trusted proxy, read from the
    right (the end the proxies appended to). A hop that is not an address ends the walk
    at the proxy that passed it on, so a client cannot name an address of its choice."""
    known = request.get(CLIENT)
    if known is None:
        known = request[CLIENT] = forwarded_client(request.remote or "?", request.headers.getall("X-Forwarded-For", ()),
                                                   request.app[RUNTIME_KEY].settings.trusted_proxies)
    return known


def forwarded_client(peer: str, forwarded: Iterable[str],
                     proxies: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> str:
    nearest = _address(peer)
    if not proxies or nearest is None:
        return peer

    def trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        return any(address in network for network in proxies)

    if not trusted(nearest):
        return str(nearest)
    for hop in reversed(",".join(forwarded).split(",")):
        if not hop.strip():
            continue
        address = _address(hop)
        if address is None:
            break
        nearest = address
        if not trusted(address):
            break
    return str(nearest)


@dataclass
class SharedLimit:
    """A limit per client address of a route anyone may call, counted by the store: every
    worker and machine serving the centre takes from one bucket per address (§10)."""

    name: str
    per_second: float
    burst: float

    async def wait(self, request: web.Request, key: str) -> float:
        """0 when the request may go ahead (one taken), else the seconds to wait."""
        return await request.app[RUNTIME_KEY].store.limits.take(self.name, key, self.per_second, self.burst)


def json_error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


class BodyTooLarge(BadRequest):
    """A body above its route's limit."""

    code = "too_large"


class BodyTimeout(BadRequest):
    """A body that did not arrive whole in time."""

    code = "body_timeout"


#: The one mapping from the domain's errors to HTTP statuses (contract §5): the most
#: specific class of an error that is named here decides; any other DomainError is 422.
STATUS: dict[type[DomainError], int] = {
    BadRequest: 400,
    CardUnreadable: 400,
    Unauthenticated: 401,
    CardSignatureRefused: 401,
    Refused: 403,
    NotFound: 404,
    BodyTimeout: 408,
    Conflict: 409,
    BodyTooLarge: 413,
    UpstreamFailed: 502,
    Unavailable: 503,
    UpstreamTimeout: 504,
}


def status_of(exc: DomainError) -> int:
    for kind in type(exc).__mro__:
        status = STATUS.get(kind)
        if status is not None:
            return status
    return 422


def bad_request(message: str, code: str = "bad_request") -> BadRequest:
    return BadRequest(message, code=code)


# --------------------------------------------------------------------------- bodies
async def read_body(request: web.Request, limit: int) -> bytes:
    """The whole body, however it was split on the wire; 413 above ``limit``."""
    too_large = BodyTooLarge(f"the body may be at most {limit // 1024} KiB")
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    buf = bytearray()
    try:
        async with asyncio.timeout(BODY_TIMEOUT):
            while True:
                chunk = await request.content.read(limit + 1 - len(buf))
                if not chunk:
                    break
                buf += chunk
                if len(buf) > limit:
                    raise too_large
    except TimeoutError:
        raise BodyTimeout(f"the body did not arrive within {BODY_TIMEOUT:.0f} s") from None
    except RequestPayloadError:  # a Content-Encoding that does not decode, a broken chunk
        raise bad_request("the body cannot be read (its encoding or chunking is broken)",
                          "malformed_body") from None
    return bytes(buf)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """A JSON object from bytes, or a 400 that says what is wrong with it."""
    if not raw:
        return {}
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise bad_request(f"the body is not valid UTF-8 (byte {exc.start})", "malformed_json") from None
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise bad_request(f"the body is nested deeper than {MAX_DEPTH} levels", "malformed_json") from None
    except ValueError as exc:
        raise bad_request(f"the body is not valid JSON ({_short(exc)})", "malformed_json") from None
    check_json_value(value)
    if not isinstance(value, dict):
        raise bad_request("the body must be a JSON object", "malformed_json")
    return value


def check_json_value(value: Any) -> None:
    """Depth, Unicode and integer range of a parsed JSON value (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                raise bad_request(f"the body is nested deeper than {MAX_DEPTH} levels", "malformed_json")
            if isinstance(item, dict):
                for key, child in item.items():
                    _check_text(key)
                    stack.append((child, depth + 1))
            else:
                stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, str):
            _check_text(item)
        elif isinstance(item, int) and not isinstance(item, bool) and not -MAX_INT - 1 <= item <= MAX_INT:
            raise bad_request("an integer in the body is outside the 64-bit range", "malformed_json")
        elif isinstance(item, float) and not math.isfinite(item):  # 1e400 parses to inf
            raise bad_request("a number in the body is too large (not finite)", "malformed_json")


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise bad_request("a string in the body holds a lone surrogate (not valid Unicode)",
                          "malformed_json") from None
    if "\x00" in text:  # no text a centre keeps holds one (PostgreSQL refuses it)
        raise bad_request("a string in the body holds a NUL character", "malformed_json")


def _short(exc: ValueError) -> str:
    return str(exc).split(":")[0][:80]


async def read_json(request: web.Request, limit: int = MAX_JSON) -> dict[str, Any]:
    """Every JSON route's body: read whole, then checked (module doc)."""
    return parse_json_object(await read_body(request, limit))


def header_text(request: web.Request, name: str, limit: int) -> str | None:
    """A header's value (None when absent), at most ``limit`` characters, or a 400."""
    value = request.headers.get(name)
    if value is not None and len(value) > limit:
        raise bad_request(f"the {name} header may be at most {limit} characters", "bad_header")
    return value


# --------------------------------------------------------------------------- middlewares
#: A control character in a header value (C0 but the tab, DEL, C1).
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f]")


def _header_problem(request: web.Request) -> tuple[str, str] | None:
    """(error code, message) of what no route may see in a request's path or headers."""
    if "\x00" in request.path:  # %00: no name or code a route looks up holds one
        return "bad_path", "the path holds a NUL character"
    if "\x00" in request.query_string:
        return "bad_path", "the query string holds a NUL character"
    for name, value in request.headers.items():
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return "bad_header", f"the {name} header is not valid UTF-8"
        if _CONTROL.search(value) is not None:
            return "bad_header", f"the {name} header holds a control character"
    return None


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The one place errors become responses: ``{"error": {"code", "message"}}``, never a
    stack trace. Header values are checked here, before any route sees them."""
    problem = _header_problem(request)
    if problem is not None:
        return json_error(400, *problem)
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return json_error(exc.status, exc.reason.lower().replace(" ", "_"), exc.reason)
    except DomainError as exc:
        return json_error(status_of(exc), exc.code, exc.message)
    except (ConnectionResetError, ClientConnectionResetError):  # the client went away mid-request
        log.info("%s %s: the client closed the connection", request.method, loggable_path(request))
        return json_error(400, "client_gone", "the connection was closed before the request was read")
    except Exception as exc:
        if disk_full(exc):
            log.error("%s %s: the data directory's disk is full", request.method, loggable_path(request))
            return json_error(503, "storage_full", "the centre's storage is full; try again later")
        if isinstance(exc, StoreBusy):
            log.warning("%s %s: the database is busy", request.method, loggable_path(request))
            response = json_error(503, "busy", "the centre is busy; try again in a moment")
            response.headers["Retry-After"] = "1"
            return response
        if isinstance(exc, StoreStandby):
            log.info("%s %s: a write at the standby centre", request.method, loggable_path(request))
            response = json_error(503, "standby", "this centre is the standby; send writes to the active centre")
            response.headers["Retry-After"] = "1"
            return response
        if isinstance(exc, StoreUnavailable):
            log.warning("%s %s: the database cannot be reached", request.method, loggable_path(request))
            response = json_error(503, "unavailable", "the centre's database cannot be reached; try again")
            response.headers["Retry-After"] = "1"
            return response
        log.exception("unhandled error on %s %s", request.method, loggable_path(request))
        return json_error(500, "internal", "internal error")


#: The log fields of a request (services/platform/logs.py), set by the measuring middleware.
LOG_FIELDS: web.RequestKey[dict[str, Any]] = web.RequestKey("log-fields", dict)


class AccessLogger(AbstractAccessLogger):
    """One line per request with the path only: never a query string (it may hold a
    token), a header or a body. The JSON log format gets the same line as fields."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        path = loggable_path(request)
        fields = {**request.get(LOG_FIELDS, {}), "method": request.method, "path": path,
                  "status": response.status, "bytes": response.body_length, "latency_ms": round(time * 1000, 1)}
        # the client once a route has seen the request (a trusted proxy's forwarded-for),
        # else the peer (what HTTP could not read is logged by its connection's peer)
        self.logger.info('%s "%s %s" %s %s %.3fs', request.get(CLIENT) or request.remote, request.method, path,
                         response.status, response.body_length, time, extra={EXTRA: fields})


#: An 11-digit resident code in a path segment: never written to a log.
_RESIDENT_CODE = re.compile(r"(?<![0-9])[0-9]{11}(?![0-9])")
#: A certificate's verification code (``/verify/v1/{code}``) opens its fields: never logged.
_VERIFICATION_CODE = re.compile(r"^(/verify/v1/)[^/]*")


def loggable_path(request: web.BaseRequest) -> str:
    """A request's path as logs may hold it: no query, no resident or verification code."""
    path = _VERIFICATION_CODE.sub(r"\1*", request.rel_url.raw_path)
    return _RESIDENT_CODE.sub("*" * 11, path)  # the own-server's /residents/{code}


# --------------------------------------------------------------------------- the parser's own errors
#: What aiohttp's HTTP parser refuses before any route runs, said without quoting the input.
_PARSER_ERRORS: tuple[tuple[type[Exception], str], ...] = (
    (http_exceptions.LineTooLong, "a request line or header is too long"),
    (http_exceptions.BadHttpMethod, "the request method is not valid"),
    (http_exceptions.BadStatusLine, "the request line is not valid HTTP/1.1"),
    (http_exceptions.InvalidHeader, "a header is malformed"),
    (http_exceptions.TransferEncodingError, "the body's chunked encoding is broken"),
    (http_exceptions.ContentLengthError, "the body does not match its Content-Length"),
)


class JsonErrorsHandler(RequestHandler):
    """aiohttp's connection handler, whose own parser errors (a header over 8190 bytes, too
    many headers, a broken chunk size: no route ran, so the ``errors`` middleware did not
    either) are answered in the contract's JSON shape like every other error, and logged as
    one line that does not quote the input (a header line may hold a token; aiohttp logs
    the whole line with a traceback)."""

    def handle_error(self, request: BaseRequest, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        if status >= 500 or not isinstance(exc, http_exceptions.HttpProcessingError):
            return super().handle_error(request, status, exc, message)
        said = next((text for kind, text in _PARSER_ERRORS if isinstance(exc, kind)),
                    "the request cannot be read as HTTP/1.1")
        log.info("refused a request from %s that HTTP cannot read: %s", request.remote, said)
        if request.writer.output_size > 0:  # as aiohttp: a response begun cannot become another
            raise ConnectionError("a response was being sent; the connection is closed")
        response = json_error(status, "bad_http", said)
        response.force_close()
        return response


class JsonErrorsServer(web.Server):
    def __call__(self) -> RequestHandler:
        return JsonErrorsHandler(self, loop=self._loop, **self._kwargs)


class JsonErrorsRunner(web.AppRunner):
    """``web.AppRunner`` whose connections are ``JsonErrorsHandler``s (aiohttp 3.x builds
    its server in ``_make_server``; this takes the one it built and keeps its settings)."""

    async def _make_server(self) -> web.Server:
        built = await super()._make_server()
        return JsonErrorsServer(built.request_handler, request_factory=built.request_factory,
                                handler_cancellation=built.handler_cancellation, loop=built._loop,
                                **built._kwargs)
