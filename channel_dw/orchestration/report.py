"""What the monthly report DAG runs: which month to report, whether it has closed, the report.

A month has closed when every source's file for the month's last day has loaded (the exports of
a day arrive the next morning, so the calendar alone is not enough). The DAG's runs:

* the time schedule, 06:00 on the 1st: the month before;
* a ``channel-dw://marts`` update (a mart build after new or corrected files): the month before
  the run, so late files for a closed month refresh its report;
* on demand, with ``{"month": "YYYY-MM"}``: that month.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from channel_dw.orchestration.tasks import BUSINESS_TZ

log = logging.getLogger(__name__)


class MonthNotClosedError(Exception):
    """The month's last day has not loaded for every source yet."""


def parse_month(text: str) -> date:
    try:
        return datetime.strptime(text.strip(), "%Y-%m").date()
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a month like 2026-10") from exc


def previous_month(moment: datetime) -> date:
    from channel_dw.report.data import shift_month

    return shift_month(moment.astimezone(BUSINESS_TZ).date().replace(day=1), -1)


def month_to_report(requested: str | None, run_time: datetime) -> date:
    """The month a run reports: the one asked for, else the month before the run's time."""
    return parse_month(requested) if requested else previous_month(run_time)


def last_day(month: date) -> date:
    from channel_dw.report.data import shift_month

    return date.fromordinal(shift_month(month, 1).toordinal() - 1)


def sources_missing_month_end(conn, month: date, sources: list[str]) -> list[str]:
    """The sources with no loaded file for the month's last day."""
    with conn.cursor() as cur:
        cur.execute(
            """
            select distinct source from audit.file_ledger
            where business_date = %s and status = 'loaded'
            """,
            (last_day(month),),
        )
        loaded = {row[0] for row in cur.fetchall()}
    return [source for source in sources if source not in loaded]


def check_month_closed(month: date) -> None:
    from channel_dw.db.connection import connect
    from channel_dw.sources import SOURCE_NAMES

    with contextlib.closing(connect(application_name="channel-dw report")) as conn:
        missing = sources_missing_month_end(conn, month, list(SOURCE_NAMES))
    if missing:
        raise MonthNotClosedError(
            f"{month:%Y-%m} has not closed: no file for {last_day(month)} has loaded from "
            f"{', '.join(missing)}. The report is written once they have (a mart build after "
            'they load triggers it), or trigger this DAG with {"month": "'
            f'{month:%Y-%m}", "require_closed": false}} to write it now.'
        )


@dataclass(frozen=True)
class WrittenReport:
    month: str
    workbook: str
    html: str


def write_monthly_report(month: date, folder: Path | None = None) -> WrittenReport:
    from channel_dw.config import settings
    from channel_dw.db.connection import connect
    from channel_dw.report import write_report

    s = settings()
    with contextlib.closing(connect(s, application_name="channel-dw report")) as conn:
        files = write_report(conn, month, folder or s.reports)
    log.info("report for %s: %s and %s", f"{month:%Y-%m}", files.workbook, files.html)
    return WrittenReport(f"{month:%Y-%m}", str(files.workbook), str(files.html))
