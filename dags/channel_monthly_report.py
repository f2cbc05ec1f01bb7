"""
### The monthly report to headquarters

Writes the month's report, an Excel workbook (native charts, one sheet per KPI group) and a
self-contained HTML page, into the reports folder (`DW_REPORTS`, default `.dw/reports/`):
`channel-report-YYYY-MM.xlsx` and `.html`. The numbers are `marts.kpi_monthly`'s.

**When it runs**

* at 06:00 (Asia/Shanghai) on the 1st of every month, for the month before;
* whenever the mart is rebuilt (Asset `channel-dw://marts`), for the month before the run, so
  the report appears as soon as the month's last files have loaded, and late or corrected files
  for a closed month refresh it;
* on demand for any month: *Trigger DAG* with `{"month": "2026-10"}`
  (`channel-dw airflow dags trigger channel_monthly_report --conf '{"month": "2026-10"}'`).

**Tasks**

1. **`choose_month`**: the month asked for, else the month before the run.
2. **`month_closed`**: the gate. The month has closed when every source's file for its last day
   has loaded; otherwise the run is skipped (not failed) and says which sources are missing.
   `{"require_closed": false}` writes the report anyway (a provisional report).
3. **`write_report`**: writes both files (each replaced whole; re-running a month is safe) and
   updates the Asset `channel-dw://reports/monthly`.

Run it by hand: `channel-dw report --month 2026-10` (the same code, without Airflow).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, get_current_context, task
from airflow.timetables.assets import AssetOrTimeSchedule
from airflow.timetables.trigger import CronTriggerTimetable

from channel_dw.orchestration.assets import MARTS_ASSET, REPORT_ASSET
from channel_dw.orchestration.dag_defaults import default_args


@dag(
    dag_id="channel_monthly_report",
    doc_md=__doc__,
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("0 6 1 * *", timezone="Asia/Shanghai"),
        assets=MARTS_ASSET,
    ),
    start_date=pendulum.datetime(2024, 1, 1, tz="Asia/Shanghai"),  # backfills reach back to it
    catchup=False,
    max_active_runs=1,
    tags=["channel-dw", "report"],
    params={
        "month": Param(
            None,
            type=["null", "string"],
            pattern=r"^\d{4}-\d{2}$",
            description="The month to report (YYYY-MM); empty: the month before the run.",
        ),
        "require_closed": Param(
            True,
            type="boolean",
            description="Skip the run while the month's last day has not loaded for every source.",
        ),
    },
    default_args=default_args(retries=2),
)
def channel_monthly_report():
    @task
    def choose_month() -> str:
        from channel_dw.orchestration.report import month_to_report

        context = get_current_context()
        run = context["dag_run"]
        moment = run.logical_date or run.run_after
        return f"{month_to_report(context['params'].get('month'), moment):%Y-%m}"

    @task
    def month_closed(month: str) -> str:
        from airflow.sdk.exceptions import AirflowSkipException

        from channel_dw.orchestration.report import (
            MonthNotClosedError,
            check_month_closed,
            parse_month,
        )

        if get_current_context()["params"].get("require_closed", True):
            try:
                check_month_closed(parse_month(month))
            except MonthNotClosedError as exc:
                raise AirflowSkipException(str(exc)) from exc
        return month

    @task(outlets=[REPORT_ASSET])
    def write_report(month: str) -> dict:
        from dataclasses import asdict

        from channel_dw.orchestration.report import parse_month, write_monthly_report

        return asdict(write_monthly_report(parse_month(month)))

    write_report(month_closed(choose_month()))


channel_monthly_report()
