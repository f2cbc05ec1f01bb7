"""Connections to the warehouse, for whichever server the settings point at."""

from __future__ import annotations

import psycopg2
from psycopg2.extensions import connection as PgConnection

from channel_dw.config import Settings, settings
from channel_dw.db import embedded


def ensure_server(s: Settings | None = None) -> Settings:
    """Start the embedded server if it is the configured warehouse and is not running yet."""
    s = s or settings()
    if s.embedded:
        embedded.start(s)
    return s


def connect(s: Settings | None = None, *, application_name: str = "channel-dw") -> PgConnection:
    s = ensure_server(s)
    return psycopg2.connect(s.database_url, application_name=application_name)
