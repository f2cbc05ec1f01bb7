"""The mart DAG's helpers: which manifest cosmos renders from, which tests run at the end, and
dbt's environment at run time."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from channel_dw.config import settings
from channel_dw.orchestration import dbt_parse, mart


def _project(root: Path) -> Path:
    (root / "models" / "staging").mkdir(parents=True)
    (root / "dbt_project.yml").write_text("name: p\n")
    (root / "models" / "staging" / "stg_a.sql").write_text("select 1\n")
    return root


def _age(path: Path, seconds: float) -> None:
    t = time.time() - seconds
    os.utime(path, (t, t))


def test_a_manifest_is_current_until_a_project_file_changes_or_goes(tmp_path):
    project = _project(tmp_path / "p")
    for path in project.rglob("*"):
        _age(path, 60)
    _age(project, 60)
    manifest = tmp_path / "manifest.json"
    assert not dbt_parse.manifest_is_current(manifest, project)  # none yet
    manifest.write_text("{}")
    assert dbt_parse.manifest_is_current(manifest, project)

    (project / "models" / "staging" / "stg_a.sql").write_text("select 2\n")  # edited
    assert not dbt_parse.manifest_is_current(manifest, project)
    manifest.write_text("{}")
    assert dbt_parse.manifest_is_current(manifest, project)

    _age(manifest, 30)
    (project / "models" / "staging" / "stg_a.sql").unlink()  # deleted: its folder changes
    assert not dbt_parse.manifest_is_current(manifest, project)


def test_the_shipped_manifest_is_used_when_current(tmp_path, monkeypatch):
    project = _project(tmp_path / "p")
    for path in project.rglob("*"):
        _age(path, 60)
    shipped = project / "target" / "manifest.json"
    shipped.parent.mkdir()
    shipped.write_text("{}")
    monkeypatch.setattr(dbt_parse.subprocess, "run", pytest.fail)  # no dbt parse
    assert dbt_parse.current_manifest(project_dir=project) == shipped


def _node(kind: str, name: str, parents: list[str], package: str = "channel_dw") -> dict:
    return {
        "resource_type": kind,
        "name": name,
        "package_name": package,
        "depends_on": {"nodes": parents},
    }


def test_tests_of_several_nodes_or_of_sources_run_at_the_end(tmp_path):
    nodes = [
        _node("model", "stg_a", ["source.channel_dw.raw.a"]),
        _node("model", "dim_b", ["seed.channel_dw.b"]),
        _node("seed", "b", []),
        _node("test", "not_null_stg_a_id", ["model.channel_dw.stg_a"]),
        _node("test", "unique_b_code", ["seed.channel_dw.b"]),
        _node("test", "relationships_stg_a_b", ["model.channel_dw.stg_a", "seed.channel_dw.b"]),
        _node("test", "not_null_raw_a_id", ["source.channel_dw.raw.a"]),
        _node("test", "assert_totals", ["model.channel_dw.dim_b", "source.channel_dw.raw.a"]),
        _node("test", "a_package_test", ["model.pkg.x", "model.pkg.y"], package="pkg"),
    ]
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"nodes": {f"n{i}": n for i, n in enumerate(nodes)}}))
    assert mart.tests_outside_node_tasks(manifest) == [
        "assert_totals",
        "not_null_raw_a_id",
        "relationships_stg_a_b",
    ]


def test_dbt_gets_its_environment_at_run_time_and_secrets_stay_out_of_the_operator(
    tmp_path, monkeypatch
):
    # the interceptor writes to the task process's environment: give it a copy to write to
    monkeypatch.setattr(os, "environ", dict(os.environ))
    os.environ["DW_HOME"] = str(tmp_path)
    os.environ["DW_DATABASE_URL"] = "postgresql://dw:s3cret-password@db.example:6543/dw"
    os.environ["DW_PII_KEY"] = "k" * 32

    class Operator:
        env: dict | None = None
        append_env = False

    op = Operator()
    mart.use_dbt_environ({}, op)

    assert op.append_env is True
    assert not op.env  # a rendered field: nothing of dbt's environment is stored there
    assert os.environ["DW_DB_HOST"] == "db.example"
    assert os.environ["DW_DB_PORT"] == "6543"
    assert os.environ["DW_DB_PASSWORD"] == "s3cret-password"
    assert os.environ["DW_PII_KEY"] == settings().pii_key()
    # the models read the key from their session (PGOPTIONS), never from their SQL text
    assert os.environ["PGOPTIONS"] == "-c dw.pii_key=" + "k" * 32


def test_the_pii_key_joins_the_users_pgoptions_escaped_and_only_once():
    from channel_dw.orchestration.dbt_env import _with_pii_key

    first = _with_pii_key("-c work_mem=64MB", "a key with spaces\\")
    assert first == "-c work_mem=64MB -c dw.pii_key=a\\ key\\ with\\ spaces\\\\"
    assert _with_pii_key(first, "k" * 16) == "-c work_mem=64MB -c dw.pii_key=" + "k" * 16


def test_the_scheduler_starts_through_airflow_main_the_others_as_airflow(tmp_path):
    """``airflow up`` starts the scheduler through ``airflow_main`` (its task processes are forks
    of it), the other processes as Airflow's own command. That ``airflow_main`` preloads every
    module and warms dbt up, then runs the scheduler, test_scheduler checks in the scheduler's log.
    """
    from channel_dw.config import Settings
    from channel_dw.orchestration import deployment

    s = Settings(
        home=tmp_path,
        landing=tmp_path,
        reports=tmp_path,
        database_url="postgresql://u@127.0.0.1:5432/db",
        embedded=False,
        embedded_port=5432,
    )
    scheduler = deployment._command(s, "scheduler")
    assert scheduler[1:] == ["-m", "channel_dw.orchestration.airflow_main", "scheduler"]
    assert Path(scheduler[0]).name.startswith("python")
    assert deployment._command(s, "triggerer")[1:] == ["triggerer"]


def test_the_ingest_run_triggers_the_mart_once_when_a_load_found_a_file():
    from airflow.sdk.exceptions import AirflowSkipException

    from channel_dw.orchestration.tasks import day_loaded

    day = "2026-10-01"
    summaries = [
        None,  # a source without a file that day: its load was skipped
        {"business_date": day, "files": [{"status": "loaded"}, {"status": "rejected"}]},
        {"business_date": day, "files": [{"status": "skipped"}]},  # an identical re-delivery
    ]
    assert day_loaded(summaries) == {"business_date": day, "sources": 2, "files": 3, "loaded": 1}
    with pytest.raises(AirflowSkipException, match="no source had a file for the day"):
        day_loaded([None] * 7)


def test_publish_raw_pulls_the_summaries_of_the_loads_that_succeeded_only():
    # Pulling a skipped load's XCom gives None as well, but Airflow logs "XCom not found" as an
    # error for it: the summaries are pulled by state.
    from channel_dw.orchestration.tasks import load_summaries

    class TaskInstance:
        dag_id, run_id = "channel_ingest_daily", "manual__1"

        def __init__(self):
            self.pulled = []

        def get_task_states(self, dag_id, task_ids, run_ids):
            assert (dag_id, run_ids) == (self.dag_id, [self.run_id])
            states = {"load_web": "success", "load_app": "skipped", "load_crm": "success"}
            return {self.run_id: {t: states[t] for t in task_ids}}

        def xcom_pull(self, task_ids):
            self.pulled.append(task_ids)
            return {"load_web": {"files": ["w"]}, "load_crm": {"files": ["c"]}}[task_ids]

    ti = TaskInstance()
    summaries = load_summaries(ti, ["load_app", "load_crm", "load_web"])
    assert summaries == [None, {"files": ["c"]}, {"files": ["w"]}]
    assert ti.pulled == ["load_crm", "load_web"]


def test_a_partial_parse_file_is_seeded_when_newer_and_keeps_its_time(tmp_path):
    source = tmp_path / "parsed" / "target" / "partial_parse.msgpack"
    source.parent.mkdir(parents=True)
    source.write_bytes(b"first")
    _age(source, 60)
    target = tmp_path / "cosmos" / "target"

    assert dbt_parse.seed_partial_parse(source, target)  # none there yet
    seeded = target / "partial_parse.msgpack"
    assert seeded.read_bytes() == b"first"
    assert seeded.stat().st_mtime == source.stat().st_mtime
    assert not dbt_parse.seed_partial_parse(source, target)  # as new: left alone

    seeded.write_bytes(b"a task's own, newer")
    assert not dbt_parse.seed_partial_parse(source, target)
    assert seeded.read_bytes() == b"a task's own, newer"

    source.write_bytes(b"a new parse")  # the project changed and was parsed again
    _age(seeded, 120)
    assert dbt_parse.seed_partial_parse(source, target)
    assert seeded.read_bytes() == b"a new parse"
    assert [p.name for p in target.iterdir()] == ["partial_parse.msgpack"]  # no temporary left
    assert not dbt_parse.seed_partial_parse(tmp_path / "none.msgpack", target)


def test_the_partial_parse_file_of_a_manifest_is_beside_it_or_in_the_caches_target(tmp_path):
    shipped = tmp_path / "dbt_project" / "target" / "manifest.json"
    shipped.parent.mkdir(parents=True)
    (shipped.parent / "partial_parse.msgpack").write_bytes(b"x")
    assert dbt_parse.partial_parse_of(shipped) == shipped.parent / "partial_parse.msgpack"
    cached = tmp_path / "dw" / "dbt-manifest" / "manifest.json"  # current_manifest's own parse
    assert dbt_parse.partial_parse_of(cached) == cached.parent / "target" / "partial_parse.msgpack"
