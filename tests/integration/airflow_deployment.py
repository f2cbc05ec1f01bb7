"""A running Airflow deployment for the scheduler tests: ``channel-dw airflow up`` in the test's
own DW_HOME (its own port, its own metadata database on the session's PostgreSQL), the REST API
as a user's client, and the landing prepared the way a day arrives in production.

    with running_airflow(tmp_path) as airflow:
        run = airflow.trigger("channel_ingest_daily", day)
        airflow.wait_for_run("channel_ingest_daily", run["dag_run_id"], "success")
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from channel_dw.config import Settings, settings
from channel_dw.orchestration import deployment
from tests.airflow_cache import seed_airflow_metadata

CLI = str(Path(sys.executable).with_name("channel-dw"))
BUSINESS_TZ = ZoneInfo("Asia/Shanghai")
PROJECT_DAGS = deployment.PROJECT_DAGS

# The caller's Airflow settings that would take the deployment away from the test's own DW_HOME.
_DROPPED_PREFIXES = ("AIRFLOW__", "AIRFLOW_HOME", "AIRFLOW_CONN_")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CLI, *args], env=dict(os.environ), capture_output=True, text=True, timeout=timeout
    )


def previous_month_end(now: datetime | None = None) -> date:
    """The last day of the month before now (Asia/Shanghai): the day whose files close a month
    that the report DAG, run now, reports."""
    today = (now or datetime.now(BUSINESS_TZ)).astimezone(BUSINESS_TZ).date()
    return today.replace(day=1) - timedelta(days=1)


def prepare_landing(s: Settings, day: date, customers: int = 500) -> Path:
    """Generates the 13 days up to ``day`` (the generator's planted rejections fall on earlier
    days), loads the 12 before it (the warehouse's history: every source has rows) and keeps
    ``day``'s files aside; returns the folder they wait in, laid out as the landing is."""
    from channel_dw.generate import generate_landing
    from channel_dw.ingest.runner import ingest

    generated = s.home.parent / "generated"
    generate_landing(generated, day - timedelta(days=12), day, customers=customers)
    waiting = s.home.parent / "arriving"
    stamp = f"{day:%Y%m%d}"
    for path in sorted(generated.glob("*/*")):
        if path.parent.name.startswith("_") or not path.is_file():
            continue
        target = (waiting if stamp in path.name else s.landing) / path.parent.name / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    result = ingest(s=s, run_checks=False)
    assert not result.failures, result.failures
    return waiting


def deliver(waiting: Path, landing: Path) -> list[Path]:
    """Drops the waiting files into the landing folder, as the vendors' transfers do."""
    delivered = []
    for path in sorted(waiting.glob("*/*")):
        target = landing / path.parent.name / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        delivered.append(target)
    return delivered


def big_web_file(waiting: Path, day: date, rows: int) -> Path:
    """Replaces the waiting web file of ``day`` by a valid one of ``rows`` events: a load that
    takes long enough to be killed half-way."""
    from channel_dw.generate import write_web_events

    for old in (waiting / "web").glob("*"):
        old.unlink()
    path = waiting / "web" / f"web_events_{day:%Y%m%d}.jsonl"
    write_web_events(path, rows, day=day)
    return path


def wait_for_ledger(db, file_name: str, status: str, timeout: float = 300) -> int:
    """Polls the ledger until a delivery of the file has the status; returns its file_id."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with db.cursor() as cur:
            cur.execute(
                "select file_id from audit.file_ledger where file_name = %s and status = %s"
                " order by file_id desc limit 1",
                (file_name, status),
            )
            row = cur.fetchone()
        if row:
            return row[0]
        time.sleep(0.2)
    pytest.fail(f"{file_name} was not {status!r} in the ledger after {timeout:.0f} s")


def ledger_of(db, file_name: str) -> list[tuple[str, int | None]]:
    """(status, rows_loaded) of every delivery of the file, oldest first."""
    with db.cursor() as cur:
        cur.execute(
            "select status, rows_loaded from audit.file_ledger where file_name = %s"
            " order by file_id",
            (file_name,),
        )
        return cur.fetchall()


@dataclass
class Airflow:
    settings: Settings
    url: str
    up_output: str
    _token: str = field(default="", repr=False)

    def api(self, path: str, body: dict | None = None, method: str | None = None) -> Any:
        for attempt in range(3):  # a token expires; the api-server may be restarting
            try:
                if not self._token:
                    self._token = deployment.token(self.settings, self.url)
                return deployment.api_json(self.url + path, self._token, body, method)
            except urllib.error.HTTPError as exc:
                if exc.code != 401 or attempt == 2:
                    detail = exc.read().decode(errors="replace")[:2000]
                    raise AssertionError(f"{method or 'GET'} {path}: {exc.code} {detail}") from exc
                self._token = ""
            except OSError:
                if attempt == 2:
                    raise
                time.sleep(2)
        raise AssertionError("unreachable")

    def trigger(self, dag_id: str, day: date, conf: dict | None = None) -> dict:
        """Triggers the DAG for a business date, as the UI's Trigger button does."""
        logical = datetime(day.year, day.month, day.day, 6, 0, tzinfo=BUSINESS_TZ)
        return self.api(
            f"/api/v2/dags/{dag_id}/dagRuns",
            body={"logical_date": logical.isoformat(), "conf": conf or {}},
        )

    def unpause(self, *dag_ids: str) -> None:
        for dag_id in dag_ids:
            answer = self.api(f"/api/v2/dags/{dag_id}", body={"is_paused": False}, method="PATCH")
            assert answer["is_paused"] is False

    def runs(self, dag_id: str) -> list[dict]:
        path = f"/api/v2/dags/{dag_id}/dagRuns?order_by=run_after&limit=100"
        return self.api(path)["dag_runs"]

    def task_instances(self, dag_id: str, run_id: str) -> dict[str, dict]:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances?limit=200"
        return {ti["task_id"]: ti for ti in self.api(path)["task_instances"]}

    def wait_for(self, what: str, check: Callable[[], Any], timeout: float) -> Any:
        """Polls ``check`` until it returns something truthy; fails with the runs so far."""
        deadline = time.monotonic() + timeout
        while True:
            found = check()
            if found:
                return found
            if time.monotonic() > deadline:
                pytest.fail(f"no {what} after {timeout:.0f} s; the runs:\n{self.describe_runs()}")
            time.sleep(3)

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 300) -> dict:
        """Waits until the run has ended; returns it (its state may be success or failed)."""

        def ended():
            run = self.api(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
            return run if run["state"] in ("success", "failed") else None

        return self.wait_for(f"end of {dag_id} {run_id}", ended, timeout)

    def describe_runs(self) -> str:
        lines = []
        for dag_id in PROJECT_DAGS:
            for run in self.runs(dag_id):
                lines.append(
                    f"{dag_id} {run['dag_run_id']} {run['run_type']} {run['state']}"
                    f" {run.get('start_date')} - {run.get('end_date')}"
                )
                if run["state"] == "failed":
                    tis = self.task_instances(dag_id, run["dag_run_id"]).values()
                    bad = [t["task_id"] for t in tis if t["state"] == "failed"]
                    lines.append(f"    failed tasks: {bad}")
        return "\n".join(lines) or "(none)"


@contextlib.contextmanager
def running_airflow(
    monkeypatch, metadata_url: str | None = None, retry_delay: int = 5
) -> Iterator[Airflow]:
    """``channel-dw airflow up`` with the environment the warehouse fixture set; ``down`` after.
    ``metadata_url``: Airflow's metadata database elsewhere than on the warehouse's server;
    ``retry_delay``: the first retry's delay in seconds (production: 300).

    The project's DAGs start paused (Airflow's default); the tests unpause them as a user would.
    """
    for key in list(os.environ):
        if key.startswith(_DROPPED_PREFIXES):
            monkeypatch.delenv(key)
    if metadata_url:
        sqlalchemy_url = metadata_url.replace("postgresql://", "postgresql+psycopg2://", 1)
        monkeypatch.setenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", sqlalchemy_url)
    monkeypatch.setenv("DW_AIRFLOW_PORT", str(free_port()))
    # a retry after seconds, not the production 5 minutes (DW_RETRY_DELAY_SECONDS, dag_defaults)
    monkeypatch.setenv("DW_RETRY_DELAY_SECONDS", str(retry_delay))
    # a task whose process died is failed (and retried) after 60 s without a heartbeat, not 5 min
    # and a scheduler started after one was killed resets its orphaned tasks within ~30 s
    quick = {
        "TASK_INSTANCE_HEARTBEAT_TIMEOUT": "60",
        "TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
        "SCHEDULER_HEALTH_CHECK_THRESHOLD": "10",
        "ORPHANED_TASKS_CHECK_INTERVAL": "15",
    }
    for key, value in quick.items():
        monkeypatch.setenv(f"AIRFLOW__SCHEDULER__{key}", value)
    s = settings()
    seed_airflow_metadata(s)
    started = time.monotonic()
    up = cli("airflow", "up", timeout=deployment.START_TIMEOUT + 120)
    print(f"airflow up ({time.monotonic() - started:.0f} s):\n{up.stdout}{up.stderr}")
    try:
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
        yield Airflow(s, deployment.status(s).url, up.stdout)
    finally:
        down = cli("airflow", "down", timeout=120)
        print(f"airflow down:\n{down.stdout}{down.stderr}")
        logs = deployment.process_log(s.airflow_home, "x").parent
        for log in sorted(logs.glob("*.log")):
            text = log.read_text(errors="replace")
            if "Traceback" in text:
                print(f"--- {log.name} (has a traceback) ---\n{text[-4000:]}")
