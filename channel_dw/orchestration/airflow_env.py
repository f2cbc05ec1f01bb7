"""Airflow's settings, derived from the project's one configuration.

``channel-dw airflow ...`` runs any Airflow command with this environment: AIRFLOW_HOME and its
SQLite metadata under ``$DW_HOME/airflow`` (git-ignored), the project's ``dags/`` folder, no
example DAGs, the warehouse connection ``warehouse`` built from the same URL the loaders use, and
astronomer-cosmos's cache under ``$DW_HOME/cosmos`` with its telemetry off.
Variables already set in the environment win, so a real deployment configures Airflow as usual.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from channel_dw.config import PROJECT_ROOT, Settings, settings

WAREHOUSE_CONN_ID = "warehouse"


def airflow_environ(s: Settings | None = None) -> dict[str, str]:
    s = s or settings()
    home = s.airflow_home
    home.mkdir(parents=True, exist_ok=True)
    defaults = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__DEFAULT_TIMEZONE": "Asia/Shanghai",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "60",
        "AIRFLOW__API__EXPOSE_CONFIG": "False",
        f"AIRFLOW_CONN_{WAREHOUSE_CONN_ID.upper()}": s.database_url,
        # astronomer-cosmos (the mart DAG): its cache (dbt's partial-parse files, which hold the
        # values of the env vars the models read, the PII key among them) stays in the private,
        # git-ignored DW_HOME instead of the shared /tmp; and no usage telemetry leaves the host.
        "AIRFLOW__COSMOS__CACHE_DIR": str(s.home / "cosmos"),
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        # cosmos reads it at import and warns when it is missing
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "channel-dw",
        "GX_ANALYTICS_ENABLED": "false",
        "NO_PROXY": "*",
    }
    env = dict(os.environ)
    for key, value in defaults.items():
        env.setdefault(key, value)
    return env


def apply(s: Settings | None = None) -> None:
    """Puts the Airflow settings into this process's environment (before importing airflow)."""
    os.environ.update(airflow_environ(s))


def airflow_bin() -> str:
    return str(Path(sys.executable).with_name("airflow"))


POOLS_FILE = Path(__file__).with_name("pools.json")


def ensure_metadata_db(s: Settings | None = None) -> None:
    """Creates or upgrades Airflow's metadata database and imports the project's pools
    (``pools.json``: one slot per source, so two runs never load the same source at once).
    A no-op when both are current."""
    s = s or settings()
    stamp = s.airflow_home / ".migrated"
    if not stamp.exists():
        subprocess.run(
            [airflow_bin(), "db", "migrate"],
            env=airflow_environ(s),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        stamp.touch()
    digest = hashlib.sha256(POOLS_FILE.read_bytes()).hexdigest()[:12]
    pools_stamp = s.airflow_home / f".pools-{digest}"
    if not pools_stamp.exists():
        subprocess.run(
            [airflow_bin(), "pools", "import", str(POOLS_FILE)],
            env=airflow_environ(s),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        for old in s.airflow_home.glob(".pools-*"):
            old.unlink()
        pools_stamp.touch()
