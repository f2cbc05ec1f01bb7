"""The Airflow UI on the project's own settings, driven in headless Chromium.

``channel-dw airflow api-server`` serves the UI and the API from the test's own Airflow home (under
its tmp DW_HOME); ``channel-dw airflow dags reserialize`` writes the DAGs into the metadata DB, as
the dag-processor would, but once (no long-running parser competing for the 2 CPUs). The browser
logs in through the SimpleAuthManager's form, checks the DAG list and a DAG's graph, and saves
screenshots (``$DW_SCREENSHOTS``, else ``build/screenshots/``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.browser import browser_page, chromium_launch_kwargs, screenshot_dir

pytestmark = pytest.mark.integration

CLI = str(Path(sys.executable).with_name("channel-dw"))
DAG_IDS = ("channel_ingest_daily", "channel_mart_build")
GRAPH_DAG = "channel_ingest_daily"
USERNAME = "admin"
STARTUP_TIMEOUT = 120  # seconds, for the server's health and the DAGs' serialization together
UI_TIMEOUT = 30_000  # milliseconds, for anything the browser waits for

# The caller's Airflow settings that would take the server away from the test's own DW_HOME (see
# channel_dw.orchestration.airflow_env) or from the SimpleAuthManager and the user made here.
_DROPPED = ("AIRFLOW_HOME", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__API__BASE_URL")
_DROPPED_PREFIXES = ("AIRFLOW__CORE__AUTH_MANAGER", "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER")

# urllib without any proxy from the environment: the server is on the loopback
_http = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _get_json(url: str, token: str | None = None, body: dict | None = None):
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    with _http.open(urllib.request.Request(url, data=data, headers=headers), timeout=10) as resp:
        return json.load(resp)


@dataclass
class AirflowUI:
    url: str
    username: str
    password: str
    token: str

    def api(self, path: str):
        return _get_json(self.url + path, token=self.token)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tail(path: Path, chars: int = 4000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return f"({path} unreadable)"


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """A ``channel-dw`` command in a process group of its own (see _stop), its output in log."""
    with open(log, "wb") as out:
        return subprocess.Popen(
            [CLI, *args], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def _stop(process: subprocess.Popen) -> None:
    """Ends a process started by _start, and whatever it started, as one process group."""
    if process.poll() is not None:
        return
    for sig, grace in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(grace)
            return


@pytest.fixture
def airflow_ui(warehouse, tmp_path: Path, monkeypatch) -> Iterator[AirflowUI]:
    """An Airflow API server (UI + API) on a free port with a known user, its DAGs serialized."""
    chromium_launch_kwargs()  # fail (or skip) with the install hint before starting anything
    from channel_dw.orchestration.airflow_env import ensure_metadata_db
    from channel_dw.orchestration.mart import current_manifest

    password = secrets.token_urlsafe(16)
    passwords_file = tmp_path / "simple_auth_passwords.json"
    passwords_file.write_text(json.dumps({USERNAME: password}))
    for key in list(os.environ):
        if key in _DROPPED or key.startswith(_DROPPED_PREFIXES):
            monkeypatch.delenv(key)
    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", f"{USERNAME}:admin")
    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE", str(passwords_file))

    # What `channel-dw airflow` does before it runs Airflow, done once here (the two commands
    # below then find it done): in this process, which spares one slow Airflow start, and not by
    # both commands at once, which would migrate the same SQLite database at the same time.
    started = time.monotonic()
    ensure_metadata_db(warehouse)
    try:
        current_manifest(warehouse)
    except RuntimeError as exc:  # as in the CLI: the mart DAG's import error will say more
        print(f"warning: {exc}")
    print(f"airflow: metadata DB and dbt manifest ready after {time.monotonic() - started:.1f}s")

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ)
    server_log = tmp_path / "api-server.log"
    reserialize_log = tmp_path / "dags-reserialize.log"
    processes: list[subprocess.Popen] = []
    try:
        # the UI needs only the core API (no execution API: no task runs here)
        api_server = ["airflow", "api-server", "--apps", "core", "--host", "127.0.0.1"]
        server = _start([*api_server, "--port", str(port)], env, server_log)
        processes.append(server)
        reserialize = _start(["airflow", "dags", "reserialize"], env, reserialize_log)
        processes.append(reserialize)
        deadline = time.monotonic() + STARTUP_TIMEOUT

        # 1. the server answers its health check
        while True:
            if server.poll() is not None:
                pytest.fail(
                    f"the Airflow API server exited ({server.returncode}) before it was healthy; "
                    f"its log ({server_log}):\n{_tail(server_log)}"
                )
            with contextlib.suppress(OSError, ValueError):
                health = _get_json(url + "/api/v2/monitor/health")
                if health["metadatabase"]["status"] == "healthy":
                    break
            if time.monotonic() > deadline:
                pytest.fail(
                    f"the Airflow API server at {url} was not healthy after {STARTUP_TIMEOUT}s; "
                    f"its log ({server_log}):\n{_tail(server_log)}"
                )
            time.sleep(0.5)
        print(f"airflow: API server healthy after {time.monotonic() - started:.1f}s")
        token = _get_json(url + "/auth/token", body={"username": USERNAME, "password": password})
        ui = AirflowUI(url, USERNAME, password, token["access_token"])

        # 2. the DAGs are serialized in the metadata DB (the UI lists what is there)
        while True:
            finished = reserialize.poll() is not None  # before the look: no DAG lands after it
            listed = {dag["dag_id"] for dag in ui.api("/api/v2/dags?limit=100")["dags"]}
            if listed.issuperset(DAG_IDS):
                break
            if finished or time.monotonic() > deadline:
                state = f"exited {reserialize.returncode}" if finished else "still runs"
                pytest.fail(
                    f"DAGs {sorted(set(DAG_IDS) - listed)} are not in the metadata DB "
                    f"(`airflow dags reserialize` {state}); import errors: "
                    f"{json.dumps(ui.api('/api/v2/importErrors'))[:3000]}\n"
                    f"its log ({reserialize_log}):\n{_tail(reserialize_log)}"
                )
            time.sleep(0.5)
        print(f"airflow: DAGs serialized after {time.monotonic() - started:.1f}s")
        yield ui
    finally:
        for process in processes:
            _stop(process)


def _save(page, name: str) -> Path:
    path = screenshot_dir() / name
    page.screenshot(path=str(path))
    print(f"screenshot: {path}")
    return path


def test_airflow_ui_logs_in_lists_the_dags_and_draws_a_dag_graph(airflow_ui):
    from playwright.sync_api import expect

    tasks = [t["task_id"] for t in airflow_ui.api(f"/api/v2/dags/{GRAPH_DAG}/tasks")["tasks"]]
    assert tasks, f"{GRAPH_DAG} has no tasks"
    shots: list[Path] = []

    with browser_page() as page:
        page.set_default_timeout(UI_TIMEOUT)
        try:
            # an anonymous visitor lands on the SimpleAuthManager's login form
            page.goto(airflow_ui.url + "/dags")
            page.wait_for_url(re.compile(r"/auth/login"))
            page.fill('input[name="username"]', airflow_ui.username)
            page.fill('input[name="password"]', airflow_ui.password)
            page.click('button[type="submit"]')
            page.wait_for_url(lambda url: "/auth/login" not in url)

            # the DAG list
            assert page.url.rstrip("/").endswith("/dags"), page.url
            for dag_id in DAG_IDS:
                expect(page.get_by_role("link", name=dag_id, exact=True).first).to_be_visible()
            page.wait_for_load_state("networkidle")
            shots.append(_save(page, "dag-list.png"))

            # the DAG's graph: its page opens on the grid; the toggle next to it draws the graph
            page.get_by_role("link", name=GRAPH_DAG, exact=True).first.click()
            page.wait_for_url(re.compile(rf"/dags/{GRAPH_DAG}(?:[/?#]|$)"))
            page.get_by_role("button", name=re.compile(r"^Show Graph")).click()
            for task_id in tasks:
                node = page.locator(f'.react-flow__node[data-id="{task_id}"]')
                expect(node).to_be_visible()
                expect(node).to_contain_text(task_id)
            page.wait_for_load_state("networkidle")
            shots.append(_save(page, "dag-graph.png"))
        except Exception:
            with contextlib.suppress(Exception):
                _save(page, "airflow-ui-failure.png")
            raise

    for shot in shots:
        assert shot.stat().st_size > 10_000, f"{shot} is only {shot.stat().st_size} bytes"
