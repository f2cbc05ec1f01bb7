"""The jobs the command line runs in-process, without a scheduler: the demo (the main job end to
end) and the backfill of a date range. Each says what it does through ``say`` and returns the runs
that did not succeed (empty when all did)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from datetime import date

from channel_dw.config import Settings
from channel_dw.orchestration.summaries import Say, ledger_summary, mart_summary


def _days(start: date, end: date) -> list[date]:
    return [date.fromordinal(d) for d in range(start.toordinal(), end.toordinal() + 1)]


def _prepare_airflow(s: Settings, say: Say | None = None) -> None:
    """The warehouse running, Airflow's metadata current and its settings in this process."""
    from channel_dw.orchestration import airflow_env

    if s.embedded:
        from channel_dw.db import embedded

        started = embedded.start(s)
        if say:
            say("    " + started.describe())
    airflow_env.ensure_metadata_db(s)
    # Task output at WARNING and above (a rejected file is a warning); `channel-dw airflow dags
    # test ...` shows a day's full task logs.
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    airflow_env.apply(s)


def build_mart(s: Settings, say: Say) -> list[str]:
    """`dbt build` of the whole project with the project's settings; [] or ["mart"] if it failed."""
    from channel_dw.db.connection import connect
    from channel_dw.db.schema import ensure_schema
    from channel_dw.orchestration.dbt_env import DBT_PROJECT_DIR, dbt_environ
    from channel_dw.orchestration.dbt_parse import dbt_executable

    with contextlib.closing(connect(s, application_name="channel-dw dbt")) as conn:
        ensure_schema(conn)
    started = time.monotonic()
    env = {k: v for k, v in dbt_environ(s).items() if k != "DBT_QUIET"}  # its summary line
    done = subprocess.run(
        [dbt_executable(), "--no-use-colors", "build"],
        cwd=DBT_PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
    )
    counts = [line.split("Done. ")[-1] for line in done.stdout.splitlines() if "Done. " in line]
    took = time.monotonic() - started
    say(f"    dbt build: {counts[-1] if counts else 'no summary'} ({took:.0f} s)")
    if done.returncode != 0:
        say("\n".join(done.stdout.splitlines()[-40:]))
        return ["mart (dbt build)"]
    return []


def backfill(s: Settings, start: date, end: date, say: Say, report: bool = True) -> list[str]:
    """Re-runs a date range after late or corrected files: the ingest DAG for every day, one
    `dbt build`, then the report DAG for every month the range touches (see `channel-dw
    backfill --help`)."""
    _prepare_airflow(s)
    os.environ.setdefault("DBT_QUIET", "true")
    from channel_dw.orchestration.dag_runner import run_days

    days = _days(start, end)
    say(f"==> 1/3 ingest DAG for {len(days)} day(s), {start} to {end}")
    failed = run_days("channel_ingest_daily", days, progress=lambda m: say("    " + m))
    say("==> 2/3 the mart: one `dbt build` (incremental: it re-reads what the loads changed)")
    failed += build_mart(s, say)
    months = sorted({day.replace(day=1) for day in days})
    if not report:
        say("==> 3/3 reports: skipped (--no-report)")
    else:
        say(f"==> 3/3 report DAG for {', '.join(f'{m:%Y-%m}' for m in months)} (if closed)")
        # the run on the 1st of the following month reports the month (as the schedule does)
        from channel_dw.report.data import shift_month

        after = [shift_month(m, 1) for m in months]
        failed += run_days("channel_monthly_report", after, progress=lambda m: say("    " + m))
    ledger_summary(say)
    return failed


def _redeliver(s: Settings, say: Say) -> list[str]:
    """Copies the generator's planted re-deliveries (identical, corrected, late) into the landing
    folder, one wave at a time, and runs the ingest DAG for the dates each wave touches."""
    from channel_dw.orchestration.dag_runner import run_days
    from channel_dw.sources import get_source

    failed: list[str] = []
    redeliveries = s.landing / "_redeliveries"
    waves = sorted(p for p in redeliveries.iterdir() if p.is_dir()) if redeliveries.exists() else []
    for folder in waves:
        touched: set[date] = set()
        for path in sorted(folder.glob("*/*")):
            spec = get_source(path.parent.name)
            shutil.copyfile(path, s.landing / path.parent.name / path.name)
            touched.add(spec.business_date(path.name))
            say(f"    delivered {folder.name}: {path.parent.name}/{path.name}")
        failed += run_days(
            "channel_ingest_daily", sorted(touched), progress=lambda m: say("    " + m)
        )
    return failed


def _verify_against_manifest(s: Settings, say: Say) -> list[str]:
    manifest = s.landing / "manifest.json"
    if not manifest.exists():
        return []
    from channel_dw.db.connection import connect
    from channel_dw.ingest.verify import verify_manifest
    from channel_dw.quality.mart_verify import verify_mart

    with contextlib.closing(connect(s)) as conn:
        checks = [verify_manifest(conn, manifest), verify_mart(conn, manifest)]
    failed = []
    for check in checks:
        say("\n" + check.summary())
        if not check.ok():
            failed.append(f"{check.subject} check")
    return failed


def demo(s: Settings, start: date, end: date, customers: int, say: Say) -> list[str]:
    """The main job end to end on the warehouse (see `channel-dw demo --help`)."""
    say(f"==> 1/7 warehouse: {s.redacted_url()}")
    if s.embedded:
        from channel_dw.db import embedded

        say("    " + embedded.start(s).describe())
    say(f"==> 2/7 generating {start}..{end} for {customers:,} customers into {s.landing}")
    if s.landing.exists():
        shutil.rmtree(s.landing)
    from channel_dw.generate import generate_landing

    generate_landing(s.landing, start, end, customers=customers, progress=lambda m: say("    " + m))
    say("==> 3/7 running the ingest DAG for every day (Airflow dag.test, in-process)")
    _prepare_airflow(s)
    from channel_dw.orchestration.dag_runner import run_days

    failed = run_days("channel_ingest_daily", _days(start, end), progress=lambda m: say("    " + m))
    say("==> 4/7 re-deliveries: identical, corrected and late files")
    failed += _redeliver(s, say)
    say(
        "==> 5/7 building the mart: Airflow DAG channel_mart_build (freshness gate, the seeds,"
        " then one task per dbt model with its tests)"
    )
    # dbt's own per-node output is in each task's log; here only its errors
    os.environ.setdefault("DBT_QUIET", "true")
    failed += run_days("channel_mart_build", [end], progress=lambda m: say("    " + m))
    say("==> 6/7 the ledger and the mart")
    ledger_summary(say)
    mart_summary(say)
    failed += _verify_against_manifest(s, say)
    from channel_dw.report.data import shift_month

    month = end.replace(day=1)
    say(f"==> 7/7 the monthly report for {month:%Y-%m}: Airflow DAG channel_monthly_report")
    failed += run_days(
        "channel_monthly_report", [shift_month(month, 1)], progress=lambda m: say("    " + m)
    )
    if not failed:
        stem = s.reports / f"channel-report-{month:%Y-%m}"
        say(
            "\nDone. Inspect with `channel-dw ledger`, `channel-dw quarantine`, or psql "
            '"$(channel-dw db url)". Stop the database with `channel-dw db stop`.'
        )
        say(f"\nThe report for headquarters, {month:%Y-%m}:\n    {stem}.html\n    {stem}.xlsx")
    return failed
