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

import contextlib
import glob
import os
import pwd
import shlex
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit


class PostgresMissing(RuntimeError):
    """PostgreSQL's server binaries are not installed on this machine."""


#: Where PostgreSQL's server binaries are, instead of looking for them (an empty directory
#: tells a drill or a test run that PostgreSQL is not installed).
BINDIR_ENV = "BCL_PG_BINDIR"


def find_bindir() -> Path:
    """The directory of ``initdb`` and ``pg_ctl``, or PostgresMissing in one sentence."""
    candidates: list[Path] = []
    if os.environ.get(BINDIR_ENV):
        candidates = [Path(os.environ[BINDIR_ENV])]
        return _first_server(candidates, f" (${BINDIR_ENV} names {os.environ[BINDIR_ENV]})")
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
    return _first_server(candidates, "")


def _first_server(candidates: list[Path], where: str) -> Path:
    for bindir in candidates:
        if (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file() and (bindir / "postgres").is_file():
            return bindir
    raise PostgresMissing(f"PostgreSQL's server (initdb, pg_ctl, postgres) is not installed on this machine{where}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_server_user(owner: str = "postgres") -> tuple[list[str], int | None, int | None]:
    """The command prefix and uid/gid to run the server's tools with (as root: as ``owner``)."""
    if os.geteuid() != 0:
        return [], None, None
    try:
        pw = pwd.getpwnam(owner)
    except KeyError as exc:
        raise PostgresMissing(f"running as root needs the '{owner}' system user, and there is none") from exc
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
        cwd = self.directory if self.directory.is_dir() else "/"
        try:
            result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=cwd)
        except OSError as exc:
            raise RuntimeError(f"{name} cannot be run: {exc.strerror or exc}: {exc.filename or cmd[0]}") from exc
        except subprocess.TimeoutExpired as exc:
            raise RuntimeError(f"{name} did not finish within {timeout:.0f} s") from exc
        if check and result.returncode != 0:
            raise RuntimeError(f"{name} failed (exit {result.returncode}): "
                               f"{(result.stderr or result.stdout).strip()[-600:]}")
        return result

    def _own(self, path: Path) -> None:
        if self._uid is not None and self._gid is not None:
            os.chown(path, self._uid, self._gid)

    def init(self, *, checksums: bool = False) -> None:
        """Make the cluster's files (``initdb``): superuser ``postgres``, trust on this machine;
        with ``checksums`` (which ``pg_rewind`` needs, or ``wal_log_hints``) when asked."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self._own(self.directory)
        # the server's user must reach the directory: every parent needs search permission
        if self._uid is not None:
            for parent in self.directory.resolve().parents:
                mode = parent.stat().st_mode
                if not mode & 0o001:
                    os.chmod(parent, mode | 0o001)
        self._tool("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                   "--locale=C.UTF-8", "--no-instructions", *(["--data-checksums"] if checksums else []))

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
        # a Unix socket's path has at most 107 bytes: under a deep directory, TCP only
        sockets = str(self.directory) if len(str(self.directory)) + len(f"/.s.PGSQL.{self.port}") <= 100 else "''"
        options = [f"-p {self.port}", "-c listen_addresses=127.0.0.1", f"-c unix_socket_directories={sockets}"]
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


class NotADataDirectory(ValueError):
    """A path that is not a PostgreSQL data directory on this machine."""


def without_password(url: str) -> tuple[str, str | None]:
    """``url`` without its password, and the password: a command line is visible to every
    user of the machine (``ps``), the environment of a process is not."""
    parts = urlsplit(url)
    if parts.password is None:
        return url, None
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc)), unquote(parts.password)


def with_application_name(url: str, name: str) -> str:
    """``url`` (a postgresql:// URL) asking to be known to the server as ``name``: the name
    a primary's ``synchronous_standby_names`` refers to a standby by."""
    return f"{url}{'&' if '?' in url else '?'}application_name={name}"


class ServerDirectory:
    """An existing cluster's data directory on this machine (a centre's own server, at
    ``centre rejoin``): stopped, rewound or copied afresh from the active centre, and
    started again the way it was started last (its ``postmaster.opts``), as the user that
    owns it."""

    def __init__(self, data: Path, bindir: Path | None = None) -> None:
        self.data = data
        if not (data / "PG_VERSION").is_file():
            raise NotADataDirectory(f"{data} is not a PostgreSQL data directory on this machine (no PG_VERSION): "
                                    "run this on the machine of this centre's server, or name it with --pgdata")
        self.bindir = bindir or find_bindir()
        owner = pwd.getpwuid(data.stat().st_uid).pw_name
        self._prefix, self._uid, self._gid = _as_server_user(owner) if owner != "root" else ([], None, None)
        self._options = self._start_options()

    def _start_options(self) -> list[str]:
        """The server's last command line (``postmaster.opts``) without its program and data
        directory: port, listen addresses, ``config_file`` … as they were."""
        try:
            words = shlex.split((self.data / "postmaster.opts").read_text())
        except OSError:
            return []
        options, skip = [], True  # the first word is the program
        for word in words:
            if skip:
                skip = False
                continue
            if word == "-D":
                skip = True
                continue
            options.append(word)
        return options

    @property
    def log_file(self) -> Path:
        ours = self.data.parent / "server.log"  # a LocalCluster's
        return ours if ours.exists() else self.data / "startup.log"

    def _tool(self, name: str, *args: str, timeout: float = 600, check: bool = True,
              password: str | None = None) -> subprocess.CompletedProcess[str]:
        cmd = [*self._prefix, str(self.bindir / name), *args]
        env = {**os.environ, "PGPASSWORD": password} if password else None
        if password and self._prefix:  # runuser starts a clean environment: hand it over explicitly
            cmd = [*self._prefix, "env", f"PGPASSWORD={password}", str(self.bindir / name), *args]
        try:
            result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd="/", env=env)
        except OSError as exc:
            raise RuntimeError(f"{name} cannot be run: {exc.strerror or exc}: {exc.filename or cmd[0]}") from exc
        except subprocess.TimeoutExpired as exc:
            raise RuntimeError(f"{name} did not finish within {timeout:.0f} s") from exc
        if check and result.returncode != 0:
            said = "; ".join(line for line in (result.stderr or result.stdout).splitlines() if line.strip())
            raise RuntimeError(f"{name} failed (exit {result.returncode}): {said[-900:]}")
        return result

    def running(self) -> bool:
        return self._tool("pg_ctl", "-D", str(self.data), "status", check=False).returncode == 0

    def stop(self) -> None:
        if self.running():
            self._tool("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")

    def start(self, wait: float = 60) -> None:
        self._tool("pg_ctl", "-D", str(self.data), "-l", str(self.log_file), "-o",
                   " ".join(shlex.quote(o) for o in self._options), "-w", "-t", str(int(wait)), "start",
                   timeout=wait + 30)

    def rewind(self, source: str, *, dry_run: bool = False) -> str:
        """``pg_rewind`` this (stopped) server onto ``source``'s timeline and write the
        standby's settings (``-R``): only the blocks that changed since the two parted
        are copied. Needs data checksums or ``wal_log_hints`` on this server, and its WAL
        back to where the two parted. ``dry_run`` changes nothing (whether it can)."""
        conninfo, password = without_password(source)
        return self._tool("pg_rewind", f"--target-pgdata={self.data}", f"--source-server={conninfo}",
                          "--write-recovery-conf", *(["--dry-run"] if dry_run else []),
                          password=password).stderr.strip()

    def copy_afresh(self, source: str) -> None:
        """Replace this (stopped) server's files by a new base backup of ``source`` as its
        standby (``pg_basebackup -R``); the old files are put back if the copy fails and
        removed once it has succeeded."""
        aside = self.data.with_name(self.data.name + ".before-rejoin")
        shutil.rmtree(aside, ignore_errors=True)
        mode = self.data.stat().st_mode & 0o777
        opts = self.data / "postmaster.opts"
        saved = opts.read_bytes() if opts.exists() else None
        self.data.rename(aside)
        try:
            self.data.mkdir(mode=mode)
            if self._uid is not None and self._gid is not None:
                os.chown(self.data, self._uid, self._gid)
            conninfo, password = without_password(source)
            self._tool("pg_basebackup", "-D", str(self.data), "-R", "-X", "stream", "-c", "fast", "-d", conninfo,
                       password=password)
        except BaseException:
            shutil.rmtree(self.data, ignore_errors=True)
            aside.rename(self.data)
            raise
        if saved is not None:  # the start options are this machine's, not the source's
            opts.write_bytes(saved)
            if self._uid is not None and self._gid is not None:
                os.chown(opts, self._uid, self._gid)
        shutil.rmtree(aside, ignore_errors=True)


def kill_server(cluster_data: Path) -> list[int]:
    """SIGKILL a server and every process it started, at once (a machine lost, not a
    shutdown); the pids signalled. pg_ctl starts the postmaster in a session of its own,
    so its process group is the server: one signal reaches a backend forked a moment ago
    too; the postmaster's children found are signalled as well, in case it was not."""
    try:
        postmaster = int((cluster_data / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return []
    pids = [postmaster]
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if os.getpgid(postmaster) == postmaster:
            os.killpg(postmaster, signal.SIGKILL)
    for path in Path("/proc").glob("[0-9]*/stat"):  # its children (procps not needed)
        with contextlib.suppress(OSError, ValueError, IndexError):
            if int(path.read_text().rsplit(")", 1)[1].split()[1]) == postmaster:
                pids.append(int(path.parent.name))
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return pids
