"""
### Daily ingestion of the channel exports

Loads one business date of every source's export files from the landing root
(`$DW_LANDING/<source>/`) into the warehouse's `raw` schema, one task per source.

* **Business date** = the run's logical date on the Asia/Shanghai calendar. The scheduled run for
  day D starts at 06:00 on D+1, when the vendors' exports have landed.
* **Idempotent**: re-running a day, a re-delivered identical file or a retried task changes
  nothing; a corrected file replaces its earlier delivery in full; an interrupted load is cleaned
  up by the retry. Every delivery is in `audit.file_ledger`.
* **Bad input**: a file breaking a whole-file rule is rejected (ledger status `rejected`, with the
  rule and reason); bad rows go to `audit.quarantine`; the rest loads.
* **Missing file**: the task is skipped and its Asset not updated.
* Each task updates the Asset `channel-dw://raw/<source>` (what landed, per source). Then
  **`publish_raw`** updates `channel-dw://raw`, which the mart build runs on: once per run, on the
  whole day, when no load failed and at least one found a file (skipped when none found one; a
  failed load leaves it `upstream_failed`, and clearing the load after the fix runs it again).

Run a day by hand: `channel-dw airflow dags test channel_ingest_daily 2026-10-01`.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import CronDataIntervalTimetable, dag, task

from channel_dw.orchestration.assets import RAW_ASSETS, RAW_LOADED_ASSET
from channel_dw.orchestration.dag_defaults import default_args
from channel_dw.sources import SOURCE_NAMES


@dag(
    dag_id="channel_ingest_daily",
    doc_md=__doc__,
    schedule=CronDataIntervalTimetable("0 6 * * *", timezone="Asia/Shanghai"),
    start_date=pendulum.datetime(2024, 1, 1, tz="Asia/Shanghai"),  # backfills reach back to it
    catchup=False,
    max_active_runs=4,
    tags=["channel-dw", "ingest"],
    default_args=default_args(retries=3),
)
def channel_ingest_daily():
    loads = []
    for source in SOURCE_NAMES:
        # one slot per source (pools.json): runs of several days load in parallel, but never
        # two loads of the same source at once
        @task(task_id=f"load_{source}", outlets=[RAW_ASSETS[source]], pool=f"load_{source}")
        def load(source: str = source, **context) -> dict:
            from channel_dw.orchestration.tasks import load_source_for_day

            return load_source_for_day(
                source, context["logical_date"], context["run_id"], context["dag"].dag_id
            )

        loads.append(load())

    # once the loads have ended: none failed and one at least found a file (a failed load fails
    # this task's run too, so the run is not green; clearing the load after a fix re-runs this)
    # (it reads the loads' summaries itself, only of the loads that ran: orchestration/tasks.py)
    @task(
        task_id="publish_raw",
        outlets=[RAW_LOADED_ASSET],
        trigger_rule="none_failed_min_one_success",
    )
    def publish_raw(**context) -> dict:
        from channel_dw.orchestration.tasks import day_loaded, load_summaries

        load_ids = [f"load_{source}" for source in SOURCE_NAMES]
        return day_loaded(load_summaries(context["ti"], load_ids))

    loads >> publish_raw()


channel_ingest_daily()
