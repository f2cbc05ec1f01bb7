"""The monthly report to headquarters: an Excel workbook and a self-contained HTML page.

``write_report(conn, month, folder)`` reads the month from the marts (``data``) and writes
``channel-report-YYYY-MM.xlsx`` (``workbook``) and ``channel-report-YYYY-MM.html`` (``html``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from channel_dw.report.data import ReportData, ReportError, load, month_label

log = logging.getLogger(__name__)

__all__ = ["ReportError", "ReportFiles", "write_report"]


@dataclass(frozen=True)
class ReportFiles:
    month: date
    workbook: Path
    html: Path
    data: ReportData


def write_report(conn, month: date, folder: Path) -> ReportFiles:
    """Writes the month's report into ``folder`` (created if needed); returns the two paths.

    Each file is written under a temporary name and renamed into place, so a reader never sees
    half a report and a re-run replaces the month's report whole.
    """
    from channel_dw.report.html import write_html
    from channel_dw.report.workbook import write_workbook

    data = load(conn, month)
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"channel-report-{month_label(data.month)}"
    paths = []
    for suffix, writer in ((".xlsx", write_workbook), (".html", write_html)):
        final = folder / f"{stem}{suffix}"
        partial = folder / f".{stem}{suffix}.partial"
        writer(data, partial)
        partial.replace(final)
        paths.append(final)
        log.info("wrote %s", final)
    return ReportFiles(month=data.month, workbook=paths[0], html=paths[1], data=data)
