"""Airflow run as a deployment runs it, on this machine: ``channel-dw airflow up | down | status``.

Four processes, each started detached in a session of its own: the api-server (UI, REST API and
the execution API the task processes report to), the scheduler (LocalExecutor: it runs the tasks
itself), the dag-processor and the triggerer. Their settings are the project's
(:mod:`channel_dw.orchestration.airflow_env`): metadata in PostgreSQL, the project's DAGs. Each
process writes its pid to ``$DW_HOME/airflow/run/<name>.pid`` and its output to
``$DW_HOME/airflow/logs/processes/<name>.log``; the task logs are under ``$DW_HOME/airflow/logs``.

Login: the SimpleAuthManager's user ``admin``, whose password is made once and kept in
``$DW_HOME/airflow/passwords.json`` (mode 600); ``status`` says where.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from channel_dw.config import Settings, port_is_free
from channel_dw.errors import ConfigError
from channel_dw.orchestration import airflow_env

PROCESSES = ("api-server", "scheduler", "dag-processor", "triggerer")
# what /api/v2/monitor/health calls each process (the api-server answers it, so it is up)
HEALTH_KEYS = {"scheduler": "scheduler", "dag-processor": "dag_processor", "triggerer": "triggerer"}
PROJECT_DAGS = ("channel_ingest_daily", "channel_mart_build", "channel_monthly_report")
USERNAME = "admin"
START_TIMEOUT = 300  # seconds: health of the four processes and the DAGs parsed, on 2 busy cores

Say = Callable[[str], None]

# urllib without a proxy from the environment: the api-server is on the loopback
_http = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class Deployment:
    home: Path
    url: str
    pids: dict[str, int | None]

    @property
    def running(self) -> list[str]:
        return [name for name, pid in self.pids.items() if pid is not None]

    @property
    def passwords_file(self) -> Path:
        return self.home / "passwords.json"

    def describe(self) -> str:
        lines = [f"Airflow at {self.url} (AIRFLOW_HOME {self.home})"]
        for name, pid in self.pids.items():
            state = f"running, pid {pid}" if pid else "not running"
            lines.append(f"    {name:<14} {state}  (log: {process_log(self.home, name)})")
        lines.append(f"    login: {USERNAME}, password in {self.passwords_file}")
        return "\n".join(lines)


def run_dir(home: Path) -> Path:
    return home / "run"


def process_log(home: Path, name: str) -> Path:
    return home / "logs" / "processes" / f"{name}.log"


def _pid_of(home: Path, name: str) -> int | None:
    """The pid in the process's pid file, if that process still runs (not a zombie) and is not
    some other program that got the pid since (Airflow's processes retitle themselves, e.g.
    ``airflow api_server``, and a title is briefly empty while it changes)."""
    try:
        pid = int((run_dir(home) / f"{name}.pid").read_text().strip())
        os.kill(pid, 0)
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    if stat.rpartition(")")[2].split()[0] in ("Z", "X"):
        return None
    return pid if not cmdline or b"airflow" in cmdline else None


def status(s: Settings) -> Deployment:
    home = s.airflow_home
    port = airflow_env.api_port(s)
    return Deployment(home, f"http://127.0.0.1:{port}", {n: _pid_of(home, n) for n in PROCESSES})


def password(s: Settings) -> str:
    """The admin's password, made once (the SimpleAuthManager reads this file)."""
    path = s.airflow_home / "passwords.json"
    with contextlib.suppress(OSError, ValueError, KeyError):
        return json.loads(path.read_text())[USERNAME]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.chmod(0o600)
    value = secrets.token_urlsafe(18)
    path.write_text(json.dumps({USERNAME: value}))
    return value


def deployment_environ(s: Settings) -> dict[str, str]:
    env = airflow_env.airflow_environ(s)
    password(s)
    env.setdefault("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", f"{USERNAME}:admin")
    env.setdefault(
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE", str(s.airflow_home / "passwords.json")
    )
    env.setdefault("AIRFLOW__API__BASE_URL", f"http://127.0.0.1:{airflow_env.api_port(s)}")
    # two cores: the loads, dbt and PostgreSQL need them more than a wide task parallelism
    env.setdefault("AIRFLOW__CORE__PARALLELISM", "4")
    env.setdefault("AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC", "2")
    env.setdefault("AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL", "30")
    # a DAG file is parsed again every 2 minutes rather than 30 s: the mart DAG's parse (cosmos
    # renders ~40 tasks from the dbt manifest) costs a second or two of CPU, and a changed DAG
    # file is a deployment, for which two minutes is soon enough
    env.setdefault("AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL", "120")
    return env


def _command(s: Settings, name: str) -> list[str]:
    """The command line of one process. The scheduler goes through
    :mod:`channel_dw.orchestration.airflow_main` (this interpreter, the one beside ``airflow``),
    which imports what the tasks import before Airflow starts: every task process is a fork of
    the scheduler, so each task finds them loaded."""
    if name == "scheduler":
        return [sys.executable, "-m", "channel_dw.orchestration.airflow_main", name]
    args = [airflow_env.airflow_bin(), name]
    if name == "api-server":
        args += ["--host", "127.0.0.1", "--port", str(airflow_env.api_port(s))]
    return args


def _start(s: Settings, name: str, env: dict[str, str]) -> int:
    args = _command(s, name)
    log = process_log(s.airflow_home, name)
    log.parent.mkdir(parents=True, exist_ok=True)
    run_dir(s.airflow_home).mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        process = subprocess.Popen(
            args,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: `down` ends it with its children
            cwd=s.airflow_home,
        )
    (run_dir(s.airflow_home) / f"{name}.pid").write_text(f"{process.pid}\n")
    return process.pid


def _tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def api_json(
    url: str, token: str | None = None, body: dict | None = None, method: str | None = None
):
    """A call to the Airflow REST API: the decoded JSON answer (an HTTPError says what failed)."""
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    with _http.open(request, timeout=15) as resp:
        return json.load(resp)


def token(s: Settings, base_url: str) -> str:
    answer = api_json(
        base_url + "/auth/token", body={"username": USERNAME, "password": password(s)}
    )
    return answer["access_token"]


def _wait_until_ready(s: Settings, d: Deployment, say: Say, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    started = time.monotonic()
    waiting_for = ""
    while True:
        for name in PROCESSES:
            if _pid_of(s.airflow_home, name) is None:
                raise ConfigError(
                    f"the Airflow {name} exited while starting; its log "
                    f"({process_log(s.airflow_home, name)}) ends with:\n"
                    f"{_tail(process_log(s.airflow_home, name))}"
                )
        now = ""
        try:
            health = api_json(d.url + "/api/v2/monitor/health")
            unhealthy = [
                name
                for name, key in HEALTH_KEYS.items()
                if (health.get(key) or {}).get("status") != "healthy"
            ]
            if health["metadatabase"]["status"] != "healthy":
                unhealthy.insert(0, "metadata database")
            if unhealthy:
                now = "healthy: " + ", ".join(unhealthy)
            else:
                listed = api_json(d.url + "/api/v2/dags?limit=100", token=token(s, d.url))
                missing = sorted(set(PROJECT_DAGS) - {x["dag_id"] for x in listed["dags"]})
                if not missing:
                    say(f"    ready after {time.monotonic() - started:.0f} s")
                    return
                now = "the DAGs parsed: " + ", ".join(missing)
        except (OSError, ValueError, KeyError):
            now = "the api-server to answer"
        if now != waiting_for:
            say(f"    waiting for {now}")
            waiting_for = now
        if time.monotonic() > deadline:
            raise ConfigError(
                f"Airflow was not ready after {timeout:.0f} s (still waiting for {now}); the "
                f"process logs are in {process_log(s.airflow_home, 'x').parent}"
            )
        time.sleep(1)


def up(s: Settings, say: Say, timeout: float = START_TIMEOUT) -> Deployment:
    """Starts what does not run yet (the warehouse too, when embedded) and waits until the four
    processes are healthy and the project's DAGs are parsed. A no-op when all four run."""
    current = status(s)
    if len(current.running) == len(PROCESSES):
        say("Airflow is already running:")
        return current
    if s.embedded:
        from channel_dw.db import embedded

        say("    " + embedded.start(s).describe())
    airflow_env.ensure_metadata_db(s)
    from channel_dw.orchestration.dbt_parse import current_manifest

    try:  # the mart DAG renders its tasks from a dbt manifest: make it current once, here
        current_manifest(s)
    except RuntimeError as exc:  # a broken dbt project: the mart DAG will show an import error
        say(f"warning: {exc}")
    port = airflow_env.api_port(s)
    if current.pids["api-server"] is None and not port_is_free(port):
        raise ConfigError(
            f"port {port} is taken by another program: set DW_AIRFLOW_PORT to a free port "
            f"(or remove {s.airflow_home / 'port'} to have one chosen)"
        )
    env = deployment_environ(s)
    for name in PROCESSES:
        if current.pids[name] is None:
            say(f"    starting {name} (pid {_start(s, name, env)})")
        else:
            say(f"    {name} already runs (pid {current.pids[name]})")
    deployment = status(s)
    _wait_until_ready(s, deployment, say, timeout)
    return status(s)


def down(s: Settings, say: Say, grace: float = 30) -> Deployment:
    """Stops the four processes (SIGTERM to each process group, SIGKILL after ``grace`` s)."""
    current = status(s)
    if not current.running:
        say("Airflow is not running")
    for name in reversed(PROCESSES):
        pid = current.pids[name]
        if pid is None:
            continue
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while _pid_of(s.airflow_home, name) is not None and time.monotonic() < deadline:
            time.sleep(0.2)
        if _pid_of(s.airflow_home, name) is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)
        (run_dir(s.airflow_home) / f"{name}.pid").unlink(missing_ok=True)
        say(f"    stopped {name} (pid {pid})")
    return status(s)
