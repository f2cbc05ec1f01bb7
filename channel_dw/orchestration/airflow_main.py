"""``python -m channel_dw.orchestration.airflow_main <airflow command>``: Airflow's own command
line, with the libraries the project's tasks import loaded first. ``channel-dw airflow up`` starts
the scheduler this way.

Under the LocalExecutor every task process is a fork of the scheduler (its executor workers are
forked from it, and each task is forked from a worker), so a module the scheduler has imported is
already there in every task. Otherwise each of the mart DAG's ~40 dbt tasks spends about 6 s of
CPU importing dbt-core and astronomer-cosmos before a second or two of real work, and each load
task as long importing Great Expectations for its checks: on two cores that was most of a run.
Imported once here, a task starts with them loaded. The cost is the scheduler's own start (those
seconds, once) and its memory (a few hundred MB, shared copy-on-write with the tasks).

Then, for the scheduler, one ``dbt parse`` (:func:`warm`): dbt builds much of what it needs
lazily, once per process (JSON schemas, its manifest's deserializers), and a task forked after
that parse finds it built: 40% less CPU per dbt task. The parse reads files only: no database,
and no thread or open connection is left behind. Anything else passes through to Airflow unchanged
(``airflow scheduler``, ``airflow dag-processor``...).
"""

from __future__ import annotations

import sys

# What the tasks import: a dbt task of the mart DAG, cosmos's local operators and dbt's
# programmatic runner (cosmos runs dbt in the task's process, InvocationMode.DBT_RUNNER) with the
# postgres adapter; a load task of the ingest DAG, the loader and its Great Expectations checks.
PRELOADED = (
    "cosmos.operators.local",
    "dbt.cli.main",
    "dbt.adapters.postgres",
    "openlineage.common.provider.dbt.local",  # cosmos reads lineage after each dbt command
    "channel_dw.ingest.runner",
    "channel_dw.quality.checks",
)


def preload() -> list[str]:
    """Imports :data:`PRELOADED`; returns the ones that could not be imported (a deployment
    without dbt still runs Airflow: its tasks then import what they need as before)."""
    import importlib

    missing = []
    for name in PRELOADED:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    return missing


def warm() -> None:
    """The scheduler's dbt warmed up by one ``dbt parse``
    (:func:`channel_dw.orchestration.dbt_parse.warm_dbt`): what dbt builds lazily once per process
    is built once, here, for all the tasks.
    A failure is reported and the scheduler starts anyway (each task then builds it itself)."""
    import time

    started = time.monotonic()
    try:
        from channel_dw.orchestration.dbt_parse import warm_dbt

        warm_dbt()
    except Exception as exc:
        sys.stderr.write(f"channel-dw: dbt not warmed up ({type(exc).__name__}: {exc})\n")
    else:
        sys.stderr.write(f"channel-dw: dbt warmed up in {time.monotonic() - started:.1f} s\n")


def main() -> None:
    missing = preload()
    if missing:
        sys.stderr.write(f"channel-dw: not preloaded (not installed): {', '.join(missing)}\n")
    if sys.argv[1:2] == ["scheduler"] and "dbt.cli.main" not in missing:
        warm()
    from airflow.__main__ import main as airflow

    sys.argv = ["airflow", *sys.argv[1:]]
    airflow()


if __name__ == "__main__":
    main()
