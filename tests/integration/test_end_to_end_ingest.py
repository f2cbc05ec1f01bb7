"""A generated landing folder with every awkward case of the contract, loaded by the real loader."""

from __future__ import annotations

import contextlib
import shutil
from datetime import date

import psycopg2
import pytest

from channel_dw.generate import generate_landing
from channel_dw.ingest.runner import ingest
from channel_dw.ingest.verify import verify_manifest

pytestmark = [pytest.mark.integration, pytest.mark.minutes(1)]


def counts(db) -> dict[str, tuple]:
    out = {}
    with db.cursor() as cur:
        for table in (
            "web_events",
            "app_events",
            "hotline_cdr",
            "sms_hall",
            "store_orders",
            "hall_txn",
            "crm_customers",
        ):
            cur.execute(f"select count(*), count(distinct (_file_id, _line)) from raw.{table}")
            out[table] = cur.fetchone()
    return out


def test_generated_week_loads_as_the_contract_says_and_a_rerun_changes_nothing(warehouse, db):
    landing = warehouse.landing
    generate_landing(landing, date(2026, 10, 1), date(2026, 10, 14), customers=300, seed=7)

    first = ingest(s=warehouse)
    assert first.ok and not first.unrecognised
    for folder in sorted((landing / "_redeliveries").iterdir()):
        for path in folder.glob("*/*"):
            shutil.copyfile(path, landing / path.parent.name / path.name)
        assert ingest(s=warehouse).ok

    with contextlib.closing(psycopg2.connect(warehouse.database_url)) as conn:
        check = verify_manifest(conn, landing / "manifest.json")
    assert check.ok(), check.summary()
    assert check.checked["rejected files"] == 2

    # nothing silently dropped: for every loaded file, read = loaded + quarantined, and the
    # quarantine and raw tables hold exactly those rows
    with db.cursor() as cur:
        cur.execute(
            "select count(*) from audit.file_ledger where status = 'loaded'"
            " and rows_read <> rows_loaded + rows_quarantined"
        )
        assert cur.fetchone() == (0,)
        cur.execute(
            "select l.file_id from audit.file_ledger l where status = 'loaded'"
            " and rows_quarantined <> (select count(*) from audit.quarantine q"
            "                          where q.file_id = l.file_id)"
        )
        assert cur.fetchall() == []
        cur.execute("select sum(rows_loaded) from audit.file_ledger where status = 'loaded'")
        loaded = cur.fetchone()[0]
    before = counts(db)
    assert sum(n for n, _ in before.values()) == loaded
    assert all(n == distinct for n, distinct in before.values())

    again = ingest(s=warehouse)

    assert {o.status for o in again.outcomes} == {"skipped"}
    assert counts(db) == before
