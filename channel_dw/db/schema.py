"""Creates the warehouse's own tables: ``sql/*.sql`` in order, then one raw table per source.

A raw table is partitioned by ``_file_id``: every loaded file is one partition. That is what makes
a corrected re-delivery an atomic swap (detach the old file's partition, attach the new one) and a
half-finished load invisible (its table is never attached).
"""

from __future__ import annotations

from psycopg2.extensions import connection as PgConnection
from psycopg2.sql import SQL, Identifier

from channel_dw.config import PROJECT_ROOT
from channel_dw.sources import all_sources
from channel_dw.sources.base import SourceSpec

SQL_DIR = PROJECT_ROOT / "sql"
SCHEMA_LOCK = 7_310_001  # advisory lock key: one schema migration at a time, no swap meanwhile


def raw_table_ddl(spec: SourceSpec) -> SQL:
    cols = [
        SQL("{} {}").format(Identifier(c), SQL("jsonb" if c in spec.json_columns else "text"))
        for c in spec.columns
    ]
    cols += [
        SQL("_file_id bigint not null"),
        SQL("_line integer not null"),
        SQL("_loaded_at timestamptz not null default now()"),
    ]
    return SQL("create table if not exists raw.{} ({}) partition by list (_file_id)").format(
        Identifier(spec.raw_table), SQL(", ").join(cols)
    )


def ensure_schema(conn: PgConnection) -> None:
    """Idempotent; safe to call before every load, also from parallel tasks."""
    with conn.cursor() as cur:
        cur.execute("select pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
        for path in sorted(SQL_DIR.glob("*.sql")):
            cur.execute(path.read_text(encoding="utf-8"))
        for spec in all_sources():
            cur.execute(raw_table_ddl(spec))
            cur.execute(
                SQL("comment on table raw.{} is %s").format(Identifier(spec.raw_table)),
                (
                    f"{spec.description or spec.name} — as delivered; one partition per file, "
                    "lineage in _file_id (audit.file_ledger), _line, _loaded_at",
                ),
            )
    conn.commit()
