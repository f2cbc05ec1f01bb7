"""The mart DAG run by real Airflow (`airflow dags test`): freshness gate, dbt via cosmos, Asset."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest

from channel_dw.orchestration.airflow_env import metadata_url
from channel_dw.orchestration.assets import MARTS_ASSET
from channel_dw.orchestration.dbt_env import DBT_PROJECT_DIR
from channel_dw.orchestration.mart import StaleSourcesError, check_source_freshness

pytestmark = pytest.mark.integration

CLI = str(Path(sys.executable).with_name("channel-dw"))

# The mart tables this test expects the DAG to build. Until their models exist in dbt_project/,
# the test still runs the DAG (whatever the dbt project builds must build and pass its tests) and
# skips only these assertions.
MART_TABLES = ("fct_interactions", "dim_customer")


def _cli(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    # Airflow's home and metadata database: the test's own, under DW_HOME (channel-dw's default)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("AIRFLOW_HOME", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN")
    }
    return subprocess.run([CLI, *args], env=env, capture_output=True, text=True, timeout=timeout)


def _mart_models_exist() -> bool:
    return all(any(DBT_PROJECT_DIR.glob(f"models/**/{name}.sql")) for name in MART_TABLES)


def test_mart_dag_gates_on_freshness_builds_the_mart_and_updates_the_marts_asset(warehouse, db):
    # a tiny landing: every source has rows for the days (100 customers, 3 days), loaded now
    generated = _cli(
        "generate", "--customers", "100", "--start", "2026-10-01", "--end", "2026-10-03"
    )
    assert generated.returncode == 0, generated.stdout[-2000:] + generated.stderr[-2000:]
    loaded = _cli("ingest", "--skip-checks")
    assert loaded.returncode == 0, loaded.stdout[-2000:] + loaded.stderr[-2000:]

    result = _cli("airflow", "dags", "test", "channel_mart_build", "2026-10-03", timeout=900)

    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert "source freshness" in output  # the gate ran dbt source freshness
    # the run published the Asset that the KPI and report DAGs schedule on
    meta_db = metadata_url(warehouse).replace("postgresql+psycopg2://", "postgresql://")
    with contextlib.closing(psycopg2.connect(meta_db)) as meta, meta.cursor() as cur:
        cur.execute(
            "select count(*) from asset_event e join asset a on a.id = e.asset_id where a.uri = %s",
            (MARTS_ASSET.uri,),
        )
        events = cur.fetchone()[0]
    assert events == 1

    # the gate: a source past its freshness error_after stops the build (the task fails for good)
    with db.cursor() as cur:
        cur.execute("update raw.hall_txn set _loaded_at = now() - interval '30 days'")
    with pytest.raises(StaleSourcesError, match=r"halls\.hall_txn"):
        check_source_freshness()

    # --- the mart tables: asserted once their models exist in dbt_project/ ---
    if not _mart_models_exist():
        pytest.skip(f"models {', '.join(MART_TABLES)} are not in dbt_project/ yet")
    with db.cursor() as cur:
        for table in MART_TABLES:
            cur.execute(f"select count(*) from marts.{table}")
            assert cur.fetchone()[0] > 0, f"marts.{table} is empty"
