"""The three DAGs under a real scheduler: api-server, scheduler, dag-processor and triggerer as
separate processes (``channel-dw airflow up``), LocalExecutor, metadata in PostgreSQL.

A day's files are dropped into the landing folder and the ingest DAG is triggered for that date
through the REST API, as a user does from the UI. The scheduler runs the loads; their Asset
events trigger the mart build; the mart's Asset event triggers the monthly report, which writes
the report of the month the day closes. The test waits on the API, then checks the ledger, the
mart, the report file, and the UI in headless Chromium (screenshots in ``build/screenshots/``).
"""

from __future__ import annotations

import contextlib
import re
import time

import pytest

from tests.browser import browser_page, screenshot_dir
from tests.integration.airflow_deployment import (
    PROJECT_DAGS,
    cli,
    deliver,
    prepare_landing,
    previous_month_end,
    running_airflow,
)

pytestmark = pytest.mark.integration

CHAIN_TIMEOUT = 900  # seconds from the trigger to the report: two cores run ~50 dbt tasks


def _report_written(airflow):
    """The first asset-triggered report run whose write_report task succeeded (not skipped)."""
    for run in airflow.runs("channel_monthly_report"):
        if run["run_type"] != "asset_triggered" or run["state"] != "success":
            continue
        tis = airflow.task_instances("channel_monthly_report", run["dag_run_id"])
        if tis.get("write_report", {}).get("state") == "success":
            return run
    return None


def test_the_scheduler_runs_ingest_then_mart_then_report(warehouse, db, monkeypatch):
    day = previous_month_end()
    month = day.replace(day=1)
    waiting = prepare_landing(warehouse, day)

    with running_airflow(monkeypatch) as airflow:
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
            f"load_{s}": "success"
            for s in ("app", "crm", "halls", "hotline", "sms", "stores", "web")
        }
        print(f"ingest done after {time.monotonic() - started:.0f} s")

        report_run = airflow.wait_for(
            "asset-triggered report run that wrote the report",
            lambda: _report_written(airflow),
            CHAIN_TIMEOUT,
        )
        print(f"report written after {time.monotonic() - started:.0f} s")
        mart_runs = airflow.runs("channel_mart_build")
        assert mart_runs and all(r["run_type"] == "asset_triggered" for r in mart_runs)
        finished = [r for r in mart_runs if r["state"] in ("success", "failed")]
        assert finished and all(r["state"] == "success" for r in finished), airflow.describe_runs()
        # the report run came from the mart's Asset event
        events = airflow.api(
            f"/api/v2/dags/channel_monthly_report/dagRuns/{report_run['dag_run_id']}"
            "/upstreamAssetEvents"
        )["asset_events"]
        assert {(e["uri"].rstrip("/"), e["source_dag_id"]) for e in events} == {
            ("channel-dw://marts", "channel_mart_build")
        }

        # the ledger: each of the day's files loaded once, nothing left half-done
        with db.cursor() as cur:
            cur.execute(
                "select file_name, count(*) filter (where status = 'loaded'),"
                " count(*) filter (where status = 'loading')"
                " from audit.file_ledger where business_date = %s group by 1",
                (day,),
            )
            ledger = {name: (loaded, loading) for name, loaded, loading in cur.fetchall()}
            assert ledger == {p.name: (1, 0) for p in delivered}
            # the mart holds the day and the month's KPIs
            cur.execute(
                "select count(*) from marts.fct_interactions where occurred_date = %s", (day,)
            )
            assert cur.fetchone()[0] > 0
            cur.execute("select count(*) from marts.kpi_monthly where month = %s", (month,))
            assert cur.fetchone()[0] > 0
        report = warehouse.reports / f"channel-report-{month:%Y-%m}.html"
        assert report.exists() and report.stat().st_size > 10_000, report
        assert "Traceback" not in (airflow.up_output or "")

        _screenshots(airflow, triggered["dag_run_id"])


def _screenshots(airflow, ingest_run_id: str) -> None:
    """The DAG list with the runs, the Asset graph and a task's log, in headless Chromium."""
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
            page.goto(airflow.url + "/dags")
            page.wait_for_url(re.compile(r"/auth/login"))
            page.fill('input[name="username"]', "admin")
            page.fill('input[name="password"]', password(airflow.settings))
            page.click('button[type="submit"]')
            page.wait_for_url(lambda url: "/auth/login" not in url)
            for dag_id in PROJECT_DAGS:
                expect(page.get_by_role("link", name=dag_id, exact=True).first).to_be_visible()
            page.wait_for_load_state("networkidle")
            save(page, "scheduler-dag-list.png")

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
