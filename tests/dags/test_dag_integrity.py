"""Every DAG imports cleanly, fast, without touching a database, and carries the house settings."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.dbt_cache import seed_dbt_manifest

DAGS = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="module")
def dagbag(tmp_path_factory):
    home = tmp_path_factory.mktemp("airflow-home")
    dw_home = tmp_path_factory.mktemp("dw-home")
    seed_dbt_manifest(dw_home)  # the mart DAG's parse finds the run's one dbt manifest
    # for this module only: later tests run `channel-dw airflow`, whose Airflow home is DW_HOME's
    with pytest.MonkeyPatch.context() as mp:
        for key, value in {
            "DW_HOME": str(dw_home),
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        }.items():
            mp.setenv(key, value)
        from airflow.dag_processing.dagbag import DagBag

        yield DagBag(dag_folder=str(DAGS))


def test_every_dag_imports_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert set(dagbag.dags) == {
        "channel_ingest_daily",
        "channel_mart_build",
        "channel_monthly_report",
    }


def test_no_dag_has_a_cycle(dagbag):
    for dag_id, dag in dagbag.dags.items():
        # a topological sort of a graph with a cycle cannot reach every task
        done: set[str] = set()
        remaining = {t.task_id: set(t.upstream_task_ids) for t in dag.tasks}
        while remaining:
            ready = [task for task, upstream in remaining.items() if upstream <= done]
            assert ready, f"{dag_id} has a cycle among {sorted(remaining)}"
            for task in ready:
                done.add(task)
                del remaining[task]


def test_every_task_alerts_on_failure_and_retries_with_a_delay(dagbag):
    from channel_dw.orchestration.alerts import on_task_failure

    for dag_id, dag in dagbag.dags.items():
        assert dag.max_active_runs is not None and dag.max_active_runs <= 4, dag_id
        for task in dag.tasks:
            callbacks = task.on_failure_callback
            callbacks = callbacks if isinstance(callbacks, list) else [callbacks]
            assert on_task_failure in callbacks, f"{dag_id}.{task.task_id} sends no alert"
            assert task.retry_delay.total_seconds() >= 60, f"{dag_id}.{task.task_id}"
            assert task.retry_exponential_backoff, f"{dag_id}.{task.task_id}: no back-off"


def test_two_runs_never_load_the_same_source_at_once(dagbag):
    import json

    from channel_dw.orchestration.airflow_env import POOLS_FILE
    from channel_dw.sources import SOURCE_NAMES

    pools = json.loads(POOLS_FILE.read_text())
    dag = dagbag.dags["channel_ingest_daily"]
    for source in SOURCE_NAMES:
        task = dag.get_task(f"load_{source}")
        assert task.pool == f"load_{source}"
        assert pools[task.pool]["slots"] == 1
        assert task.retry_exponential_backoff


def test_report_dag_runs_monthly_and_on_every_mart_build(dagbag):
    from airflow.timetables.assets import AssetOrTimeSchedule

    dag = dagbag.dags["channel_monthly_report"]
    assert isinstance(dag.timetable, AssetOrTimeSchedule)
    assert dag.timetable.summary == "Asset or 0 6 1 * *"
    assert "marts" in {key.name for key, _ in dag.timetable.asset_condition.iter_assets()}
    assert dag.max_active_runs == 1
    assert set(dag.params.keys()) == {"month", "require_closed"}
    write = dag.get_task("write_report")
    assert [o.uri for o in write.outlets] == ["channel-dw://reports/monthly"]


def test_every_dag_has_owner_retries_tags_docs_and_an_aware_start(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert dag.tags, f"{dag_id} has no tags"
        assert dag.doc_md and len(dag.doc_md) > 100, f"{dag_id} has no doc_md"
        assert dag.start_date.tzinfo is not None, f"{dag_id} start_date is naive"
        for task in dag.tasks:
            assert task.owner not in (None, "", "airflow"), f"{dag_id}.{task.task_id} has no owner"
            assert task.retries >= 1, f"{dag_id}.{task.task_id} has no retries"


def test_ingest_dag_has_one_task_per_source_each_publishing_its_asset(dagbag):
    from channel_dw.sources import SOURCE_NAMES

    dag = dagbag.dags["channel_ingest_daily"]
    loads = sorted(f"load_{s}" for s in SOURCE_NAMES)
    assert sorted(t.task_id for t in dag.tasks) == sorted([*loads, "publish_raw"])
    for source in SOURCE_NAMES:
        outlets = dag.get_task(f"load_{source}").outlets
        assert [o.uri for o in outlets] == [f"channel-dw://raw/{source}"]
    # then one event for the day, after every load, none failed and one at least found a file
    publish = dag.get_task("publish_raw")
    assert [o.uri.rstrip("/") for o in publish.outlets] == ["channel-dw://raw"]
    assert sorted(publish.upstream_task_ids) == loads
    assert publish.trigger_rule == "none_failed_min_one_success"


def test_mart_dag_runs_once_per_ingest_run_one_run_at_a_time(dagbag):
    dag = dagbag.dags["channel_mart_build"]
    condition = dag.timetable.asset_condition
    assert condition.uri.rstrip("/") == "channel-dw://raw"  # one Asset, not any of seven
    assert dag.max_active_runs == 1
    assert dag.catchup is False


def test_mart_dag_gates_dbt_on_freshness_and_publishes_the_marts_asset(dagbag):
    from channel_dw.orchestration.assets import MARTS_ASSET
    from channel_dw.orchestration.mart import FRESHNESS_TASK_ID, MART_GROUP_ID

    dag = dagbag.dags["channel_mart_build"]
    assert MART_GROUP_ID in dag.task_group.children  # the cosmos task group
    dbt_tasks = [t for t in dag.tasks if t.task_id.startswith(f"{MART_GROUP_ID}.")]
    assert dbt_tasks, "the cosmos group rendered no dbt task"
    assert FRESHNESS_TASK_ID in dag.task_ids
    # the gate comes first: every dbt task is downstream of it
    assert {t.task_id for t in dbt_tasks} <= dag.get_task(FRESHNESS_TASK_ID).get_flat_relative_ids(
        upstream=False
    )
    publish = dag.get_task("publish_marts")
    assert publish.outlets == [MARTS_ASSET]
    assert MARTS_ASSET.uri.rstrip("/") == "channel-dw://marts"  # Airflow appends the "/"
    assert {t.task_id for t in dbt_tasks} <= publish.get_flat_relative_ids(upstream=True)


def test_mart_dag_has_one_task_per_dbt_model_after_one_for_the_seeds(dagbag):
    """Every model of the dbt project (as dbt parses it) is a task of the cosmos group, downstream
    of the one task that loads every seed; no seed has a task of its own."""
    import json

    from channel_dw.orchestration.dbt_parse import current_manifest
    from channel_dw.orchestration.mart import (
        CROSS_MODEL_TESTS_TASK_ID,
        MART_GROUP_ID,
        SEEDS_TASK_ID,
        tests_outside_node_tasks,
    )

    manifest = json.loads(current_manifest().read_text())
    ours = [n for n in manifest["nodes"].values() if n["package_name"] == "channel_dw"]
    models = {n["name"] for n in ours if n["resource_type"] == "model"}
    seeds = {n["name"] for n in ours if n["resource_type"] == "seed"}
    assert models and seeds
    dag = dagbag.dags["channel_mart_build"]
    expected = {name: f"{MART_GROUP_ID}.{name}_model_build" for name in models}
    missing = sorted(name for name, task_id in expected.items() if task_id not in dag.task_ids)
    assert missing == []
    assert not [t for t in dag.task_ids if t.endswith("_seed_build")]
    load_seeds = dag.get_task(f"{MART_GROUP_ID}.{SEEDS_TASK_ID}")
    assert load_seeds.select == ["resource_type:seed"]
    assert set(expected.values()) <= load_seeds.get_flat_relative_ids(upstream=False)
    # and the tests no node's task runs (of several models, of sources) run in one task at the end
    if tests_outside_node_tasks(current_manifest()):
        cross = dag.get_task(f"{MART_GROUP_ID}.{CROSS_MODEL_TESTS_TASK_ID}")
        assert set(expected.values()) <= cross.get_flat_relative_ids(upstream=True)


def test_dag_files_do_no_work_at_import_time():
    """Importing a DAG file must not open a connection, start a process or load pandas, and it
    must finish well inside Airflow's own limit (``[core] dagbag_import_timeout``), past which the
    DAG processor records an import error.

    The cost checked is the work, not a wall-clock figure: a 2 s limit failed CI once at 2.16 s on
    a busy machine. Seconds per file are printed (``-s``); the DAG processor's own figure is the
    ``dag_processing.last_duration`` metric.
    """
    probe = textwrap.dedent(
        f"""
        import sys, socket, subprocess, importlib.util, time
        # Libraries are not the DAG file's cost: Airflow's DAG processor imports them once
        # ([dag_processor] parsing_pre_import_modules), and so does this probe. The dbt manifest
        # is made (once per change of the dbt project, `dbt parse`) before the files are timed.
        import airflow.sdk
        import cosmos, cosmos.operators.local, cosmos.converter
        import croniter  # its import runs `file` (platform.architecture): a library's, not ours
        from airflow.configuration import conf
        from channel_dw.orchestration.dbt_parse import current_manifest
        current_manifest()
        def no_network(*a, **k):
            raise AssertionError("network/database access at import time")
        def no_process(*a, **k):
            raise AssertionError(f"a process started at import time: {{a[:1]}}")
        socket.socket.connect = no_network
        import psycopg2
        psycopg2.connect = no_network
        subprocess.Popen.__init__ = no_process
        limit = conf.getfloat("core", "dagbag_import_timeout")
        for path in {sorted(str(p) for p in DAGS.glob("*.py"))!r}:
            started = time.monotonic()
            spec = importlib.util.spec_from_file_location("dag_under_test", path)
            spec.loader.exec_module(importlib.util.module_from_spec(spec))
            took = time.monotonic() - started
            print(f"{{path}}: {{took:.2f}} s")
            assert took < limit, f"{{path}} took {{took:.2f}} s to import (Airflow: {{limit}} s)"
        assert "pandas" not in sys.modules, "pandas imported at DAG import time"
        assert "great_expectations" not in sys.modules, "GE imported at DAG import time"
        """
    )
    env = {**os.environ, "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=120
    )
    print(result.stdout)
    assert result.returncode == 0, result.stderr[-2000:]
