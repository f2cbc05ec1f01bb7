"""dbt's settings, derived from the project's one configuration (see dbt_project/profiles.yml)."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator

from channel_dw.config import PROJECT_ROOT, Settings, settings

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"


def dbt_environ(s: Settings | None = None) -> dict[str, str]:
    s = s or settings()
    p = s.db_params()
    env = dict(os.environ)
    env.update(
        {
            "DW_DB_HOST": p["host"],
            "DW_DB_PORT": p["port"],
            "DW_DB_USER": p["user"],
            "DW_DB_PASSWORD": p["password"],
            "DW_DB_NAME": p["dbname"],
            "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR),
            "DBT_PROJECT_DIR": str(DBT_PROJECT_DIR),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            # kept for the secrets masker of Airflow's task log; no model reads it
            "DW_PII_KEY": s.pii_key(),
            # the key reaches the models' SQL as a session setting, never as text in the SQL
            "PGOPTIONS": _with_pii_key(env.get("PGOPTIONS", ""), s.pii_key()),
            "DW_PII_KEY_IN_SESSION": "yes",
        }
    )
    return env


@contextlib.contextmanager
def dbt_environment(s: Settings | None = None) -> Iterator[None]:
    """This process's environment with :func:`dbt_environ` for a dbt run in it (dbtRunner reads
    its variables from ``os.environ``), restored after: the password and the PII key do not stay
    for what runs next in the process."""
    saved = dict(os.environ)
    os.environ.update(dbt_environ(s))
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _with_pii_key(options: str, key: str) -> str:
    """PGOPTIONS plus ``-c dw.pii_key=<key>`` (libpq splits options on spaces: escaped)."""
    escaped = key.replace("\\", "\\\\").replace(" ", "\\ ")
    others = re.sub(r"-c\s*dw\.pii_key=(?:\\.|\S)*", "", options).strip()
    return f"{others} -c dw.pii_key={escaped}".strip()
