"""Fuzzing the loads: a damaged export file ends loaded or rejected, and the ledger tells the truth.

A few damaged files per source (the damages of :mod:`tests.fuzz`) go through ``load_file`` with
the data-quality checks, against a real PostgreSQL. Whatever the damage, the load ends with the
file loaded or rejected, never with an exception; no ledger row is left ``loading``; a loaded
file's rows read are its rows loaded plus its rows quarantined, and ``raw`` and
``audit.quarantine`` hold exactly those; a rejected file leaves nothing in either.

Every example loads a file of its own name (its own business date), so the examples of one test
share a database without replacing each other's deliveries.
"""

from __future__ import annotations

import itertools
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import event, given
from hypothesis import strategies as st
from psycopg2.sql import SQL, Identifier

from channel_dw.ingest.core import load_file
from channel_dw.sources import get_source
from tests.fuzz import DAY, KEYS, SOURCES, Original, damaged, damages, fuzz_settings, make_originals

pytestmark = pytest.mark.integration

EXAMPLES = 8  # damaged files per source in the usual run
FUZZ_EXAMPLES = 60  # and under make fuzz (each is a load with its checks: a few tenths of a second)
_days = itertools.count(1)


@pytest.fixture(scope="module")
def originals(tmp_path_factory) -> dict[str, Original]:
    return make_originals(tmp_path_factory.mktemp("originals"))


def _one(db, query, *args):
    with db.cursor() as cur:
        cur.execute(query, args)
        return cur.fetchone()


@pytest.mark.parametrize("source", SOURCES)
@fuzz_settings(EXAMPLES, FUZZ_EXAMPLES)
@given(data=st.data())
def test_damaged_file_is_loaded_or_rejected(warehouse, db, originals, tmp_path, source, data):
    key = data.draw(st.sampled_from([k for k in KEYS if k.split(".")[0] == source]), label="file")
    original = originals[key]
    damage_list = data.draw(damages(original), label="damages")
    day = DAY + timedelta(days=next(_days))  # a name of its own: no redelivery of another example
    name = original.name.replace(DAY.strftime("%Y%m%d"), day.strftime("%Y%m%d"))
    path: Path = tmp_path / source / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(damaged(original, damage_list))
    spec = get_source(source)

    outcome = load_file(spec, path, s=warehouse, run_checks=True)

    event(f"{outcome.status} [{outcome.rule}]" if outcome.rule else outcome.status)
    assert outcome.status in ("loaded", "rejected"), outcome
    assert _one(db, "select count(*) from audit.file_ledger where status = 'loading'") == (0,)
    ledger = _one(
        db,
        "select status, rows_read, rows_loaded, rows_quarantined, rule from audit.file_ledger"
        " where file_id = %s",
        outcome.file_id,
    )
    assert ledger[:4] == (
        outcome.status,
        outcome.rows_read,
        outcome.rows_loaded,
        outcome.rows_quarantined,
    )
    in_raw = _one(
        db,
        SQL("select count(*) from raw.{} where _file_id = %s").format(Identifier(spec.raw_table)),
        outcome.file_id,
    )[0]
    quarantined = _one(
        db, "select count(*) from audit.quarantine where file_id = %s", outcome.file_id
    )[0]
    if outcome.status == "loaded":
        assert outcome.rows_read == outcome.rows_loaded + outcome.rows_quarantined
        assert (in_raw, quarantined) == (outcome.rows_loaded, outcome.rows_quarantined)
    else:
        assert ledger[4], "a rejected file names the rule it broke"
        assert (in_raw, quarantined, outcome.rows_loaded, outcome.rows_quarantined) == (0, 0, 0, 0)
    leftovers = _one(
        db,
        "select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace"
        " where n.nspname = 'raw_files' and c.relkind = 'r' and not c.relispartition",
    )
    assert leftovers == (0,), "a per-file table left behind"
