"""Runs a DAG for a list of logical dates in this process (``dag.test``), without a scheduler.

This is what ``airflow dags test`` does, once per date, but with Airflow imported only once: the
demo and the integration tests use it. Call :func:`channel_dw.orchestration.airflow_env.apply`
and ``ensure_metadata_db`` first.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import date, datetime, time

from channel_dw.orchestration.tasks import BUSINESS_TZ

log = logging.getLogger(__name__)


def run_days(
    dag_id: str,
    days: Iterable[date],
    progress: Callable[[str], None] | None = None,
    conf: dict | None = None,
) -> list[str]:
    """Runs the DAG once per business date (06:00 Asia/Shanghai, with ``conf`` as the run's
    configuration); returns the dates whose run did not succeed."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils.state import DagRunState

    _quiet_cosmos_import()
    bag = DagBag()
    if dag_id not in bag.dags:
        errors = "; ".join(f"{k}: {v}" for k, v in bag.import_errors.items())
        raise RuntimeError(f"DAG {dag_id} not found in the DAG folder. Import errors: {errors}")
    dag = bag.dags[dag_id]
    # In-process runs report a failure at once instead of sleeping through the retry delays.
    for task in dag.tasks:
        task.retries = 0
    failed: list[str] = []
    for day in days:
        logical = datetime.combine(day, time(6, 0), tzinfo=BUSINESS_TZ)
        run = dag.test(logical_date=logical, run_conf=conf)
        state = getattr(run, "state", None)
        tis = run.get_task_instances() if run is not None else []
        counts: dict[str, int] = {}
        for ti in tis:
            counts[str(ti.state)] = counts.get(str(ti.state), 0) + 1
        message = (
            f"{dag_id} {day}: {state} ("
            + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
            + ")"
        )
        ran = sum(n for s, n in counts.items() if s not in ("None", "removed"))
        if not ran:  # e.g. a date before the DAG's start_date: nothing ran, say so
            message += f": no task ran (is {day} before the DAG's start_date {dag.start_date}?)"
        if progress:
            progress(message)
        if state != DagRunState.SUCCESS or not ran:
            failed.append(str(day))
    return failed


def _quiet_cosmos_import() -> None:
    """astronomer-cosmos warns at import that OpenLineage is not installed (it is not needed
    here); import it once with that logger quiet, so an in-process run's output stays a summary."""
    import logging

    noisy = logging.getLogger("cosmos.operators.local")
    level = noisy.level
    noisy.setLevel(logging.ERROR)
    try:
        import cosmos.operators.local  # noqa: F401
    except ImportError:  # the mart DAG will report it
        pass
    finally:
        noisy.setLevel(level)
