"""The three DAGs under a real scheduler: api-server, scheduler, dag-processor and triggerer as
separate processes (``channel-dw airflow up``), LocalExecutor, metadata in PostgreSQL.

A day's files are dropped into the landing folder and the ingest DAG is triggered for that date
through the REST API, as a user does from the UI. The scheduler runs the loads; their Asset
events trigger the mart build; the mart's Asset event triggers the monthly report, which writes
the report of the month the day closes. The test waits on the API, then checks the ledger, the
mart, the report file, and the UI in headless Chromium (screenshots in ``build/screenshots/``).

The warehouse runs on a PostgreSQL server of its own (Airflow's metadata stays on the session's
server, as a deployment keeps them apart), and that server is stopped for 30 s while the mart
builds: the dbt tasks that fail meanwhile are retried and the build finishes.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest

from channel_dw.config import EMBEDDED_USER, Settings, settings
from channel_dw.db import embedded
from channel_dw.orchestration.deployment import process_log
from tests.browser import browser_page, screenshot_dir
from tests.integration.airflow_deployment import (
    PROJECT_DAGS,
    cli,
    deliver,
    free_port,
    prepare_landing,
    previous_month_end,
    running_airflow,
)

pytestmark = [pytest.mark.integration, pytest.mark.minutes(8)]

CHAIN_TIMEOUT = 900  # seconds from the trigger to the report: two cores run ~40 dbt tasks
OUTAGE = 30  # seconds the warehouse is down during the mart build


@pytest.fixture
def own_warehouse(make_database, tmp_path: Path, monkeypatch) -> Iterator[tuple[Settings, str]]:
    """A warehouse on an embedded server of its own (this test stops it), and the URL of an
    empty database on the session's server for Airflow's metadata."""
    port = free_port()
    server = Settings(
        home=tmp_path / "warehouse-server",
        landing=tmp_path / "unused",
        reports=tmp_path / "unused",
        database_url=f"postgresql://{EMBEDDED_USER}@127.0.0.1:{port}/channel_dw",
        embedded=True,
        embedded_port=port,
    )
    embedded.start(server)
    monkeypatch.setenv("DW_DATABASE_URL", server.database_url)
    monkeypatch.setenv("DW_HOME", str(tmp_path / "dw-home"))
    monkeypatch.setenv("DW_LANDING", str(tmp_path / "landing"))
    try:
        yield server, make_database()
    finally:
        embedded.stop(server)


def _query(url: str, sql: str, params: tuple = ()) -> list[tuple]:
    with contextlib.closing(psycopg2.connect(url)) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def _dbt_task_running(airflow) -> bool:
    for run in airflow.runs("channel_mart_build"):
        if run["state"] == "running":
            tis = airflow.task_instances("channel_mart_build", run["dag_run_id"])
            if any(t.startswith("dbt.") and ti["state"] == "running" for t, ti in tis.items()):
                return True
    return False


def _dbt_task_failed(airflow) -> bool:
    """A dbt task of a mart run has failed at least once (waiting for its retry, or retried)."""
    for run in airflow.runs("channel_mart_build"):
        tis = airflow.task_instances("channel_mart_build", run["dag_run_id"])
        if any(
            t.startswith("dbt.") and (ti["state"] == "up_for_retry" or ti["try_number"] > 1)
            for t, ti in tis.items()
        ):
            return True
    return False


def _report_written(airflow):
    """The first asset-triggered report run whose write_report task succeeded (not skipped)."""
    for run in airflow.runs("channel_monthly_report"):
        if run["run_type"] != "asset_triggered" or run["state"] != "success":
            continue
        tis = airflow.task_instances("channel_monthly_report", run["dag_run_id"])
        if tis.get("write_report", {}).get("state") == "success":
            return run
    return None


def test_the_scheduler_runs_ingest_then_mart_then_report(own_warehouse, monkeypatch):
    server, metadata = own_warehouse
    warehouse = settings()
    url = warehouse.database_url
    day = previous_month_end()
    month = day.replace(day=1)
    waiting = prepare_landing(warehouse, day)
    # retries that outlast the outage: 20 s, then 40 s (production: 5 min, then 10)
    with running_airflow(monkeypatch, metadata_url=metadata, retry_delay=20) as airflow:
        again = cli("airflow", "up")
        assert again.returncode == 0 and "already running" in again.stdout, again.stdout

        delivered = deliver(waiting, warehouse.landing)
        assert {p.parent.name for p in delivered} == {
            "app", "crm", "halls", "hotline", "sms", "stores", "web"
        }  # fmt: skip
        triggered = airflow.trigger("channel_ingest_daily", day)
        started = time.monotonic()
        airflow.unpause(*PROJECT_DAGS)

        ingest = airflow.wait_for_run("channel_ingest_daily", triggered["dag_run_id"])
        assert ingest["state"] == "success", airflow.describe_runs()
        tis = airflow.task_instances("channel_ingest_daily", triggered["dag_run_id"])
        assert {t: ti["state"] for t, ti in tis.items()} == {
            "publish_raw": "success",
            **{
                f"load_{s}": "success"
                for s in ("app", "crm", "halls", "hotline", "sms", "stores", "web")
            },
        }
        print(f"ingest done after {time.monotonic() - started:.0f} s")

        # the warehouse goes away while dbt tasks run: at least 30 s, and until a dbt task has
        # failed for it (on a slow machine a task may spend the first 30 s starting dbt)
        airflow.wait_for("dbt task running", lambda: _dbt_task_running(airflow), CHAIN_TIMEOUT)
        embedded.stop(server)
        print(f"warehouse stopped after {time.monotonic() - started:.0f} s")
        time.sleep(OUTAGE)
        airflow.wait_for(
            "dbt task failed by the outage", lambda: _dbt_task_failed(airflow), CHAIN_TIMEOUT
        )
        embedded.start(server)
        print(f"warehouse started again after {time.monotonic() - started:.0f} s")

        report_run = airflow.wait_for(
            "asset-triggered report run that wrote the report",
            lambda: _report_written(airflow),
            CHAIN_TIMEOUT,
        )
        print(f"report written after {time.monotonic() - started:.0f} s")
        # one mart run for the day: publish_raw's one event after the seven loads
        mart_runs = airflow.runs("channel_mart_build")
        assert len(mart_runs) == 1 and mart_runs[0]["run_type"] == "asset_triggered", mart_runs
        finished = [r for r in mart_runs if r["state"] in ("success", "failed")]
        assert finished and all(r["state"] == "success" for r in finished), airflow.describe_runs()
        retried = [
            task
            for run in finished
            for task, ti in airflow.task_instances("channel_mart_build", run["dag_run_id"]).items()
            if ti["try_number"] > 1
        ]
        assert retried, "no mart task was retried: the outage did not hit the build"
        print(f"mart tasks retried after the outage: {retried}")
        # the report run came from the mart's Asset event
        events = airflow.api(
            f"/api/v2/dags/channel_monthly_report/dagRuns/{report_run['dag_run_id']}"
            "/upstreamAssetEvents"
        )["asset_events"]
        assert {(e["uri"].rstrip("/"), e["source_dag_id"]) for e in events} == {
            ("channel-dw://marts", "channel_mart_build")
        }

        # the ledger: each of the day's files loaded once, nothing left half-done
        rows = _query(
            url,
            "select file_name, count(*) filter (where status = 'loaded'),"
            " count(*) filter (where status = 'loading')"
            " from audit.file_ledger where business_date = %s group by 1",
            (day,),
        )
        assert {name: (loaded, loading) for name, loaded, loading in rows} == {
            p.name: (1, 0) for p in delivered
        }
        # the mart holds the day and the month's KPIs
        sql = "select count(*) from marts.fct_interactions where occurred_date = %s"
        assert _query(url, sql, (day,))[0][0] > 0
        sql = "select count(*) from marts.kpi_monthly where month = %s"
        assert _query(url, sql, (month,))[0][0] > 0
        report = warehouse.reports / f"channel-report-{month:%Y-%m}.html"
        assert report.exists() and report.stat().st_size > 10_000, report
        # the scheduler started through airflow_main: every module preloaded, dbt warmed up for
        # the tasks it forked
        scheduler_log = process_log(warehouse.airflow_home, "scheduler").read_text()
        assert "channel-dw: dbt warmed up in" in scheduler_log, scheduler_log[:3000]
        assert "not preloaded" not in scheduler_log, scheduler_log[:3000]

        _screenshots(airflow, triggered["dag_run_id"])


def _screenshots(airflow, ingest_run_id: str) -> None:
    """In headless Chromium, logged in through the login form: the DAG list with the runs, the
    ingest DAG's graph, the Asset graph and a task's log."""
    from playwright.sync_api import expect

    shots = []
    password = __import__("channel_dw.orchestration.deployment", fromlist=["x"]).password
    marts = next(
        a for a in airflow.api("/api/v2/assets?limit=50")["assets"] if a["name"] == "marts"
    )

    def save(page, name):
        path = screenshot_dir() / name
        page.screenshot(path=str(path))
        shots.append(path)
        print(f"screenshot: {path}")

    with browser_page() as page:
        page.set_default_timeout(30_000)
        try:
            # The URL is polled (expect), not awaited as a navigation: the UI's redirect to the
            # login page can abort a navigation on the way (net::ERR_ABORTED, a fresh clone's
            # run of 2026-12-05), which wait_for_url raises on.
            page.goto(airflow.url + "/dags")
            expect(page).to_have_url(re.compile(r"/auth/login"), timeout=30_000)
            expect(page.locator('input[name="username"]')).to_be_visible(timeout=30_000)
            page.fill('input[name="username"]', "admin")
            page.fill('input[name="password"]', password(airflow.settings))
            page.click('button[type="submit"]')
            expect(page).not_to_have_url(re.compile(r"/auth/login"), timeout=30_000)
            for dag_id in PROJECT_DAGS:
                expect(page.get_by_role("link", name=dag_id, exact=True).first).to_be_visible()
            page.wait_for_load_state("networkidle")
            save(page, "scheduler-dag-list.png")

            # the ingest DAG's graph: its page opens on the grid; the toggle next to it draws it
            tasks = airflow.api("/api/v2/dags/channel_ingest_daily/tasks")["tasks"]
            page.get_by_role("link", name="channel_ingest_daily", exact=True).first.click()
            expect(page).to_have_url(
                re.compile(r"/dags/channel_ingest_daily(?:[/?#]|$)"), timeout=30_000
            )
            page.get_by_role("button", name=re.compile(r"^Show Graph")).click()
            for task_id in [t["task_id"] for t in tasks]:
                node = page.locator(f'.react-flow__node[data-id="{task_id}"]')
                expect(node).to_be_visible()
                expect(node).to_contain_text(task_id)
            page.wait_for_load_state("networkidle")
            save(page, "scheduler-dag-graph.png")

            page.goto(f"{airflow.url}/assets/{marts['id']}")
            for node in ("channel_ingest_daily", "channel_mart_build", "channel_monthly_report"):
                expect(page.locator(".react-flow__node", has_text=node).first).to_be_visible()
            page.wait_for_load_state("networkidle")
            save(page, "scheduler-asset-graph.png")

            page.goto(
                f"{airflow.url}/dags/channel_ingest_daily/runs/{ingest_run_id}/tasks/load_web"
            )
            expect(page.get_by_text(re.compile(r"loaded \d+ rows")).first).to_be_visible()
            save(page, "scheduler-task-log.png")
        except Exception:
            with contextlib.suppress(Exception):
                save(page, "scheduler-failure.png")
            raise
    for shot in shots:
        assert shot.stat().st_size > 10_000, f"{shot} is only {shot.stat().st_size} bytes"
