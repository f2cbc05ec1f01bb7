"""dbt's settings, derived from the project's one configuration (see dbt_project/profiles.yml)."""

from __future__ import annotations

import os

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
            "DW_PII_KEY": s.pii_key(),
        }
    )
    return env
