"""The callables behind the DAGs' tasks. DAG files stay thin: they only call these."""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

log = logging.getLogger(__name__)

BUSINESS_TZ = ZoneInfo("Asia/Shanghai")


def business_date(logical_date: datetime) -> date:
    """The business date a DAG run loads: its logical date, on the Asia/Shanghai calendar."""
    return logical_date.astimezone(BUSINESS_TZ).date()


class LoadFailedError(RuntimeError):
    """Files of a source failed to load for an unexpected reason (the alert names them)."""

    def __init__(self, message: str, files: list[str]) -> None:
        super().__init__(message)
        self.files = files


def load_source_for_day(
    source: str,
    logical_date: datetime,
    run_id: str | None = None,
    dag_id: str = "channel_ingest_daily",
) -> dict:
    """Loads the files of one source for one business date; returns a summary for XCom.

    No file yet: the task is skipped (its Asset is not updated). Rejected files and quarantined
    rows are outcomes (logged as warnings, kept in the ledger) and send a quality alert. A load
    that fails unexpectedly fails the task, which Airflow retries; the loader cleans up the
    interrupted attempt first.
    """
    from airflow.sdk.exceptions import AirflowSkipException

    from channel_dw.config import settings
    from channel_dw.ingest.runner import ingest

    s = settings()
    day = business_date(logical_date)
    # each outcome is logged by the loader (a rejection as a warning)
    result = ingest(sources=[source], start=day, end=day, s=s, loaded_by=f"airflow:{run_id}")
    from channel_dw.orchestration.alerts import quality_warning

    quality_warning(dag_id, f"load_{source}", str(run_id), result.outcomes, s)
    if result.failures:
        raise LoadFailedError(
            f"{len(result.failures)} {source} file(s) for {day} failed to load: "
            + "; ".join(f"{p.name}: {err}" for p, err in result.failures),
            files=[f"{source}/{p.name}" for p, _ in result.failures],
        )
    if not result.outcomes:
        raise AirflowSkipException(
            f"no {source} file for {day} under {s.landing / source} yet: nothing to load"
        )
    return {
        "business_date": day.isoformat(),
        "files": [
            {
                "file_id": o.file_id,
                "file": o.file_name,
                "status": o.status,
                "rows_loaded": o.rows_loaded,
                "rows_quarantined": o.rows_quarantined,
                "rule": o.rule,
            }
            for o in result.outcomes
        ],
    }


def load_summaries(ti: Any, task_ids: list[str]) -> list[dict | None]:
    """The return values of the run's load tasks that succeeded (``ti`` is ``publish_raw``'s task
    instance), ``None`` for the others. Asked for by state first: pulling the XCom of a skipped
    load returns ``None`` too, but Airflow's client logs it as an error ("XCom not found",
    apache/airflow#73175), which read like a failure in every run with a source missing."""
    states = ti.get_task_states(dag_id=ti.dag_id, task_ids=task_ids, run_ids=[ti.run_id])
    ran = states.get(ti.run_id, {})
    return [
        ti.xcom_pull(task_ids=task_id) if ran.get(task_id) == "success" else None
        for task_id in task_ids
    ]


def day_loaded(summaries: list[dict | None]) -> dict:
    """``publish_raw``'s summary of the run's loads (their return values; ``None`` for a load that
    was skipped), or a skip when no load found a file: then ``channel-dw://raw`` is not updated
    and the mart is not rebuilt."""
    from airflow.sdk.exceptions import AirflowSkipException

    ran = [summary for summary in summaries if summary]
    if not ran:
        raise AirflowSkipException("no source had a file for the day: the mart is not rebuilt")
    files = [f for summary in ran for f in summary["files"]]
    return {
        "business_date": ran[0]["business_date"],
        "sources": len(ran),
        "files": len(files),
        "loaded": sum(f["status"] == "loaded" for f in files),
    }
