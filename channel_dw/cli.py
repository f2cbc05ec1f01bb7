"""``channel-dw``: the command line for people and DAGs alike."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
import warnings
from datetime import date, datetime
from pathlib import Path

import click

from channel_dw.config import settings
from channel_dw.errors import ConfigError


def _date(_ctx, _param, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not a date like 2026-10-01") from exc


def _say(message: str) -> None:
    click.echo(message, err=False)
    sys.stdout.flush()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="Log at INFO level (DEBUG with -vv).")
def main(verbose: int) -> None:
    """Channel data warehouse: load the channel exports, build the mart, report the KPIs."""
    level = logging.WARNING if not verbose else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")
    warnings.filterwarnings("ignore", message=".*httpx.*starlette")


# --- database ----------------------------------------------------------------------------------


@main.group()
def db() -> None:
    """The warehouse database (embedded by default; DW_DATABASE_URL for a real server)."""


@db.command("start")
def db_start() -> None:
    """Start the embedded PostgreSQL (initialising it the first time) and create the schemas."""
    from channel_dw.db import embedded
    from channel_dw.db.connection import connect
    from channel_dw.db.schema import ensure_schema

    s = settings()
    if s.embedded:
        _say(embedded.start(s).describe())
    else:
        _say(f"using the server at {s.redacted_url()} (DW_DATABASE_URL); nothing to start")
    with contextlib.closing(connect(s)) as conn:
        ensure_schema(conn)
    _say("schemas raw, raw_files and audit are in place")


@db.command("stop")
def db_stop() -> None:
    """Stop the embedded PostgreSQL cleanly."""
    from channel_dw.db import embedded

    s = settings()
    if not s.embedded:
        _say("DW_DATABASE_URL points at a real server; not stopping it")
        return
    _say(embedded.stop(s).describe())


@db.command("status")
def db_status() -> None:
    """Show where the warehouse is and whether it runs."""
    from channel_dw.db import embedded

    s = settings()
    _say(f"warehouse: {s.redacted_url()}")
    if s.embedded:
        _say(embedded.status(s).describe())


@db.command("url")
def db_url() -> None:
    """Print the warehouse URL (for psql, BI tools or scripts)."""
    _say(settings().database_url)


# --- generate ----------------------------------------------------------------------------------


@main.command()
@click.option("--start", callback=_date, default="2026-10-01", show_default=True)
@click.option("--end", callback=_date, default="2026-10-31", show_default=True)
@click.option("--customers", default=2000, show_default=True, type=click.IntRange(10))
@click.option(
    "--records-per-month",
    type=click.IntRange(1000),
    help="Instead of --customers: as many customers as make about this many records in the"
    " month of --start across the seven sources, CRM snapshot included (10000000: a province,"
    " about 1.2 million customers). Files are written streaming; memory stays under 200 MB.",
)
@click.option("--seed", default=42, show_default=True)
@click.option("--landing", type=click.Path(path_type=Path), help="Default: $DW_LANDING.")
@click.pass_context
def generate(
    ctx: click.Context,
    start: date,
    end: date,
    customers: int,
    records_per_month: int | None,
    seed: int,
    landing: Path | None,
) -> None:
    """Write a realistic, deterministic landing folder for a date range (all seven sources)."""
    from channel_dw.generate import customers_for_records, generate_landing

    root = landing or settings().landing
    if end < start:
        raise click.BadParameter("--end is before --start")
    if records_per_month is not None:
        if ctx.get_parameter_source("customers") is not click.core.ParameterSource.DEFAULT:
            raise click.UsageError("give --customers or --records-per-month, not both")
        customers = customers_for_records(records_per_month, start)
        _say(f"{records_per_month:,} records a month: {customers:,} customers")
    t0 = time.monotonic()
    summary = generate_landing(root, start, end, customers=customers, seed=seed, progress=_say)
    _say(f"wrote {root} in {time.monotonic() - t0:.1f}s")
    _say(str(summary))


# --- ingest ------------------------------------------------------------------------------------


@main.command()
@click.option("--source", "sources", multiple=True, help="Only this source (repeatable).")
@click.option("--date", "day", callback=_date, help="Only this business date.")
@click.option("--from", "start", callback=_date, help="First business date of a range.")
@click.option("--to", "end", callback=_date, help="Last business date of a range.")
@click.option("--landing", type=click.Path(path_type=Path), help="Default: $DW_LANDING.")
@click.option(
    "--file",
    "files",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Load exactly this file (its source is its folder's name); outside the landing root,"
    " wherever it lives.",
)
@click.option("--skip-checks", is_flag=True, help="Do not run the Great Expectations suites.")
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    help="Load on this many processes, one source's files after each other"
    " (default: $DW_INGEST_JOBS, or 2).",
)
def ingest(sources, day, start, end, landing, files, skip_checks, jobs) -> None:
    """Load export files into raw: one source and date, a date range, or everything landed.

    Idempotent: files already loaded with the same bytes are skipped; a corrected file (same
    name, new bytes) replaces its earlier delivery.
    """
    from channel_dw.ingest import lanes
    from channel_dw.ingest.landing import UnusableFile, explicit_file, shown
    from channel_dw.ingest.runner import BatchResult, FoundFile, ingest_files
    from channel_dw.ingest.runner import ingest as run_ingest

    if day:
        start = end = day
    jobs = jobs or lanes.jobs()
    t0 = time.monotonic()
    if files:
        found, refused = [], []
        for path in files:
            try:
                found.append(FoundFile(*explicit_file(path, landing or settings().landing)))
            except UnusableFile as exc:
                refused.append((exc.path, exc.reason))
        result = (
            ingest_files(found, run_checks=not skip_checks, progress=_say, jobs=jobs)
            if found
            else BatchResult([], [])
        )
        result.failures[:0] = refused
    else:
        result = run_ingest(
            landing=landing,
            sources=sources or None,
            start=start,
            end=end,
            run_checks=not skip_checks,
            progress=_say,
            jobs=jobs,
        )
    for entry in result.ignored:
        _say(entry.message())
    counts: dict[str, int] = {}
    for o in result.outcomes:
        counts[o.status] = counts.get(o.status, 0) + 1
    rows = sum(o.rows_loaded for o in result.outcomes)
    _say(
        f"{len(result.outcomes)} file(s) in {time.monotonic() - t0:.1f}s: "
        + (", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "none loaded")
        + f"; {rows:,} rows loaded"
        + (f"; {len(result.failures)} FAILED" if result.failures else "")
    )
    if not result.outcomes and not result.failures:
        _say("no export files matched; check --landing/--source/--date")
    if result.failures:
        for path, err in result.failures:
            _say(f"FAILED {shown(path)}: {err}")
        raise SystemExit(1)


# --- ledger ------------------------------------------------------------------------------------


@main.command()
@click.option("--source")
@click.option("--from", "start", callback=_date)
@click.option("--to", "end", callback=_date)
@click.option(
    "--status",
    type=click.Choice(["loading", "loaded", "skipped", "superseded", "rejected", "abandoned"]),
)
@click.option("--summary", is_flag=True, help="Counts per source and outcome only.")
def ledger(source, start, end, status, summary) -> None:
    """Show the file ledger: every delivery with its outcome, row counts and reason."""
    from channel_dw.ingest.runner import LEDGER_COLUMNS, ledger_rows

    if summary:
        from channel_dw.orchestration.summaries import ledger_summary

        ledger_summary(_say)
        return
    from channel_dw.orchestration.summaries import table

    rows = ledger_rows(source=source, start=start, end=end, status=status)
    _say(table(list(LEDGER_COLUMNS), rows) if rows else "no deliveries match")


@main.command()
@click.option("--file-id", type=int, help="Only this delivery (see `channel-dw ledger`).")
@click.option("--rule", help="Only this rule.")
@click.option("--limit", default=50, show_default=True)
def quarantine(file_id, rule, limit) -> None:
    """Show quarantined rows: file, line, rule, message and the raw text."""
    from channel_dw.orchestration.summaries import quarantine_table

    _say(quarantine_table(file_id, rule, limit))


# --- airflow -----------------------------------------------------------------------------------


@main.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def airflow(args) -> None:
    """Airflow with the project's settings: `up`, `down`, `status`, or any Airflow command.

    \b
    channel-dw airflow up       start api-server, scheduler, dag-processor and triggerer
    channel-dw airflow down     stop them
    channel-dw airflow status   what runs, where the logs and the login are
    channel-dw airflow dags list   (any other Airflow command, run with the project's settings)
    """
    from channel_dw.orchestration import airflow_env, deployment

    s = settings()
    if args and args[0] in ("up", "down", "status") and len(args) == 1:
        if args[0] == "up":
            _say(deployment.up(s, _say).describe())
        elif args[0] == "down":
            deployment.down(s, _say)
        else:
            _say(deployment.status(s).describe())
        return
    airflow_env.ensure_metadata_db(s)
    from channel_dw.orchestration.dbt_parse import current_manifest

    try:  # the mart DAG renders its tasks from a dbt manifest: make it current once, here
        current_manifest(s)
    except RuntimeError as exc:  # a broken dbt project: the mart DAG will show an import error
        click.echo(f"warning: {exc}", err=True)
    env = deployment.deployment_environ(s)
    os.execve(airflow_env.airflow_bin(), [airflow_env.airflow_bin(), *args], env)


# --- bi ----------------------------------------------------------------------------------------


@main.group()
def bi() -> None:
    """Apache Superset on the mart: the "Channel KPIs" dashboard, read as bi_reader."""


@bi.command("up")
def bi_up() -> None:
    """Install (the first time, into $DW_HOME/superset-venv), provision and start Superset."""
    from channel_dw import bi as superset

    _say("starting Superset (the first time it installs and sets up: about a minute)")
    _say(superset.up())


@bi.command("down")
def bi_down() -> None:
    """Stop Superset."""
    from channel_dw import bi as superset

    _say(superset.down())


@bi.command("status")
def bi_status() -> None:
    """Whether Superset runs, its URL and the admin login."""
    from channel_dw import bi as superset

    _say(superset.status())


@main.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def dbt(args) -> None:
    """Run a dbt command against the warehouse, e.g. `channel-dw dbt debug`."""
    from channel_dw.db.connection import ensure_server
    from channel_dw.orchestration.dbt_env import DBT_PROJECT_DIR, dbt_environ

    s = ensure_server(settings())
    # The raw and audit tables dbt's sources read, and the bi_reader grants on marts.
    from channel_dw.db.connection import connect
    from channel_dw.db.schema import ensure_schema

    with contextlib.closing(connect(s, application_name="channel-dw dbt")) as conn:
        ensure_schema(conn)
    from channel_dw.orchestration.dbt_parse import dbt_executable

    dbt_bin = dbt_executable()
    os.chdir(DBT_PROJECT_DIR)
    os.execve(dbt_bin, [dbt_bin, *args], dbt_environ(s))


# --- demo --------------------------------------------------------------------------------------


@main.command()
@click.option("--start", callback=_date, required=True, help="First business date, 2026-10-01.")
@click.option("--end", callback=_date, help="Last business date (default: --start).")
@click.option("--no-report", is_flag=True, help="Do not re-write the touched months' reports.")
def backfill(start: date, end: date | None, no_report: bool) -> None:
    """Re-run a date range after late or corrected files: load, mart, reports.

    Runs the ingest DAG for every business date from START to END (in-process, like `airflow dags
    test`): new files load, identical re-deliveries are skipped, corrected files replace their
    earlier delivery. Then one `dbt build` of the mart (the models and tests the mart DAG runs,
    in one process rather than a task each; incremental: it re-reads what those loads changed),
    then the report DAG for every month the range touches, if it has closed. Idempotent: a second
    backfill of the same range changes nothing. On a deployment with a scheduler, `airflow
    backfill create` does the same through the scheduler (README, "Backfill").
    """
    from channel_dw.orchestration import jobs

    end = end or start
    if end < start:
        raise click.BadParameter(f"--end {end} is before --start {start}")
    _fail_on(jobs.backfill(settings(), start, end, _say, report=not no_report))


@main.command()
@click.option("--month", help="The month to report, like 2026-10 (default: the newest one).")
@click.option(
    "--folder",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to write it (default: DW_REPORTS, else .dw/reports).",
)
def report(month: str | None, folder: Path | None) -> None:
    """Write a month's report for headquarters: an Excel workbook and an HTML page.

    Every KPI by region with the province total, the change against the previous month, the
    target and whether it was met, the rank on the capability index, the channel distribution,
    the 13-month trend of the e-channel share and the data-quality appendix. Re-running a month
    replaces its report.
    """
    from channel_dw.db.connection import connect
    from channel_dw.orchestration.report import parse_month
    from channel_dw.report import ReportError, write_report
    from channel_dw.report.data import available_months

    s = settings()
    with contextlib.closing(connect(s, application_name="channel-dw report")) as conn:
        try:
            if month:
                chosen = parse_month(month)
            else:
                months = available_months(conn)
                if not months:
                    raise ReportError("marts.kpi_monthly is empty: build the mart first.")
                chosen = months[-1]
            files = write_report(conn, chosen, folder or s.reports)
        except (ReportError, ValueError) as exc:
            raise click.ClickException(str(exc)) from exc
    _say(f"The report for {chosen:%Y-%m}:")
    _say(f"    {files.html}")
    _say(f"    {files.workbook}")


@main.command()
@click.option("--start", callback=_date, default="2026-10-01", show_default=True)
@click.option("--end", callback=_date, default="2026-10-31", show_default=True)
@click.option("--customers", default=2000, show_default=True)
def demo(start: date, end: date, customers: int) -> None:
    """The main job end to end on the embedded warehouse: sample data, ingest, mart, report.

    1. start the warehouse; 2. generate a sample month into the landing root; 3. run the
    ingest DAG (Airflow, in-process, `dag.test`) for every day; 4. deliver the planted
    re-deliveries (identical, corrected, late) and re-run the DAG for their dates; 5. run the
    mart DAG (freshness gate, one task per dbt model with its tests); 6. print the ledger and the
    mart, each checked against what the generator planted; 7. run the monthly report DAG for the
    last month and print where its report is.
    """
    from channel_dw.orchestration import jobs

    _fail_on(jobs.demo(settings(), start, end, customers, _say))


def _fail_on(failed: list[str]) -> None:
    if failed:
        _say(f"\n{len(failed)} DAG run(s) did not succeed: {', '.join(failed)}")
        raise SystemExit(1)


def run() -> None:  # pragma: no cover - console entry point wrapper
    try:
        main()
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from None


if __name__ == "__main__":  # pragma: no cover
    run()
