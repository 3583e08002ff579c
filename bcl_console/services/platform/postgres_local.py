"""A PostgreSQL cluster of our own on this machine, from the installed binaries.

For the test suite (a throwaway server the run starts itself) and for the two-centres
drill (East and West under the data directory). The binaries are Debian's versioned ones
(``pg_config --bindir``, else the newest ``/usr/lib/postgresql/*/bin``) or whatever
``initdb`` is on PATH. ``initdb`` and ``pg_ctl`` refuse to run as root: as root, the
cluster's directory is handed to the ``postgres`` system user and they run as that user
(``runuser``); as anyone else they run as that user.

The server listens on 127.0.0.1 only, on the port given (or a free one), with its socket
in the cluster's own directory and trust authentication for local connections: a
cluster of this module is for this machine's own processes.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


class PostgresMissing(RuntimeError):
    """PostgreSQL's server binaries are not installed on this machine."""


def find_bindir() -> Path:
    """The directory of ``initdb`` and ``pg_ctl``, or PostgresMissing in one sentence."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True)
            candidates.append(Path(out.stdout.strip()))
        except (OSError, subprocess.SubprocessError):
            pass
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                                           key=lambda p: int(p.split("/")[-2]) if p.split("/")[-2].isdigit() else 0,
                                           reverse=True)]
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).parent)
    for bindir in candidates:
        if (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file() and (bindir / "postgres").is_file():
            return bindir
    raise PostgresMissing("PostgreSQL's server (initdb, pg_ctl, postgres) is not installed on this machine")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_server_user() -> tuple[list[str], int | None, int | None]:
    """The command prefix and uid/gid to run the server's tools with."""
    if os.geteuid() != 0:
        return [], None, None
    try:
        pw = pwd.getpwnam("postgres")
    except KeyError as exc:
        raise PostgresMissing("running as root needs the 'postgres' system user, and there is none") from exc
    runuser = shutil.which("runuser")
    if runuser is None:
        raise PostgresMissing("running as root needs runuser (util-linux) to start PostgreSQL as 'postgres'")
    return [runuser, "-u", "postgres", "--"], pw.pw_uid, pw.pw_gid


@dataclass
class LocalCluster:
    """One cluster in ``directory`` (made by ``init`` when absent)."""

    directory: Path
    port: int = 0
    bindir: Path | None = None
    #: Extra ``-c name=value`` settings for the server.
    settings: dict[str, str] | None = None

    def __post_init__(self) -> None:
        self.bindir = self.bindir or find_bindir()
        self.port = self.port or free_port()
        self._prefix, self._uid, self._gid = _as_server_user()

    @property
    def data(self) -> Path:
        return self.directory / "data"

    @property
    def log_file(self) -> Path:
        return self.directory / "server.log"

    def url(self, database: str = "postgres", user: str = "postgres") -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"

    def _tool(self, name: str, *args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
        assert self.bindir is not None
        cmd = [*self._prefix, str(self.bindir / name), *args]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=self.directory)
        if check and result.returncode != 0:
            raise RuntimeError(f"{name} failed (exit {result.returncode}): "
                               f"{(result.stderr or result.stdout).strip()[-600:]}")
        return result

    def _own(self, path: Path) -> None:
        if self._uid is not None and self._gid is not None:
            os.chown(path, self._uid, self._gid)

    def init(self) -> None:
        """Make the cluster's files (``initdb``): superuser ``postgres``, trust on this machine."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self._own(self.directory)
        # the server's user must reach the directory: every parent needs search permission
        if self._uid is not None:
            for parent in self.directory.resolve().parents:
                mode = parent.stat().st_mode
                if not mode & 0o001:
                    os.chmod(parent, mode | 0o001)
        self._tool("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                   "--locale=C.UTF-8", "--no-instructions")

    def clone_as_standby(self, primary: LocalCluster, name: str) -> None:
        """Make this cluster a streaming standby of ``primary`` (``pg_basebackup -R``: a
        copy of its files and a standby.signal, ``application_name`` ``name``, which the
        primary's ``synchronous_standby_names`` may name)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self._own(self.directory)
        conninfo = f"host=127.0.0.1 port={primary.port} user=postgres application_name={name}"
        self._tool("pg_basebackup", "-D", str(self.data), "-R", "-X", "stream", "-c", "fast", "-d", conninfo,
                   timeout=600)

    def start(self, *, wait: float = 30) -> None:
        options = [f"-p {self.port}", "-c listen_addresses=127.0.0.1",
                   f"-c unix_socket_directories={self.directory}"]
        for name, value in (self.settings or {}).items():
            options.append(f"-c {name}={value}")
        self._tool("pg_ctl", "-D", str(self.data), "-l", str(self.log_file), "-o", " ".join(options),
                   "-w", "-t", str(int(wait)), "start", timeout=wait + 30)

    def stop(self, mode: str = "fast") -> None:
        if (self.data / "postmaster.pid").exists():
            self._tool("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def running(self) -> bool:
        return self._tool("pg_ctl", "-D", str(self.data), "status", check=False).returncode == 0

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def psql(self, sql: str, database: str = "postgres") -> str:
        result = self._tool("psql", "-X", "-q", "-A", "-t", "-h", "127.0.0.1", "-p", str(self.port),
                            "-U", "postgres", "-d", database, "-v", "ON_ERROR_STOP=1", "-c", sql)
        return result.stdout.strip()

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._tool("pg_isready", "-h", "127.0.0.1", "-p", str(self.port), check=False).returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError(f"PostgreSQL on port {self.port} did not become ready in {timeout:.0f} s")

    def remove(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.directory, ignore_errors=True)
