"""One ``airflow db migrate`` for the whole test run, for the tests that run Airflow.

Each of those tests has a metadata database of its own, and the first Airflow command in it
(``airflow up``, ``backfill``, ``airflow dags test``) ran ``airflow db migrate`` and ``airflow
pools import`` there: about 30 s of CPU each, five times a run. The first test to need one now
gets it through the project's own ``ensure_metadata_db`` and dumps it; the others restore that
dump (about a second), the stamps that tell ``ensure_metadata_db`` it is current, and the
``airflow.cfg`` (``airflow_env.ensure_config``, as ``ensure_metadata_db`` writes it). The
dump is keyed by the Airflow version, the pools file and this module, and shared by both xdist
workers (a lock: one of them makes it).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import subprocess
import tempfile
from collections.abc import Mapping
from importlib.metadata import version
from pathlib import Path
from unittest import mock

import psycopg2

from channel_dw.config import Settings
from channel_dw.db.embedded import bin_dir
from channel_dw.orchestration import airflow_env

RESTORE_FLAGS = ("--no-owner", "--no-privileges", "--exit-on-error")


def _dump_path() -> Path:
    key = hashlib.sha256(
        (
            version("apache-airflow")
            + airflow_env.POOLS_FILE.read_text()
            + Path(__file__).read_text()
        ).encode()
    ).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"channel-dw-test-airflow-{key}.dump"


def _is_empty(url: str) -> bool:
    with contextlib.closing(psycopg2.connect(url)) as conn, conn.cursor() as cur:
        cur.execute("select count(*) from pg_tables where schemaname = 'public'")
        return cur.fetchone()[0] == 0


def without_airflow_settings() -> dict[str, str]:
    """This process's environment without Airflow's variables, as the tests give the CLI."""
    return {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}


def seed_airflow_metadata(s: Settings, environ: Mapping[str, str] | None = None) -> None:
    """Gives Airflow's settings for ``s`` in ``environ`` (the environment the test's Airflow
    command gets; default this process's) a current metadata database: the project's
    ``ensure_metadata_db`` for the first test of the run (then dumped), a restore of that dump
    for the others. A database that already holds tables is left to ``ensure_metadata_db``."""
    wanted = dict(os.environ if environ is None else environ)  # a copy: patch.dict clears first
    with mock.patch.dict(os.environ, wanted, clear=True):
        _seed(s)


def _seed(s: Settings) -> None:
    url = airflow_env.airflow_environ(s)["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    libpq_url = url.replace("postgresql+psycopg2://", "postgresql://", 1)
    dump = _dump_path()
    with open(dump.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not dump.exists():
            airflow_env.ensure_metadata_db(s)
            partial = dump.with_suffix(".partial")
            subprocess.run(
                [
                    str(bin_dir() / "pg_dump"),
                    *RESTORE_FLAGS[:2],
                    "-Fc",
                    "-f",
                    str(partial),
                    libpq_url,
                ],
                check=True,
            )
            partial.rename(dump)
            return
    airflow_env.create_metadata_database(s)
    if not _is_empty(libpq_url):
        return
    subprocess.run(
        [str(bin_dir() / "pg_restore"), *RESTORE_FLAGS, "-d", libpq_url, str(dump)],
        check=True,
    )
    s.airflow_home.mkdir(parents=True, exist_ok=True)
    for stamp in airflow_env.metadata_stamps(s, url):
        stamp.touch()
    airflow_env.ensure_config(airflow_env.airflow_environ(s))
    assert (s.airflow_home / "airflow.cfg").exists()
