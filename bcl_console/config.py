"""Settings of one centre, from defaults, then ``DATA_DIR/config.toml``, then ``BCL_*``
environment variables, then command-line flags (each later source wins).

Only paths and settings live here; nothing is opened or created at import.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import platformdirs

#: The centre's database file in its data directory (SQLite, the embedded store).
DB_FILENAME = "bcl.sqlite3"

APP_NAME = "bcl-console"
DEFAULT_PORT = 8470


class ConfigError(Exception):
    """A setting cannot be used (an unwritable data directory, a malformed value)."""


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    """Where everything of this centre lives: database, keys, backups, documents, logs."""

    host: str = "127.0.0.1"
    """Address the HTTP services bind to; loopback unless told otherwise."""

    port: int = DEFAULT_PORT
    """Port of the kiosk relay and linkage receiving API."""

    console_http: bool = True
    """Whether the console also serves the HTTP API while it runs."""

    now: datetime | None = None
    """Start the centre's clock at this instant (training and tests); it then runs on."""

    demo_seed: int = 2026
    """Seed of the demo data set made on first start."""

    database_url: str | None = None
    """``postgresql://USER@HOST:PORT/DBNAME`` selects the PostgreSQL store (contract §10);
    unset, the centre's database is the SQLite file in the data directory."""

    peer_url: str | None = None
    """The other centre's database (contract §11), ``postgresql://…``: a centre that comes
    back after a failover asks it whether it was promoted over this one, and then refuses
    every write until it has rejoined as the standby (no split brain)."""

    log_format: str = "human"
    """How the log file writes each event: ``human`` (a line of text) or ``json`` (one
    JSON object a line, for a data centre's log shipper)."""

    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    """The load balancers and reverse proxies in front of ``serve`` (addresses or
    networks): from a peer among them, the client is the nearest address of
    ``X-Forwarded-For`` that is not one of them; from any other peer the header is
    not believed (anyone may write it). Empty: every peer is the client."""

    extra: dict[str, Any] = field(default_factory=dict)
    """Keys of config.toml that this version does not know (kept, not used)."""

    @property
    def db_path(self) -> Path:
        return self.data_dir / DB_FILENAME

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def backups_dir(self) -> Path:
        return self.data_dir / "backups"

    @property
    def documents_dir(self) -> Path:
        return self.data_dir / "documents"

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def cards_dir(self) -> Path:
        """Test My Number cards made by `card issue` and the demo (holder files)."""
        return self.data_dir / "cards"

    @property
    def linkage_dir(self) -> Path:
        """What linkage keeps beside the database (the sealed journal of rejected batches)."""
        return self.data_dir / "linkage"

    @property
    def statements_dir(self) -> Path:
        """Settlement statements, one directory per fiscal year."""
        return self.data_dir / "statements"

    @property
    def exports_dir(self) -> Path:
        """Files an operator exports from the console (e.g. a disaster's ledger CSV)."""
        return self.data_dir / "exports"

    @property
    def tmp_dir(self) -> Path:
        """Scratch space on the data directory's own disk (unpacked batches, decrypted
        backups under test); emptied of old files at start."""
        return self.data_dir / "tmp"

    @property
    def scheduler_path(self) -> Path:
        """The scheduler's own job store of versions before the job state moved into the
        centre's database; removed when the scheduler starts."""
        return self.data_dir / "scheduler.sqlite3"

    @property
    def data_set_paths(self) -> tuple[Path, ...]:
        """What a centre's data set consists of, besides its keys (what `demo` replaces
        whole); the log, the configuration and the temporary files are not part of it."""
        return (self.db_path, self.cards_dir, self.documents_dir, self.backups_dir, self.linkage_dir,
                self.statements_dir, self.scheduler_path)


def resolve_data_dir(flag: str | None) -> Path:
    """``--data-dir``, else ``$BCL_DATA_DIR``, else the platform's user data directory."""
    if flag:
        return Path(flag).expanduser()
    env = os.environ.get("BCL_DATA_DIR")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def _parse_now(text: str, source: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{source}: {text!r} is not an ISO date-time") from None
    if value.tzinfo is None:
        raise ConfigError(f"{source}: {text!r} needs a time zone, e.g. +09:00")
    return value


def _networks(value: Any, source: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """Addresses or networks, as a TOML list or a text of them apart by commas or spaces."""
    items = value if isinstance(value, list) else str(value).replace(",", " ").split()
    networks = []
    for item in items:
        try:
            networks.append(ipaddress.ip_network(str(item).strip(), strict=False))
        except ValueError:
            raise ConfigError(f"{source}: {item!r} is not an address or a network (e.g. 10.0.0.0/8)") from None
    return tuple(networks)


def _coerce(name: str, value: Any, source: str) -> Any:
    try:
        if name == "port":
            port = int(value)
            if not 0 <= port <= 65535:
                raise ValueError
            return port
        if name == "demo_seed":
            return int(value)
        if name == "console_http":
            if isinstance(value, bool):
                return value
            return str(value).lower() in ("1", "true", "yes", "on")
        if name == "now":
            return value if isinstance(value, datetime) else _parse_now(str(value), source)
        if name == "host":
            return str(value)
        if name in ("database_url", "peer_url"):
            return str(value).strip() or None
        if name == "trusted_proxies":
            return value if isinstance(value, tuple) else _networks(value, source)
        if name == "log_format":
            if str(value) not in ("human", "json"):
                raise ConfigError(f"{source}: {value!r} is not a log format (human or json)")
            return str(value)
    except ValueError:
        raise ConfigError(f"{source}: {value!r} is not a valid value for {name}") from None
    return value


def load_settings(data_dir_flag: str | None = None, **flags: Any) -> Settings:
    """Build the settings from every source, in order."""
    data_dir = resolve_data_dir(data_dir_flag)
    values: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    known = {f.name for f in fields(Settings)} - {"data_dir", "extra"}
    config_file = data_dir / "config.toml"
    if config_file.is_file():
        try:
            raw = tomllib.loads(config_file.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{config_file}: {exc}") from None
        for key, value in raw.items():
            name = key.replace("-", "_")
            if name in known:
                values[name] = _coerce(name, value, str(config_file))
            else:
                extra[key] = value
    for name in sorted(known):
        env_name = f"BCL_{name.upper()}"
        if env_name in os.environ:
            values[name] = _coerce(name, os.environ[env_name], env_name)
    for name, value in flags.items():
        if value is not None:
            values[name] = _coerce(name, value, f"--{name.replace('_', '-')}")
    return replace(Settings(data_dir=data_dir), **values, extra=extra)


def prepare_data_dir(data_dir: Path) -> None:
    """Create the directory (0700) and prove it writable, or raise one clear sentence."""
    try:
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise ConfigError(
            f"data directory {data_dir} cannot be created: {exc.strerror or exc}"
        ) from None
    if not data_dir.is_dir():
        raise ConfigError(f"data directory {data_dir} is not a directory")
    probe = data_dir / ".write-test"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(
            f"data directory {data_dir} is not writable: {exc.strerror or exc}"
        ) from None
