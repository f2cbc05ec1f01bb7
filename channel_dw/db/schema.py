"""Creates the warehouse's own tables: ``sql/*.sql`` in order, then one raw table per source.

A raw table is partitioned by ``_file_id``: every loaded file is one partition. That is what makes
a corrected re-delivery an atomic swap (detach the old file's partition, attach the new one) and a
half-finished load invisible (its table is never attached).
"""

from __future__ import annotations

import hashlib

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


def _comment(spec: SourceSpec) -> str:
    return (
        f"{spec.description or spec.name} — as delivered; one partition per file, "
        "lineage in _file_id (audit.file_ledger), _line, _loaded_at"
    )


def _fingerprint(conn: PgConnection) -> str:
    """What ensure_schema would apply: the SQL files, the raw tables' DDL and comments."""
    parts = [path.read_text(encoding="utf-8") for path in sorted(SQL_DIR.glob("*.sql"))]
    for spec in all_sources():
        parts.append(raw_table_ddl(spec).as_string(conn))
        parts.append(_comment(spec))
    return hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()


def _is_current(conn: PgConnection, fingerprint: str) -> bool:
    """True when this exact schema was applied and nothing of it has been dropped since.

    Reads only catalogs and one row: no lock that a load in progress holds, so a load's schema
    check never waits for another load's COPY (it did when every load re-ran the DDL)."""
    tables = ["audit.schema_version", "audit.file_ledger", "audit.quarantine"] + [
        f"raw.{spec.raw_table}" for spec in all_sources()
    ]
    with conn.cursor() as cur:
        cur.execute(
            "select bool_and(to_regclass(t) is not null) from unnest(%s::text[]) as t", (tables,)
        )
        if not cur.fetchone()[0]:
            conn.rollback()
            return False
        cur.execute(
            "select exists (select from audit.schema_version where fingerprint = %s"
            " and bi_reader = exists (select from pg_roles where rolname = 'bi_reader'))",
            (fingerprint,),
        )
        current = cur.fetchone()[0]
    conn.rollback()
    return current


def ensure_schema(conn: PgConnection) -> None:
    """Idempotent; safe to call before every load, also from parallel tasks.

    Cheap when nothing changed: the applied schema's fingerprint is kept in
    ``audit.schema_version`` (with whether ``bi_reader`` existed, whose grants depend on it), and
    the DDL runs again only when the project's SQL changed, a table was dropped or the role
    appeared."""
    fingerprint = _fingerprint(conn)
    if _is_current(conn, fingerprint):
        return
    with conn.cursor() as cur:
        cur.execute("select pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
        for path in sorted(SQL_DIR.glob("*.sql")):
            cur.execute(path.read_text(encoding="utf-8"))
        for spec in all_sources():
            cur.execute(raw_table_ddl(spec))
            cur.execute(
                SQL("comment on table raw.{} is %s").format(Identifier(spec.raw_table)),
                (_comment(spec),),
            )
        cur.execute(
            "create table if not exists audit.schema_version (fingerprint text not null,"
            " bi_reader boolean not null, applied_at timestamptz not null default now())"
        )
        cur.execute("truncate audit.schema_version")
        cur.execute(
            "insert into audit.schema_version (fingerprint, bi_reader)"
            " values (%s, exists (select from pg_roles where rolname = 'bi_reader'))",
            (fingerprint,),
        )
    conn.commit()
