"""Apache Superset on the mart: installed, configured, provisioned and run from this repository.

:func:`up` does, each step idempotent, in this order:

1. starts the embedded PostgreSQL when it is the warehouse (``channel_dw.db.connection``);
2. makes ``$DW_HOME/superset-venv`` with uv from the pins in this folder (``install``);
3. keeps three secrets under ``$DW_HOME/superset/`` (mode 600, made once): ``secret_key``
   (Superset's SECRET_KEY, which also encrypts the warehouse password it stores),
   ``admin_password`` (Superset's user ``admin``) and ``reader_password`` (the warehouse login);
4. creates the metadata database ``superset`` on the warehouse's server and writes
   ``superset_config.py`` pointing at it;
5. creates the login ``superset_reader``, a member of ``bi_reader`` only (``warehouse``);
6. runs ``superset db upgrade`` and ``superset init`` (once per Superset version and database);
7. zips ``dashboard/`` (Superset's import format, the warehouse's address filled in) and imports
   it with ``provision.py`` in Superset's env: the database (``expose_in_sqllab``, no DML), three
   datasets on ``marts``, four charts and the dashboard "Channel KPIs" (``/superset/dashboard/
   channel-kpis/``); the same UUIDs each time, so a re-run updates rather than duplicates;
8. starts gunicorn on ``127.0.0.1:$DW_SUPERSET_PORT`` (default 8088, or a free port when that
   is taken, remembered in ``$DW_HOME/superset/port``), detached, its pid in
   ``$DW_HOME/superset/superset.pid`` and its log in ``superset.log``, and waits for ``/health``.

No secret is passed as a process argument, logged or put in an exception: the provisioning script
reads them from their files, the warehouse login's password reaches PostgreSQL as a SCRAM verifier.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import secrets
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from zipfile import ZIP_DEFLATED, ZipFile

import yaml

from channel_dw.bi.install import CONSTRAINTS, ensure_venv, superset_bin
from channel_dw.bi.server import (
    SupersetHome,
    choose_port,
    healthy,
    running_pid,
    start_server,
    stop_server,
    superset_env,
    tail,
)
from channel_dw.bi.warehouse import (
    SupersetError,
    ensure_metadata_db,
    ensure_reader_login,
    metadata_db_initialised,
    metadata_url,
    reader_url,
)
from channel_dw.config import Settings, settings
from channel_dw.db.connection import ensure_server

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
ASSETS = HERE / "dashboard"
PROVISION = HERE / "provision.py"
ADMIN_USER = "admin"
DASHBOARD_PATH = "/superset/dashboard/channel-kpis/"
PASSWORD_MASK = "X" * 10  # Superset's mask for a password left out of an export
STEP_TIMEOUT = 900  # seconds for one `superset` command (db upgrade is the long one)

CONFIG = '''"""Superset's settings for channel-dw, written by channel_dw.bi each time it sets
Superset up: change channel_dw/bi/control.py, not this file."""

from pathlib import Path

_HERE = Path(__file__).resolve().parent

# Made once (mode 600) beside this file. It also encrypts the warehouse password Superset keeps
# in its metadata database: with another key that password cannot be read any more.
SECRET_KEY = (_HERE / "secret_key").read_text().strip()
SQLALCHEMY_DATABASE_URI = {metadata_url!r}
DATA_DIR = str(_HERE / "data")
SUPERSET_WEBSERVER_PORT = {port}
SUPERSET_WEBSERVER_TIMEOUT = 120

# SQL Lab: on for every role that has it (Admin here); queries run synchronously, at most 60 s
# and 10,000 rows shown. DML is off per database (the warehouse is registered with
# allow_dml=False), and its login may only read schema marts anyway.
SQLLAB_TIMEOUT = 60
SQL_MAX_ROW = 10000
DISPLAY_MAX_ROW = 10000
ROW_LIMIT = 50000
PREVENT_UNSAFE_DB_CONNECTIONS = True
FEATURE_FLAGS = {{"ENABLE_TEMPLATE_PROCESSING": False, "ALERT_REPORTS": False}}

# one process on the loopback: in-memory rate limits, no cache server
RATELIMIT_STORAGE_URI = "memory://"
CACHE_CONFIG = {{"CACHE_TYPE": "NullCache"}}
DATA_CACHE_CONFIG = {{"CACHE_TYPE": "NullCache"}}

# The browser loads nothing from outside this server. Superset's own policy lets every page load
# a telemetry image from apachesuperset.gateway.scarf.sh (its front end asks for it, no setting
# turns it off) and map tiles: on an operator's network, where outside hosts are unreachable,
# each page's "load" then waits on that image until the connection gives up. This is Superset's
# policy without the outside hosts; the charts of the dashboard need none of them.
TALISMAN_ENABLED = True
TALISMAN_CONFIG = {{
    "content_security_policy": {{
        "base-uri": ["'self'"],
        "default-src": ["'self'"],
        "img-src": ["'self'", "blob:", "data:"],
        "worker-src": ["'self'", "blob:"],
        "connect-src": ["'self'"],
        "object-src": "'none'",
        "style-src": ["'self'", "'unsafe-inline'"],
        "font-src": ["'self'"],
        "script-src": ["'self'", "'strict-dynamic'"],
    }},
    "content_security_policy_nonce_in": ["script-src"],
    "force_https": False,
    "session_cookie_secure": False,
}}
'''


@dataclass(frozen=True)
class SupersetState:
    running: bool
    healthy: bool
    pid: int | None
    port: int
    admin_user: str
    admin_password: str | None
    installed: bool
    home: SupersetHome

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def dashboard_url(self) -> str:
        return self.url + DASHBOARD_PATH

    def describe(self) -> str:
        if self.running:
            health = "healthy" if self.healthy else "not answering /health"
            head = f"Superset: running, pid {self.pid}, {self.url} ({health})"
        else:
            head = f"Superset: stopped ({'installed' if self.installed else 'not installed'})"
        lines = [head, f"  dashboard: {self.dashboard_url}"]
        if self.admin_password is not None:
            lines.append(f"  user: {self.admin_user}  password: {self.admin_password}")
        lines.append(f"  log: {self.home.log}")
        return "\n".join(lines)


# --- small helpers ------------------------------------------------------------------------------


def _secret(path: Path) -> str:
    """The secret kept in ``path``, made (mode 600) the first time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(32) + "\n")
    path.chmod(0o600)
    return path.read_text().strip()


def _run_step(home: SupersetHome, args: list[str], what: str) -> None:
    """One Superset command in its env, its output appended to setup.log."""
    with open(home.setup_log, "ab") as out:
        out.write(f"\n$ {' '.join(args)}\n".encode())
        out.flush()
        started = time.monotonic()
        try:
            done = subprocess.run(
                args,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=superset_env(home),
                cwd=home.root,
                timeout=STEP_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise SupersetError(f"{what} took over {STEP_TIMEOUT}s; see {home.setup_log}") from exc
    if done.returncode != 0:
        raise SupersetError(
            f"{what} failed (exit {done.returncode}); {home.setup_log} ends:\n"
            f"{tail(home.setup_log)}"
        )
    log.info("%s: %.1fs", what, time.monotonic() - started)


# --- the steps of `up` --------------------------------------------------------------------------


def write_config(home: SupersetHome, s: Settings, port: int) -> None:
    home.root.mkdir(parents=True, exist_ok=True)
    home.root.chmod(0o700)
    text = CONFIG.format(metadata_url=metadata_url(s), port=port)
    fd = os.open(home.config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    home.config.chmod(0o600)


def initialise(home: SupersetHome, s: Settings) -> bool:
    """``superset db upgrade`` and ``superset init``, unless done for this Superset version and
    metadata database (a stamp, checked against the database itself). True when they ran."""
    key = hashlib.sha256(CONSTRAINTS.read_bytes() + metadata_url(s).encode()).hexdigest()[:16]
    stamp = home.root / f".initialised-{key}"
    if stamp.exists() and metadata_db_initialised(s):
        return False
    superset = str(superset_bin(home.venv))
    _run_step(home, [superset, "db", "upgrade"], "superset db upgrade")
    _run_step(home, [superset, "init"], "superset init")
    for old in home.root.glob(".initialised-*"):
        old.unlink()
    stamp.touch()
    return True


def build_bundle(home: SupersetHome, s: Settings) -> Path:
    """``dashboard/`` as Superset's import ZIP. Two things differ from the files: the database's
    URL is this warehouse's (as superset_reader, the password masked), and a chart's
    ``query_context``, kept as YAML in the repository, becomes the JSON string Superset stores."""
    target = home.bundle
    partial = target.with_suffix(".zip.part")
    with ZipFile(partial, "w", ZIP_DEFLATED) as bundle:
        for path in sorted(ASSETS.rglob("*.yaml")):
            name = path.relative_to(ASSETS).as_posix()
            text = path.read_text(encoding="utf-8")
            config = yaml.safe_load(text)
            if name.startswith("databases/"):
                config["sqlalchemy_uri"] = reader_url(s, PASSWORD_MASK)
                text = yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
            elif name.startswith("charts/") and isinstance(config.get("query_context"), dict):
                config["query_context"] = json.dumps(config["query_context"], ensure_ascii=False)
                text = yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
            bundle.writestr(f"channel_kpis/{name}", text)
    partial.replace(target)
    return target


# --- what the CLI calls -------------------------------------------------------------------------


def state(s: Settings | None = None) -> SupersetState:
    s = s or settings()
    home = SupersetHome.of(s)
    pid = running_pid(home)
    port = choose_port(home, remember=False)
    admin_password = (
        home.admin_password.read_text().strip() if home.admin_password.exists() else None
    )
    return SupersetState(
        running=pid is not None,
        healthy=pid is not None and healthy(port),
        pid=pid,
        port=port,
        admin_user=ADMIN_USER,
        admin_password=admin_password,
        installed=superset_bin(home.venv).exists(),
        home=home,
    )


def up(s: Settings | None = None) -> str:
    """Installs, provisions and starts Superset (see the module's docstring); says what it did."""
    s = ensure_server(s or settings())
    home = SupersetHome.of(s)
    current = state(s)
    if current.running:
        if not current.healthy:
            return (
                f"Superset is already running (pid {current.pid}) but does not answer /health: "
                f"see {home.log}, or restart it with down, then up"
            )
        return f"Superset is already running (pid {current.pid}): {current.dashboard_url}"
    began = time.monotonic()
    done: list[str] = []
    home.root.mkdir(parents=True, exist_ok=True)
    home.root.chmod(0o700)

    took = ensure_venv(home.venv, home.setup_log)
    if took is not None:
        done.append(f"installed Superset in {took:.0f}s")
    new_key = not home.secret_key.exists()
    _secret(home.secret_key)
    created_db = ensure_metadata_db(s)
    if new_key and not created_db and metadata_db_initialised(s):
        home.secret_key.unlink()
        raise SupersetError(
            "the metadata database superset on this server was set up by another Superset "
            f"(another SECRET_KEY than the new one in {home.root}): copy that installation's "
            "secret_key there, or drop the database (`drop database superset`) and run up again"
        )
    port = choose_port(home)
    write_config(home, s, port)
    ensure_reader_login(s, _secret(home.reader_password))
    _secret(home.admin_password)
    if initialise(home, s):
        done.append("set up the metadata database")
    bundle = build_bundle(home, s)
    _run_step(
        home,
        [
            str(superset_bin(home.venv, "python")),
            "-P",  # not this folder on sys.path: Superset's modules only
            str(PROVISION),
            "--secrets",
            str(home.root),
            "--bundle",
            str(bundle),
        ],
        "provisioning the dashboard",
    )
    done.append("imported the Channel KPIs dashboard")
    pid = start_server(home, port)
    summary = "; ".join(done)
    return (
        f"Superset is running (pid {pid}, {time.monotonic() - began:.0f}s: {summary}):\n"
        f"  {state(s).dashboard_url}\n"
        f"  user {ADMIN_USER} (`channel-dw bi status` shows the password); log: {home.log}"
    )


def down(s: Settings | None = None) -> str:
    """Stops this checkout's Superset; says whether there was one."""
    home = SupersetHome.of(s or settings())
    pid = running_pid(home)
    if pid is None:
        home.pid_file.unlink(missing_ok=True)
        return "Superset is not running"
    stop_server(pid)
    home.pid_file.unlink(missing_ok=True)
    return f"Superset stopped (pid {pid})"


def status(s: Settings | None = None) -> str:
    """Whether Superset runs, where, and the admin user's login."""
    return state(s).describe()
