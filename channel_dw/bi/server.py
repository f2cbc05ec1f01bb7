"""The Superset web server of a checkout: its files under ``$DW_HOME/superset/``, its port, and
gunicorn started detached (a session of its own, pid file, log), checked and stopped.

The server listens on 127.0.0.1 only. Its port is ``DW_SUPERSET_PORT``, else the one remembered
for this checkout in ``$DW_HOME/superset/port``, else 8088 when free, else any free port.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import psutil

from channel_dw.bi.install import superset_bin
from channel_dw.bi.warehouse import SupersetError
from channel_dw.config import Settings, port_is_free

log = logging.getLogger(__name__)

DEFAULT_PORT = 8088
START_TIMEOUT = 240  # seconds for gunicorn to answer /health (two busy cores: ~20-40 s)


@dataclass(frozen=True)
class SupersetHome:
    """Where this checkout's Superset keeps its files."""

    root: Path  # $DW_HOME/superset: config, secrets, logs, pid, bundle
    venv: Path  # $DW_HOME/superset-venv

    @classmethod
    def of(cls, s: Settings) -> SupersetHome:
        return cls(s.home / "superset", s.home / "superset-venv")

    @property
    def config(self) -> Path:  # Superset's settings (mode 600: the metadata DB's URL)
        return self.root / "superset_config.py"

    @property
    def secret_key(self) -> Path:  # SECRET_KEY, made once
        return self.root / "secret_key"

    @property
    def admin_password(self) -> Path:  # the password of Superset's user admin
        return self.root / "admin_password"

    @property
    def reader_password(self) -> Path:  # the password of the warehouse login superset_reader
        return self.root / "reader_password"

    @property
    def pid_file(self) -> Path:  # gunicorn's pid while it runs
        return self.root / "superset.pid"

    @property
    def log(self) -> Path:  # the server's log
        return self.root / "superset.log"

    @property
    def access_log(self) -> Path:  # the server's requests
        return self.root / "access.log"

    @property
    def setup_log(self) -> Path:  # install, `superset db upgrade`/`init`, provisioning
        return self.root / "setup.log"

    @property
    def port_file(self) -> Path:  # the port given to this checkout when 8088 was taken
        return self.root / "port"

    @property
    def bundle(self) -> Path:  # the import bundle made from dashboard/
        return self.root / "channel_kpis.zip"


def choose_port(home: SupersetHome, *, remember: bool = True) -> int:
    """DW_SUPERSET_PORT, else the port remembered for this checkout, else 8088 when free, else
    any free port (remembered from then on; ``remember=False`` only looks: 8088)."""
    if os.environ.get("DW_SUPERSET_PORT", "").strip():
        return int(os.environ["DW_SUPERSET_PORT"])
    if home.port_file.exists():
        return int(home.port_file.read_text().strip())
    port = DEFAULT_PORT
    if not remember:
        return port
    if not port_is_free(port):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
    home.root.mkdir(parents=True, exist_ok=True)
    home.port_file.write_text(f"{port}\n")
    return port


def superset_env(home: SupersetHome) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "FLASK_APP")
    }
    env.update(
        SUPERSET_CONFIG_PATH=str(home.config),
        SUPERSET_HOME=str(home.root),
        PATH=f"{home.venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        PYTHONUNBUFFERED="1",
    )
    return env


def tail(path: Path, chars: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return f"({path} cannot be read)"


def _get(url: str, timeout: float = 5) -> str:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy
    with opener.open(url, timeout=timeout) as response:
        return response.read().decode(errors="replace")


def healthy(port: int) -> bool:
    try:
        return _get(f"http://127.0.0.1:{port}/health").strip() == "OK"
    except OSError:
        return False


def running_pid(home: SupersetHome) -> int | None:
    """The pid of this checkout's gunicorn when it runs (a stale pid file gives None)."""
    try:
        pid = int(home.pid_file.read_text().split()[0])
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)  # our own child, ended: reap it
            return None
        if "gunicorn" not in " ".join(process.cmdline()):
            return None  # the pid was reused by another program
    except (OSError, ValueError, IndexError, psutil.Error):
        return None
    return pid


def stop_server(pid: int, grace: float = 30) -> None:
    """Ends gunicorn (a session leader: its group is it and its workers)."""
    try:
        processes = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)
        _, processes = psutil.wait_procs(processes, timeout=wait)
        if not processes:
            return
    raise SupersetError(f"Superset (pid {pid}) did not stop; end it with `kill -9 {pid}`")


def start_server(home: SupersetHome, port: int) -> int:
    """gunicorn serving Superset on 127.0.0.1:port, detached; returns its pid once /health
    answers."""
    if not port_is_free(port):
        raise SupersetError(
            f"port {port} is taken by another program: set DW_SUPERSET_PORT to a free port "
            f"(or remove {home.port_file} to get one)"
        )
    command = [
        str(superset_bin(home.venv, "gunicorn")),
        "--bind", f"127.0.0.1:{port}",
        "--workers", "1",
        "--worker-class", "gthread",
        "--threads", "8",
        "--timeout", "120",
        "--graceful-timeout", "10",
        "--limit-request-line", "0",
        "--limit-request-field_size", "0",
        "--access-logfile", str(home.access_log),
        "--error-logfile", "-",
        "superset.app:create_app()",
    ]  # fmt: skip
    with open(home.log, "ab") as out:
        out.write(f"\n--- starting Superset on 127.0.0.1:{port} at {time.ctime()}\n".encode())
        out.flush()
        server = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=superset_env(home),
            cwd=home.root,
            start_new_session=True,
        )
    home.pid_file.write_text(f"{server.pid}\n")
    started = time.monotonic()
    while not healthy(port):
        if server.poll() is not None:
            home.pid_file.unlink(missing_ok=True)
            raise SupersetError(
                f"Superset exited ({server.returncode}) before it answered /health; "
                f"{home.log} ends:\n{tail(home.log)}"
            )
        if time.monotonic() - started > START_TIMEOUT:
            stop_server(server.pid)
            home.pid_file.unlink(missing_ok=True)
            raise SupersetError(
                f"Superset did not answer /health within {START_TIMEOUT}s; "
                f"{home.log} ends:\n{tail(home.log)}"
            )
        time.sleep(1)
    log.info("Superset answers on port %d after %.1fs", port, time.monotonic() - started)
    return server.pid
