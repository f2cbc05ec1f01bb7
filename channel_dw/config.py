"""The one place where settings are resolved.

Everything that talks to the warehouse (loaders, CLI, Airflow tasks, dbt's ``profiles.yml``,
Great Expectations) asks this module, so one environment variable moves them all:

- ``DW_DATABASE_URL``: a real PostgreSQL instead of the embedded server (default: embedded);
- ``DW_HOME``: local state, git-ignored (default ``<project>/.dw``);
- ``DW_LANDING``: the landing root, one folder per source (default ``$DW_HOME/landing``);
- ``DW_REPORTS``: where reports are written (default ``$DW_HOME/reports``);
- ``DW_EMBEDDED_PORT``: port of the embedded server (default ``55432``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

PROJECT_ROOT = Path(__file__).resolve().parents[1]
EMBEDDED_DB = "channel_dw"
EMBEDDED_USER = "postgres"


@dataclass(frozen=True)
class Settings:
    home: Path
    landing: Path
    reports: Path
    database_url: str
    embedded: bool
    embedded_port: int

    @property
    def pgdata(self) -> Path:
        return self.home / "pgdata"

    @property
    def airflow_home(self) -> Path:
        return self.home / "airflow"

    def db_params(self) -> dict[str, str]:
        """host/port/user/password/dbname of the URL, for dbt's profile and Airflow."""
        parts = urlsplit(self.database_url)
        return {
            "host": parts.hostname or "127.0.0.1",
            "port": str(parts.port or 5432),
            "user": parts.username or "",
            "password": parts.password or "",
            "dbname": parts.path.lstrip("/") or "postgres",
        }

    def redacted_url(self) -> str:
        p = self.db_params()
        return f"postgresql://{p['user']}@{p['host']}:{p['port']}/{p['dbname']}"


def settings() -> Settings:
    env = os.environ
    home = Path(env.get("DW_HOME", PROJECT_ROOT / ".dw")).resolve()
    port = int(env.get("DW_EMBEDDED_PORT", "55432"))
    url = env.get("DW_DATABASE_URL", "").strip()
    embedded = not url
    if embedded:
        url = f"postgresql://{EMBEDDED_USER}@127.0.0.1:{port}/{EMBEDDED_DB}"
    landing = Path(env.get("DW_LANDING", home / "landing")).resolve()
    reports = Path(env.get("DW_REPORTS", home / "reports")).resolve()
    return Settings(
        home=home,
        landing=landing,
        reports=reports,
        database_url=url,
        embedded=embedded,
        embedded_port=port,
    )
