"""One ``dbt parse`` of the project for the whole test run, for the DAG parses of the tests.

The mart DAG renders its tasks from a dbt manifest (``current_manifest``): in a DW_HOME without
one, the first parse of the DAGs runs ``dbt parse``, 15-20 s of CPU. Each test has its own
DW_HOME; the tests that parse the DAGs (``airflow dags test``, ``backfill``) get the manifest of
one parse instead. (Its partial-parse file would not help their dbt commands: dbt parses in full
when the profile's connection settings differ, and each test has a database of its own.)
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path

from channel_dw.config import Settings
from channel_dw.orchestration.dbt_env import DBT_PROJECT_DIR
from channel_dw.orchestration.dbt_parse import current_manifest


def shared_manifest() -> Path:
    """The manifest of one parse of this checkout's project, shared by the tests of a run and
    both xdist workers (current_manifest parses under a lock, again only if the project changed)."""
    key = hashlib.sha256(str(DBT_PROJECT_DIR).encode()).hexdigest()[:12]
    home = Path(tempfile.gettempdir()) / f"channel-dw-test-dbt-parse-{key}"
    s = Settings(
        home=home,
        landing=home / "landing",
        reports=home / "reports",
        database_url="postgresql://postgres@127.0.0.1:5432/unused",  # parsing reads no database
        embedded=False,
        embedded_port=5432,
    )
    return current_manifest(s)


def seed_dbt_manifest(dw_home: Path) -> None:
    """Gives a test's DW_HOME the shared manifest where current_manifest keeps it (a copy that
    keeps its time: newer than the project's files, so current)."""
    cache = dw_home / "dbt-manifest"
    if not (cache / "manifest.json").exists():
        cache.mkdir(parents=True, exist_ok=True)
        shutil.copy2(shared_manifest(), cache / "manifest.json")
