"""The municipality side (連携AP): watch an outbox folder and deliver each complete batch.

A batch in the outbox is a directory with a manifest.json, or a .zip holding one. It is
sent only when complete: the manifest is there and every listed file has its checksum,
so a batch still being written is left alone. Delivered batches move to ``sent/``;
rejected ones to ``rejected/`` with the centre's problem list beside them
(``NAME.problems.json``). While the centre is unreachable the agent retries with
exponential backoff, and never loses or reorders a batch.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bcl_console.services.linkage.batch_source import sha256_of

log = logging.getLogger(__name__)
ENDPOINT = "/linkage/v1/batches"


@dataclass
class Delivery:
    batch: str
    outcome: str  # applied | already-applied | rejected
    status: int
    problems: int


class AgentStopped(Exception):
    """The centre refused the token: retrying cannot help."""


def endpoint(url: str) -> str:
    url = url.rstrip("/")
    return url if url.endswith(ENDPOINT) else url + ENDPOINT


def _manifest_of(path: Path) -> dict[str, Any] | None:
    try:
        if path.is_dir():
            return dict(json.loads((path / "manifest.json").read_text(encoding="utf-8-sig")))
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if n == "manifest.json" or n.endswith("/manifest.json")]
            if len(names) != 1:
                return None
            return dict(json.loads(zf.read(names[0]).decode("utf-8-sig")))
    except (OSError, ValueError, zipfile.BadZipFile, KeyError):
        return None


def is_complete(path: Path) -> bool:
    """Manifest present and every listed file present with the listed checksum."""
    manifest = _manifest_of(path)
    if manifest is None or not isinstance(manifest.get("files"), dict):
        return False
    try:
        if path.is_dir():
            for name, entry in manifest["files"].items():
                with (path / name).open("rb") as fh:
                    found = sha256_of(fh)
                if found != str(entry.get("sha256", "")).lower():
                    return False
            return True
        with zipfile.ZipFile(path) as zf:
            prefix = next(n for n in zf.namelist() if n.endswith("manifest.json"))[: -len("manifest.json")]
            for name, entry in manifest["files"].items():
                with zf.open(prefix + name) as fh:
                    found = sha256_of(fh)
                if found != str(entry.get("sha256", "")).lower():
                    return False
            return True
    except (OSError, KeyError, StopIteration, zipfile.BadZipFile, AttributeError):
        return False


def _order(path: Path) -> tuple[str, int, str]:
    manifest = _manifest_of(path) or {}
    seq = manifest.get("sequence")
    return (str(manifest.get("municipality_code", "")), seq if isinstance(seq, int) else 0, path.name)


class LinkageAgent:
    def __init__(self, outbox: Path, url: str | Sequence[str], token: str, *, interval: float = 5.0,
                 max_backoff: float = 60.0, first_backoff: float = 1.0,
                 say: Callable[[str], None] | None = None) -> None:
        """``url``: the centre, or the two centres (East first): a batch that meets a
        connection failure or 503 ``standby`` (or ``unavailable``) goes to the next, the same bytes (the centre
        applies a batch once, whichever centre it reaches: idempotent by its sequence)."""
        self.outbox = outbox
        self.urls = [endpoint(u) for u in ([url] if isinstance(url, str) else url)]
        if not self.urls:
            raise ValueError("the linkage agent needs the centre's URL")
        self._current = 0
        self.token = token
        self.interval = interval
        self.max_backoff = max_backoff
        self.first_backoff = first_backoff
        self.say = say or (lambda text: log.info("%s", text))
        self.deliveries: list[Delivery] = []

    @property
    def url(self) -> str:
        """The centre batches go to now."""
        return self.urls[self._current]

    def _next_centre(self, batch: Path, why: str) -> bool:
        """Move on to the other centre; whether there is one."""
        if len(self.urls) == 1:
            return False
        self._current = (self._current + 1) % len(self.urls)
        self.say(f"{batch.name}: {why}; sending to the other centre, {self.url}")
        return True

    def pending(self) -> list[Path]:
        """Complete batches waiting in the outbox, in sending order."""
        found = []
        for entry in self.outbox.iterdir():
            if entry.name in ("sent", "rejected") or entry.name.startswith("."):
                continue
            if entry.is_dir() or entry.suffix.lower() == ".zip":
                if is_complete(entry):
                    found.append(entry)
        return sorted(found, key=_order)

    async def run(self, *, once: bool = False, stop: asyncio.Event | None = None) -> list[Delivery]:
        """Deliver batches until stopped; with ``once``, until the outbox holds none."""
        for sub in ("sent", "rejected"):
            (self.outbox / sub).mkdir(parents=True, exist_ok=True)
        timeout = aiohttp.ClientTimeout(total=600, connect=10)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while stop is None or not stop.is_set():
                batches = await asyncio.to_thread(self.pending)
                for batch in batches:
                    await self._deliver(session, batch, stop)
                    if stop is not None and stop.is_set():
                        break
                if once and not batches:
                    break
                if not batches:
                    await _sleep(self.interval, stop)
        return self.deliveries

    async def _deliver(self, session: aiohttp.ClientSession, batch: Path,
                       stop: asyncio.Event | None) -> None:
        backoff = self.first_backoff
        tried = 0  # centres tried since the last wait
        body = await asyncio.to_thread(_zip_bytes, batch)
        while stop is None or not stop.is_set():
            try:
                async with session.post(
                    self.url, data=body,
                    headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/zip"},
                ) as resp:
                    status = resp.status
                    try:
                        answer = await resp.json(content_type=None)
                    except (ValueError, aiohttp.ContentTypeError):
                        answer = {}
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                tried += 1
                if self._next_centre(batch, f"centre unreachable ({exc.__class__.__name__})") \
                        and tried < len(self.urls):
                    continue
                tried = 0
                self.say(f"{batch.name}: centre unreachable ({exc.__class__.__name__}); retrying in {backoff:.0f} s")
                await _sleep(backoff, stop)
                backoff = min(backoff * 2, self.max_backoff)
                continue
            if status == 503 and _error_code(answer) in ("standby", "unavailable"):
                tried += 1
                why = "that centre is the standby" if _error_code(answer) == "standby" else "that centre's database is down"
                if self._next_centre(batch, why) and tried < len(self.urls):
                    continue
                tried = 0
            if status in (200, 201):
                await asyncio.to_thread(_move, batch, self.outbox / "sent")
                outcome = str(answer.get("outcome", "applied"))
                self.say(f"{batch.name}: {outcome} (HTTP {status})")
                self.deliveries.append(Delivery(batch.name, outcome, status, 0))
                return
            if status == 422:
                problems = answer.get("problems", [])
                await asyncio.to_thread(_reject, batch, self.outbox / "rejected", answer)
                self.say(f"{batch.name}: rejected with {len(problems)} problem(s); see rejected/")
                self.deliveries.append(Delivery(batch.name, "rejected", status, len(problems)))
                return
            if status in (401, 403):
                raise AgentStopped(f"the centre refused the token (HTTP {status}); check --token-file")
            self.say(f"{batch.name}: centre answered HTTP {status}; retrying in {backoff:.0f} s")
            await _sleep(backoff, stop)
            backoff = min(backoff * 2, self.max_backoff)


def _error_code(answer: Any) -> str | None:
    error = answer.get("error") if isinstance(answer, dict) else None
    return str(error.get("code")) if isinstance(error, dict) else None


async def _sleep(seconds: float, stop: asyncio.Event | None) -> None:
    if stop is None:
        await asyncio.sleep(seconds)
        return
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        pass


def _zip_bytes(batch: Path) -> bytes:
    if batch.is_file():
        return batch.read_bytes()
    with tempfile.SpooledTemporaryFile(max_size=64 << 20) as spool:
        with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(batch.rglob("*")):
                if path.is_file():
                    zf.write(path, path.relative_to(batch).as_posix())
        spool.seek(0)
        return spool.read()


def _move(batch: Path, folder: Path) -> Path:
    target = folder / batch.name
    n = 1
    while target.exists():
        n += 1
        target = folder / f"{batch.stem}.{n}{batch.suffix}"
    shutil.move(str(batch), target)
    return target


def _reject(batch: Path, folder: Path, answer: dict[str, Any]) -> None:
    target = _move(batch, folder)
    (folder / f"{target.name}.problems.json").write_text(
        json.dumps(answer, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
