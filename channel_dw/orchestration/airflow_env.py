"""Airflow's settings, derived from the project's one configuration.

``channel-dw airflow ...`` runs any Airflow command with this environment: AIRFLOW_HOME under
``$DW_HOME/airflow`` (git-ignored), the metadata in a PostgreSQL database of its own on the
warehouse's server (``<warehouse database>_airflow``, ``channel_dw_airflow`` on the embedded
server; made on first use), the project's ``dags/`` folder, no example DAGs, the warehouse
connection ``warehouse`` built from the same URL the loaders use, the execution API on the port
of ``channel-dw airflow up``'s api-server, and astronomer-cosmos's cache under ``$DW_HOME/cosmos``
with its telemetry off. Variables already set in the environment win, so a real deployment
configures Airflow as usual.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2
from psycopg2 import sql

from channel_dw.config import PROJECT_ROOT, Settings, port_is_free, settings
from channel_dw.errors import ConfigError

WAREHOUSE_CONN_ID = "warehouse"


DEFAULT_API_PORT = 8080


def metadata_database(s: Settings) -> str:
    """The name of Airflow's metadata database: the warehouse database's, with ``_airflow``."""
    return f"{s.db_params()['dbname']}_airflow"


def metadata_url(s: Settings) -> str:
    """SQLAlchemy URL of Airflow's metadata database on the warehouse's server."""
    parts = urlsplit(s.database_url)
    return urlunsplit(("postgresql+psycopg2", parts.netloc, f"/{metadata_database(s)}", "", ""))


def api_port(s: Settings) -> int:
    """The api-server's port: DW_AIRFLOW_PORT, else the one ``airflow up`` chose and remembered
    (``$DW_HOME/airflow/port``), else 8080 when it is free, else a free one."""
    if os.environ.get("DW_AIRFLOW_PORT"):
        try:
            return int(os.environ["DW_AIRFLOW_PORT"])
        except ValueError:
            raise ConfigError(
                f"DW_AIRFLOW_PORT={os.environ['DW_AIRFLOW_PORT']!r} is not a port number"
            ) from None
    remembered = s.airflow_home / "port"
    with contextlib.suppress(OSError, ValueError):
        return int(remembered.read_text().strip())
    port = DEFAULT_API_PORT
    if not port_is_free(port):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
    remembered.parent.mkdir(parents=True, exist_ok=True)
    remembered.write_text(f"{port}\n")
    return port


def airflow_environ(s: Settings | None = None) -> dict[str, str]:
    s = s or settings()
    home = s.airflow_home
    home.mkdir(parents=True, exist_ok=True)
    defaults = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url(s),
        # few connections per Airflow process: the embedded server is shared with the loads
        "AIRFLOW__DATABASE__SQL_ALCHEMY_POOL_SIZE": "2",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_MAX_OVERFLOW": "8",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port(s)}/execution/",
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


def _create_metadata_database(s: Settings) -> None:
    """Makes ``<warehouse db>_airflow`` on the warehouse's server when it is missing."""
    from channel_dw.db.connection import connect

    name = metadata_database(s)
    with contextlib.closing(connect(s, application_name="channel-dw airflow")) as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("select 1 from pg_database where datname = %s", (name,))
            if cur.fetchone() is not None:
                return
            try:
                cur.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
            except psycopg2.errors.DuplicateDatabase:
                return  # made by a concurrent first start
            except psycopg2.Error as exc:
                raise ConfigError(
                    f"cannot create Airflow's metadata database {name!r} on the warehouse's "
                    f"server ({exc.pgerror or exc}). Ask a DBA to create it, or point "
                    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN at another PostgreSQL database."
                ) from None


def metadata_stamps(s: Settings, url: str) -> tuple[Path, Path]:
    """The files in AIRFLOW_HOME that say the metadata database at ``url`` is migrated, and that
    it holds the current ``pools.json``."""
    key = hashlib.sha256(url.encode()).hexdigest()[:12]
    digest = hashlib.sha256((key + POOLS_FILE.read_text()).encode()).hexdigest()[:12]
    return s.airflow_home / f".migrated-{key}", s.airflow_home / f".pools-{digest}"


def create_metadata_database(s: Settings) -> None:
    """Makes Airflow's metadata database when it is the default one on the warehouse's server."""
    if airflow_environ(s)["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == metadata_url(s):
        _create_metadata_database(s)


def config_file(env: dict[str, str]) -> Path:
    """The airflow.cfg that Airflow's processes read with ``env``."""
    return Path(env.get("AIRFLOW_CONFIG") or Path(env["AIRFLOW_HOME"]) / "airflow.cfg")


def ensure_config(env: dict[str, str]) -> None:
    """Writes Airflow's default ``airflow.cfg`` when there is none, in one process. The first
    Airflow process to start writes it with secrets it draws (the API's JWT key among them):
    ``channel-dw airflow up``'s four processes would each draw their own, and every task token
    the scheduler signs would fail at the API server ("Invalid auth token")."""
    if config_file(env).exists():
        return
    subprocess.run(
        [
            sys.executable,
            "-c",
            "from airflow.configuration import write_default_airflow_configuration_if_needed"
            " as write; write()",
        ],
        env=env,
        check=True,
    )


def ensure_metadata_db(s: Settings | None = None) -> None:
    """Creates or upgrades Airflow's metadata database and imports the project's pools
    (``pools.json``: one slot per source, so two runs never load the same source at once).
    A no-op when both are current (a stamp per metadata URL in AIRFLOW_HOME). Writes
    ``airflow.cfg`` first when it is missing (``ensure_config``)."""
    s = s or settings()
    env = airflow_environ(s)
    ensure_config(env)
    create_metadata_database(s)
    stamp, pools_stamp = metadata_stamps(s, env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    if not stamp.exists():
        subprocess.run(
            [airflow_bin(), "db", "migrate"], env=env, check=True, stdout=subprocess.DEVNULL
        )
        stamp.touch()
    if not pools_stamp.exists():
        subprocess.run(
            [airflow_bin(), "pools", "import", str(POOLS_FILE)],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        for old in s.airflow_home.glob(".pools-*"):
            old.unlink()
        pools_stamp.touch()
