"""The Airflow Assets the DAGs publish and schedule on: one place, so producer and consumer agree.

* ``channel-dw://raw/<source>`` (name ``raw_<source>``): updated by ``channel_ingest_daily`` when a
  day's file of that source has loaded into ``raw`` (lineage: what landed, per source);
* ``channel-dw://raw`` (name ``raw``): updated once per run of ``channel_ingest_daily``, after all
  its loads, when at least one of them loaded; the mart build runs on it (once per ingest run, on
  the whole day, rather than once on the first source to land and again on the rest);
* ``channel-dw://marts`` (name ``marts``): updated by ``channel_mart_build`` when the dbt build of
  the staging, intermediate and mart models (with their tests) has finished;
* ``channel-dw://reports/monthly`` (name ``monthly_report``): updated by ``channel_monthly_report``
  when a month's report has been written.

Only the DAG files import this module (it imports the Airflow SDK).
"""

from __future__ import annotations

from airflow.sdk import Asset

from channel_dw.sources import SOURCE_NAMES

RAW_ASSETS: dict[str, Asset] = {
    name: Asset(uri=f"channel-dw://raw/{name}", name=f"raw_{name}") for name in SOURCE_NAMES
}

RAW_LOADED_ASSET = Asset(uri="channel-dw://raw", name="raw")

MARTS_ASSET = Asset(uri="channel-dw://marts", name="marts")

REPORT_ASSET = Asset(uri="channel-dw://reports/monthly", name="monthly_report")
