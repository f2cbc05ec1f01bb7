"""The embedded PostgreSQL server that the project starts itself on a laptop and in CI.

It uses the PostgreSQL binaries bundled in the ``pgserver`` package (the machine's own
``/usr/lib/postgresql/*/bin`` as a fall-back), keeps its data in ``$DW_HOME/pgdata`` and listens on
``127.0.0.1:$DW_EMBEDDED_PORT`` only. PostgreSQL refuses to run as root, so when we are root the
server runs as a system user ``channeldw`` that is created on first use.

Nothing here runs when ``DW_DATABASE_URL`` points at a real server.
"""

from __future__ import annotations

import fcntl
import logging
import os
import pwd
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg2

from channel_dw.config import EMBEDDED_DB, EMBEDDED_USER, Settings
from channel_dw.errors import ConfigError

log = logging.getLogger(__name__)

SERVER_OS_USER = "channeldw"
USERADD_LOCK = "/tmp/channel-dw-useradd.lock"

# Bulk-load friendly settings for a local warehouse. wal_level=minimal lets a COPY into a table
# created in the same transaction skip the WAL, which is exactly how every file is loaded.
SERVER_OPTIONS = {
    "listen_addresses": "127.0.0.1",
    "unix_socket_directories": "",
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "synchronous_commit": "off",
    "shared_buffers": "256MB",
    "max_wal_size": "4GB",
    "work_mem": "64MB",
    "maintenance_work_mem": "256MB",
    "max_connections": "150",
    "max_locks_per_transaction": "512",
}


def bin_dir() -> Path:
    try:
        import pgserver

        bundled = Path(pgserver.__file__).parent / "pginstall" / "bin"
        if (bundled / "postgres").exists():
            return bundled
    except ImportError:
        pass
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "postgres").exists():
            return candidate
    raise ConfigError(
        "no PostgreSQL binaries found: install the 'pgserver' package (pip install -e .) "
        "or Debian's postgresql package, or set DW_DATABASE_URL to a running server"
    )


@dataclass(frozen=True)
class ServerStatus:
    running: bool
    pid: int | None
    port: int
    pgdata: Path
    initialised: bool

    def describe(self) -> str:
        if not self.initialised:
            return f"embedded PostgreSQL: not initialised ({self.pgdata})"
        if not self.running:
            return f"embedded PostgreSQL: stopped ({self.pgdata})"
        return (
            f"embedded PostgreSQL: running, pid {self.pid}, 127.0.0.1:{self.port} ({self.pgdata})"
        )


def _run_as() -> str | None:
    """The OS user the server runs as: ourselves, or a dedicated user when we are root."""
    if os.geteuid() != 0:
        return None
    # Two processes starting servers at once on a fresh machine (`make test` runs two pytest
    # workers) must not both create the user: two concurrent `useradd` left /etc/passwd with one
    # uid while a data directory had been given the other. The lock makes the second one wait and
    # find the user the first one made.
    with open(USERADD_LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            pwd.getpwnam(SERVER_OS_USER)
        except KeyError:
            subprocess.run(
                [
                    "useradd",
                    "--system",
                    "--no-create-home",
                    "--shell",
                    "/usr/sbin/nologin",
                    SERVER_OS_USER,
                ],
                check=True,
                capture_output=True,
            )
    return SERVER_OS_USER


def _chown(path: Path, user: str | None) -> None:
    if user is not None:
        shutil.chown(path, user=user, group=pwd.getpwnam(user).pw_gid)


def _pg(
    cmd: str, *args: str, user: str | None, timeout: float = 120
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(bin_dir() / cmd), *args],
        user=user,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd="/",
    )


def status(s: Settings) -> ServerStatus:
    pid_file = s.pgdata / "postmaster.pid"
    initialised = (s.pgdata / "PG_VERSION").exists()
    pid = None
    if pid_file.exists():
        try:
            pid = int(pid_file.read_text().splitlines()[0])
            os.kill(pid, 0)
        except (OSError, ValueError, IndexError):
            pid = None
    return ServerStatus(pid is not None, pid, s.embedded_port, s.pgdata, initialised)


def _log_tail(s: Settings, lines: int = 15) -> str:
    logfile = s.home / "postgres.log"
    if not logfile.exists():
        return "(no server log yet)"
    return "\n".join(logfile.read_text(errors="replace").splitlines()[-lines:])


def start(s: Settings) -> ServerStatus:
    """Initialise (first time) and start the embedded server; a no-op when it already runs."""
    current = status(s)
    if current.running:
        return current
    user = _run_as()
    s.home.mkdir(parents=True, exist_ok=True)
    if user is not None:
        # The server user must be able to reach its data directory.
        for parent in [s.home, *s.home.parents]:
            if parent == Path("/"):
                break
            mode = parent.stat().st_mode
            if not mode & 0o001:
                parent.chmod(mode | 0o011)
    if not current.initialised:
        log.info("initialising embedded PostgreSQL in %s", s.pgdata)
        s.pgdata.mkdir(parents=True, exist_ok=True)
        s.pgdata.chmod(0o700)
        _chown(s.pgdata, user)
        result = _pg(
            "initdb",
            "-D",
            str(s.pgdata),
            "-U",
            EMBEDDED_USER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            user=user,
        )
        if result.returncode != 0:
            raise ConfigError(f"initdb failed for {s.pgdata}:\n{result.stderr.strip()}")
    logfile = s.home / "postgres.log"
    logfile.touch()
    _chown(logfile, user)
    options = " ".join(f"-c {k}={v}" if v else f"-c {k}=''" for k, v in SERVER_OPTIONS.items())
    options += f" -p {s.embedded_port}"
    result = _pg(
        "pg_ctl",
        "-D",
        str(s.pgdata),
        "-l",
        str(logfile),
        "-o",
        options,
        "-w",
        "-t",
        "60",
        "start",
        user=user,
    )
    if result.returncode != 0:
        raise ConfigError(
            f"the embedded PostgreSQL did not start on port {s.embedded_port}. If another "
            f"server uses that port, set DW_EMBEDDED_PORT. Server log ({logfile}):\n"
            f"{_log_tail(s)}"
        )
    _ensure_database(s)
    return status(s)


def _ensure_database(s: Settings) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            conn = psycopg2.connect(
                host="127.0.0.1", port=s.embedded_port, user=EMBEDDED_USER, dbname="postgres"
            )
            break
        except psycopg2.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("select 1 from pg_database where datname = %s", (EMBEDDED_DB,))
        if cur.fetchone() is None:
            cur.execute(f'create database "{EMBEDDED_DB}"')
    conn.close()


def stop(s: Settings) -> ServerStatus:
    current = status(s)
    if current.running:
        result = _pg("pg_ctl", "-D", str(s.pgdata), "-m", "fast", "-w", "stop", user=_run_as())
        if result.returncode != 0:
            raise ConfigError(f"pg_ctl stop failed:\n{result.stderr.strip()}")
    return status(s)
