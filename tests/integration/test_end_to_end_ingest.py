"""A generated landing folder with every awkward case of the contract, loaded by the real loader."""

from __future__ import annotations

import contextlib
import shutil
from datetime import date

import psycopg2
import pytest

from channel_dw.generate import generate_landing
from channel_dw.ingest.runner import discover, ingest
from channel_dw.ingest.verify import verify_manifest
from channel_dw.sources import SOURCE_NAMES

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

    # two processes, one source's files after each other (channel_dw.ingest.lanes)
    first = ingest(s=warehouse, jobs=2)
    assert first.ok and not first.unrecognised
    assert sorted(o.file_name for o in first.outcomes) == sorted(
        f.path.name for f in discover(landing)[0]
    )
    with db.cursor() as cur:
        # a source's deliveries got their file ids in the batch's order, as in one process
        cur.execute(
            "select source, array_agg(file_name order by file_id)"
            " = array_agg(file_name order by business_date, file_name)"
            " from audit.file_ledger group by source order by source"
        )
        assert cur.fetchall() == [(s, True) for s in sorted(SOURCE_NAMES)]
        # ... and one after the other: no two loads of a source overlapped
        cur.execute(
            "select source, count(*) from (select source, started_at,"
            " lag(finished_at) over (partition by source order by file_id) as previous_end"
            " from audit.file_ledger) loads where started_at < previous_end group by source"
        )
        assert cur.fetchall() == []
        # ... while loads of different sources did
        cur.execute(
            "select count(*) from audit.file_ledger a join audit.file_ledger b"
            " on a.source < b.source and a.started_at < b.finished_at"
            " and b.started_at < a.finished_at"
        )
        assert cur.fetchone()[0] > 0
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
