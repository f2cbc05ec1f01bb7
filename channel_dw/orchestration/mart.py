"""The mart build that ``dags/channel_mart_build.py`` declares: a freshness gate, then dbt.

* :func:`check_source_freshness` runs ``dbt source freshness``: a source past its ``error_after``
  fails the task, so nothing is built from stale data; ``warn`` passes with a warning in the log.
* :func:`dbt_task_group` builds the astronomer-cosmos ``DbtTaskGroup``: one Airflow task for the
  seeds, then one per model, running ``dbt build`` of that node (the node, then its tests:
  ``TestBehavior.BUILD``), then one task with the tests of several models (relationships,
  reconciliations) and of sources; dbt runs in the task's process (``ExecutionMode.LOCAL``).

Cosmos needs the dbt graph when the DAG file is parsed, to render one task per node: it reads a
dbt ``manifest.json`` (:func:`current_manifest`), which costs milliseconds and runs no dbt while
the manifest is newer than every file of the dbt project. When a model changed since (or there is
no manifest yet), the first parse runs ``dbt parse`` (a few seconds, no database). Cosmos's other
way, ``LoadMode.DBT_LS``, would run ``dbt ls`` instead and cache its output in an Airflow Variable,
that is, write to Airflow's metadata database from every DAG parse that finds the cache stale.

dbt's environment (warehouse host, user, password, database, the PII key) comes from
:func:`channel_dw.orchestration.dbt_env.dbt_environ`, evaluated when a task runs, not when the
DAG is parsed: the warehouse URL may differ between the two, and secrets stay out of the
serialized DAG. Cosmos calls :func:`use_dbt_environ` (an operator "interceptor") just before it
builds each dbt command.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from channel_dw.config import Settings, settings
from channel_dw.orchestration.dbt_env import DBT_PROJECT_DIR, dbt_environ
from channel_dw.orchestration.dbt_parse import (
    DBT_PROFILE,
    DBT_TARGET,
    DBT_TASK_FLAGS,
    current_manifest,
    dbt_args,
    dbt_executable,
    partial_parse_of,
    seed_newest_partial_parse,
    seed_partial_parse,
)

if TYPE_CHECKING:
    from cosmos import DbtTaskGroup

log = logging.getLogger(__name__)

MART_GROUP_ID = "dbt"
FRESHNESS_TASK_ID = "source_freshness"
CROSS_MODEL_TESTS_TASK_ID = "cross_model_tests"
SEEDS_TASK_ID = "seeds"

# dbt_environ's values that are secrets: masked in the task logs and rendered fields.
_SECRET_VARS = ("DW_DB_PASSWORD", "DW_PII_KEY", "PGOPTIONS")

FRESHNESS_FAILING = ("error", "runtime error")


# --- the freshness gate ------------------------------------------------------------------------


class StaleSourcesError(RuntimeError):
    """A source is past its freshness ``error_after``."""


def check_source_freshness(
    s: Settings | None = None, project_dir: Path = DBT_PROJECT_DIR
) -> dict[str, str]:
    """Runs ``dbt source freshness`` and returns ``{source.table: status}``.

    The warehouse's own DDL is applied first, as ``channel-dw dbt`` does. dbt's output goes to the
    log line by line. ``pass`` and ``warn`` pass (a warning is logged); ``error`` (past
    ``error_after``) raises :class:`StaleSourcesError`, which a retry would not cure, so it should
    fail the task for good; ``runtime error`` (the table cannot be queried) or a dbt failure
    raises ``RuntimeError``. A project whose sources declare no freshness passes.
    """
    s = s or settings()
    _ensure_warehouse_schema(s)
    env = dbt_environ(s)
    with tempfile.TemporaryDirectory(prefix="dbt-freshness-") as tmp:
        target = Path(tmp) / "target"
        seed_newest_partial_parse(target, s, project_dir)
        # artefacts and dbt.log to a scratch folder: the task may not write to the project, and
        # must not overwrite the manifest another dbt command is writing
        command = [
            dbt_executable(),
            "--no-use-colors",
            *dbt_args("source freshness", project_dir, target, Path(tmp)),
        ]
        log.info("running %s", " ".join(command[1:]))
        returncode = _run_logged(command, cwd=project_dir, env=env)
        results = _read_sources_json(target / "sources.json")

    if results is None:
        if returncode != 0:
            raise RuntimeError(f"dbt source freshness failed (exit code {returncode}); see above")
        log.warning("no source declares a freshness rule: nothing to check")
        return {}
    statuses: dict[str, str] = {}
    for r in results:
        name = r["unique_id"].removeprefix("source.").split(".", 1)[-1]
        status = r.get("status", "runtime error")
        statuses[name] = status
        newest = r.get("max_loaded_at") or ""
        age = r.get("max_loaded_at_time_ago_in_s")
        if newest.startswith("0001-"):  # what dbt reports for a table without a row
            loaded = "no row loaded yet"
        else:
            hours = f", {age / 3600:.1f} h ago" if isinstance(age, int | float) else ""
            loaded = f"newest row loaded {newest or '?'}{hours}"
        level = (
            logging.ERROR
            if status in FRESHNESS_FAILING
            else logging.WARNING
            if status == "warn"
            else logging.INFO
        )
        log.log(level, "%s: %s (%s)", name, status, loaded)
    stale = sorted(n for n, st in statuses.items() if st == "error")
    broken = sorted(n for n, st in statuses.items() if st == "runtime error")
    if broken or (returncode != 0 and not stale):
        raise RuntimeError(
            "dbt could not check the freshness of "
            + (", ".join(broken) if broken else "the sources")
            + f" (exit code {returncode}); see dbt's output above"
        )
    if stale:
        raise StaleSourcesError(
            f"{len(stale)} source(s) past their freshness error_after: {', '.join(stale)}; "
            "the mart is not built from stale data (load the late files, and the ingest DAG's "
            "Assets trigger a new build)"
        )
    return statuses


def _ensure_warehouse_schema(s: Settings) -> None:
    """The warehouse's own DDL (idempotent), as ``channel-dw dbt`` applies it before dbt: the raw
    and audit tables the sources read, the bi_reader grants on the marts."""
    import contextlib

    from channel_dw.db.connection import connect
    from channel_dw.db.schema import ensure_schema

    with contextlib.closing(connect(s, application_name="channel-dw mart")) as conn:
        ensure_schema(conn)


def _run_logged(command: list[str], cwd: Path, env: Mapping[str, str]) -> int:
    """Runs a command, logging each line of its output as it comes; returns its exit code."""
    with subprocess.Popen(
        command,
        cwd=cwd,
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
        errors="replace",
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.rstrip()
            if line:
                log.info("dbt: %s", line)
    return proc.returncode


def _read_sources_json(path: Path) -> list[dict[str, Any]] | None:
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8")).get("results", [])


# --- the cosmos task group ---------------------------------------------------------------------


def use_dbt_environ(context: Any, operator: Any) -> None:
    """Cosmos interceptor: gives the dbt command the project's dbt environment, at run time.

    The variables go into this task process's environment, which the dbt command inherits
    (``append_env``), not into the operator's ``env``: that is a rendered field, stored in
    Airflow's database and shown in the UI, and the password and the PII key must not be. They
    are also registered with Airflow's secrets masker, for the task log.
    """
    from airflow.sdk.log import mask_secret

    env = dbt_environ()
    for name in _SECRET_VARS:
        if env.get(name):
            mask_secret(env[name], name)
    os.environ.update(env)
    operator.append_env = True


def _has_seeds(manifest: Path) -> bool:
    nodes = json.loads(manifest.read_text(encoding="utf-8"))["nodes"]
    return any(node["resource_type"] == "seed" for node in nodes.values())


def tests_outside_node_tasks(manifest: Path) -> list[str]:
    """The project's tests that no seed or model task runs: those of several models (relationships
    tests, reconciliations) and those of sources only. Names, sorted."""
    nodes = json.loads(manifest.read_text(encoding="utf-8"))["nodes"]
    project = next(
        (n["package_name"] for n in nodes.values() if n["resource_type"] == "model"), None
    )
    names = []
    for node in nodes.values():
        if node["resource_type"] != "test" or node["package_name"] != project:
            continue
        parents = node.get("depends_on", {}).get("nodes", [])
        built = [p for p in parents if p.split(".", 1)[0] in ("model", "seed", "snapshot")]
        if len(parents) != 1 or len(built) != 1:
            names.append(node["name"])
    return sorted(names)


def dbt_task_group(
    group_id: str = MART_GROUP_ID,
    project_dir: Path = DBT_PROJECT_DIR,
    **task_group_kwargs: Any,
) -> DbtTaskGroup:
    """The cosmos task group running the dbt project; call it inside a DAG definition.

    * first one task, ``seeds``, loading every seed (the code tables, a few rows each) and running
      their own tests: a task per seed would cost a task process each for a second of work;
    * one task per model, in dependency order, running ``dbt build`` of its node: the model, then
      the tests of that model alone; a failing test fails the task and stops what is downstream;
    * then one task, ``cross_model_tests``, with the tests that no such task can run: a test of
      several models (a relationships test, a reconciliation) needs all of them built, and a test
      of a source has no task. Cosmos could give each such test a task of its own
      (``should_detach_multiple_parents_tests``): this project has dozens of relationships tests,
      and each task costs an Airflow task process that imports dbt.
    """
    from cosmos import (
        DbtTaskGroup,
        ExecutionConfig,
        ProfileConfig,
        ProjectConfig,
        RenderConfig,
    )
    from cosmos.constants import (
        ExecutionMode,
        InvocationMode,
        LoadMode,
        TestBehavior,
        TestIndirectSelection,
    )
    from cosmos.operators.local import DbtBuildLocalOperator, DbtTestLocalOperator

    manifest = current_manifest(project_dir=project_dir)
    profile_config = ProfileConfig(
        profile_name=DBT_PROFILE,
        target_name=DBT_TARGET,
        profiles_yml_filepath=project_dir / "profiles.yml",
    )
    operator_args: dict[str, Any] = {
        "append_env": True,
        "interceptors": [use_dbt_environ],
        "dbt_cmd_global_flags": list(DBT_TASK_FLAGS),
        # The compiled SQL of a model that hashes identifiers holds the PII key (the pii_hash
        # macro writes it into the query): keep it out of the rendered fields.
        "should_store_compiled_sql": False,
    }
    group = DbtTaskGroup(
        group_id=group_id,
        project_config=ProjectConfig(
            dbt_project_path=project_dir, manifest_path=manifest, install_dbt_deps=False
        ),
        profile_config=profile_config,
        # dbt runs inside the task's process (dbtRunner: the dbt-core of this virtual env, the
        # same as its `dbt` command); a `dbt` subprocess per task (InvocationMode.SUBPROCESS,
        # which runs dbt_executable_path) spends seconds importing dbt before it does anything.
        execution_config=ExecutionConfig(
            execution_mode=ExecutionMode.LOCAL,
            invocation_mode=InvocationMode.DBT_RUNNER,
            dbt_executable_path=dbt_executable(),
            # a node's task runs the tests of that node alone (see cross_model_tests)
            test_indirect_selection=TestIndirectSelection.CAUTIOUS,
        ),
        render_config=RenderConfig(
            load_method=LoadMode.DBT_MANIFEST,
            # `dbt build` of the node: the node then its tests, in one task (half the tasks of
            # AFTER_EACH's run + test pairs, and as visible)
            test_behavior=TestBehavior.BUILD,
            # per-table Assets need OpenLineage; the DAG publishes one `marts` Asset instead
            emit_datasets=False,
            # an exposure (the report that reads the mart) is documentation, not a task; the
            # seeds (code tables of a few rows) load in one task, `seeds`, before the models
            exclude=["resource_type:exposure", "resource_type:seed"],
        ),
        operator_args=operator_args,
        **task_group_kwargs,
    )
    roots = list(group.get_roots())
    node_task = next(iter(roots), None)
    cache_dir = getattr(node_task, "cache_dir", None)
    if cache_dir is not None:
        # cosmos's tasks copy the newest partial-parse file of its cache (or of the project's
        # target/) into their run; without one, the first tasks of a run each parse in full
        seed_partial_parse(partial_parse_of(manifest), Path(cache_dir) / "target")
    # what every extra task of the group shares with cosmos's own
    extra_args: dict[str, Any] = {
        "project_dir": str(project_dir),
        "profile_config": profile_config,
        "invocation_mode": InvocationMode.DBT_RUNNER,
        "dbt_executable_path": dbt_executable(),
        "manifest_filepath": str(manifest),
        "cache_dir": cache_dir,  # the partial-parse cache of the group's tasks
        "emit_datasets": False,
        **operator_args,
    }
    if _has_seeds(manifest):
        with group:
            seeds = DbtBuildLocalOperator(
                task_id=SEEDS_TASK_ID,
                select=["resource_type:seed"],
                indirect_selection=TestIndirectSelection.CAUTIOUS.value,
                **extra_args,
            )
        seeds >> roots
    remaining = tests_outside_node_tasks(manifest)
    leaves = list(group.get_leaves())
    if remaining and leaves:
        with group:
            cross_model_tests = DbtTestLocalOperator(
                task_id=CROSS_MODEL_TESTS_TASK_ID, select=" ".join(remaining), **extra_args
            )
        leaves >> cross_model_tests
    return group
