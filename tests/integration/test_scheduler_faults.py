"""Faults under a real scheduler (``channel-dw airflow up``): a load task's process killed with
SIGKILL, and the scheduler itself killed with SIGKILL while a load runs.

Both tests share one deployment (its start costs a minute of both cores) on a warehouse whose
history is loaded. Each loads a day of its own whose web file is big enough (300,000 events) to be
killed half-way: the kill comes when the ledger shows the delivery ``loading``. In both cases the
run must end in success through a retry, the ledger must show the interrupted attempt cleaned up
(``abandoned``) and the file loaded once, and ``raw`` must hold the file's rows exactly once; the
sources without a file that day are skipped, not failed. Only the ingest DAG is unpaused: the mart
is not what these tests are about.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import psutil
import psycopg2
import pytest

from channel_dw.config import Settings, settings
from tests.integration.airflow_deployment import (
    BUSINESS_TZ,
    Airflow,
    big_web_file,
    cli,
    deliver,
    ledger_of,
    prepare_landing,
    running_airflow,
    wait_for_ledger,
)

pytestmark = [pytest.mark.integration, pytest.mark.minutes(4)]

BIG = 300_000


def _web_rows(db, file_name: str) -> tuple[int, int]:
    """(rows in raw.web_events from the file's live delivery, that delivery's rows_loaded)."""
    with db.cursor() as cur:
        cur.execute(
            "select file_id, rows_loaded from audit.file_ledger"
            " where file_name = %s and status = 'loaded'",
            (file_name,),
        )
        (file_id, rows_loaded), *more = cur.fetchall()
        assert not more, "two live deliveries of one file"
        cur.execute("select count(*) from raw.web_events where _file_id = %s", (file_id,))
        return cur.fetchone()[0], rows_loaded


def _assert_cleaned_up_then_loaded_once(db, web: str) -> None:
    """The killed attempt, and any later one a busy machine lost too (a retry whose heartbeat
    came late), each cleaned up as ``abandoned``; then one ``loaded``; raw has its rows once."""
    statuses = [status for status, _ in ledger_of(db, web)]
    assert statuses[-1] == "loaded" and len(statuses) >= 2, statuses
    assert set(statuses[:-1]) == {"abandoned"}, statuses
    in_raw, loaded = _web_rows(db, web)
    assert in_raw == loaded and loaded > BIG * 0.9


@dataclass
class Deployment:
    """One Airflow deployment for the module's tests, on a warehouse that holds the 12 days before
    ``day``; the first test loads ``day``, the second the day after."""

    warehouse: Settings
    airflow: Airflow
    db: Any
    day: date


@pytest.fixture(scope="module")
def deployment(make_database, tmp_path_factory) -> Iterator[Deployment]:
    """Airflow up once for both faults (a start costs a minute of both cores), on a warehouse of
    its own whose history is loaded; each test then loads a big web file of a day of its own."""
    home = tmp_path_factory.mktemp("faults")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DW_DATABASE_URL", make_database())
        mp.setenv("DW_HOME", str(home / "dw-home"))
        mp.setenv("DW_LANDING", str(home / "landing"))
        warehouse = settings()
        # never yesterday nor the day before (the scheduler's own run), never a future day
        day = datetime.now(BUSINESS_TZ).date() - timedelta(days=14)
        prepare_landing(warehouse, day, customers=200)
        conn = psycopg2.connect(warehouse.database_url)
        conn.autocommit = True
        try:
            with running_airflow(mp) as airflow:
                yield Deployment(warehouse, airflow, conn, day)
        finally:
            conn.close()


def _start_a_big_load(d: Deployment, day: date) -> tuple[str, str]:
    """Delivers a web file of ``BIG`` events for ``day`` and triggers the ingest DAG for it;
    returns the file's name and the run's id."""
    waiting = d.warehouse.home.parent / f"arriving-{day:%Y%m%d}"
    web = big_web_file(waiting, day, BIG)
    deliver(waiting, d.warehouse.landing)
    run = d.airflow.trigger("channel_ingest_daily", day)
    # unpaused after the trigger (a no-op for the second test): the run is there when it starts
    d.airflow.unpause("channel_ingest_daily")
    return web.name, run["dag_run_id"]


def test_a_killed_load_task_is_not_a_success_and_its_retry_loads_the_file(deployment):
    airflow, db = deployment.airflow, deployment.db
    web, run_id = _start_a_big_load(deployment, deployment.day)
    wait_for_ledger(db, web, "loading")
    ti = airflow.task_instances("channel_ingest_daily", run_id)["load_web"]
    cmdline = psutil.Process(ti["pid"]).cmdline()  # read before the kill: a zombie has none
    assert "airflow" in " ".join(cmdline), cmdline
    os.kill(ti["pid"], signal.SIGKILL)
    print(f"killed the load_web task process {ti['pid']} ({cmdline})")

    run = airflow.wait_for_run("channel_ingest_daily", run_id, timeout=600)
    assert run["state"] == "success", airflow.describe_runs()
    tries = airflow.api(
        f"/api/v2/dags/channel_ingest_daily/dagRuns/{run_id}/taskInstances/load_web/tries"
    )["task_instances"]
    states = [t["state"] for t in sorted(tries, key=lambda t: t["try_number"])]
    # the killed attempt is not recorded as a success (Airflow #60858); a retry loaded it
    assert states[0] != "success" and states[-1] == "success" and len(states) >= 2, states
    # the other six sources had no file for the day: their tasks were skipped, not failed
    tis = airflow.task_instances("channel_ingest_daily", run_id)
    assert {task: ti["state"] for task, ti in tis.items()} == {
        "publish_raw": "success",
        **{
            f"load_{source}": "success" if source == "web" else "skipped"
            for source in ("app", "crm", "halls", "hotline", "sms", "stores", "web")
        },
    }

    _assert_cleaned_up_then_loaded_once(db, web)


def test_the_scheduler_killed_during_a_load_then_started_again_finishes_the_run(deployment):
    airflow, db = deployment.airflow, deployment.db
    web, run_id = _start_a_big_load(deployment, deployment.day + timedelta(days=1))
    wait_for_ledger(db, web, "loading")
    pid = int((deployment.warehouse.airflow_home / "run" / "scheduler.pid").read_text())
    scheduler = psutil.Process(pid)
    # the scheduler and everything it runs (LocalExecutor: the task processes are its
    # descendants) die at once, as when its container or host goes down
    family = [scheduler, *scheduler.children(recursive=True)]
    for process in family:
        # a task process may end on its own once the scheduler above it is gone
        with contextlib.suppress(psutil.NoSuchProcess):
            process.send_signal(signal.SIGKILL)
    psutil.wait_procs(family, timeout=10)
    print(f"killed the scheduler {pid} and its {len(family) - 1} descendant(s)")

    restarted = cli("airflow", "up")
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    assert "starting scheduler" in restarted.stdout, restarted.stdout
    assert "api-server already runs" in restarted.stdout, restarted.stdout

    run = airflow.wait_for_run("channel_ingest_daily", run_id, timeout=600)
    assert run["state"] == "success", airflow.describe_runs()

    _assert_cleaned_up_then_loaded_once(db, web)
    with db.cursor() as cur:
        cur.execute("select count(*) from audit.file_ledger where status = 'loading'")
        assert cur.fetchone()[0] == 0
