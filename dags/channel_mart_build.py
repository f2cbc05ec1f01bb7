"""
### Build the channel mart with dbt when new raw data lands

Runs when the ingest DAG updates `channel-dw://raw` (its `publish_raw` task, once per ingest run
after all the day's loads), one run at a time: runs triggered meanwhile queue, and each builds
from everything loaded by then.

1. **`source_freshness`** (the gate): `dbt source freshness`. A source past its `error_after` (or
   that cannot be queried) fails the run, so nothing is built from stale data; `warn` passes with a
   warning in the task log.
2. **`dbt`** (astronomer-cosmos task group): `dbt.seeds` loads every seed (the code tables) with
   their tests; then one task per dbt model, in dependency order, each running `dbt build` of its
   model (the model, then its own tests); a failing test fails the model's task and stops what
   depends on it. Then `dbt.cross_model_tests` runs the tests that span several models
   (relationships, reconciliations) and the sources' tests, once everything is built. A failed
   task can be cleared and re-run on its own.
3. **`publish_marts`**: updates the Asset `channel-dw://marts`, which the KPI and report DAGs
   schedule on.

**Why this file reads the dbt project when it is parsed**: cosmos needs the model graph to render
one Airflow task per model. It reads it from a dbt `manifest.json`, which takes milliseconds while
the manifest is newer than every file of the dbt project (`channel-dw dbt parse` writes
`dbt_project/target/manifest.json`); when a model changed since, the first parse runs `dbt parse`
(a few seconds, no database) into `$DW_HOME/dbt-manifest/`. No database is touched at parse time:
dbt's connection settings are read from the project configuration when each task runs
(`channel_dw/orchestration/mart.py`).

Run it by hand: `channel-dw airflow dags test channel_mart_build 2026-10-01`.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from channel_dw.orchestration.assets import MARTS_ASSET, RAW_LOADED_ASSET
from channel_dw.orchestration.dag_defaults import default_args
from channel_dw.orchestration.mart import FRESHNESS_TASK_ID, MART_GROUP_ID, dbt_task_group


@dag(
    dag_id="channel_mart_build",
    doc_md=__doc__,
    schedule=RAW_LOADED_ASSET,
    start_date=pendulum.datetime(2024, 1, 1, tz="Asia/Shanghai"),  # backfills reach back to it
    catchup=False,
    max_active_runs=1,
    tags=["channel-dw", "mart", "dbt"],
    default_args=default_args(retries=2),
)
def channel_mart_build():
    @task(task_id=FRESHNESS_TASK_ID)
    def source_freshness() -> dict:
        from airflow.sdk.exceptions import AirflowFailException

        from channel_dw.orchestration.mart import StaleSourcesError, check_source_freshness

        try:
            return check_source_freshness()
        except StaleSourcesError as exc:  # late data: a retry would not help, new data re-runs
            raise AirflowFailException(str(exc)) from exc

    @task(task_id="publish_marts", outlets=[MARTS_ASSET])
    def publish_marts() -> None:
        """Marks the mart as rebuilt (the Asset event is what downstream DAGs wait for)."""

    source_freshness() >> dbt_task_group(group_id=MART_GROUP_ID) >> publish_marts()


channel_mart_build()
