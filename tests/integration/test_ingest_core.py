"""The loading core against a real PostgreSQL: idempotency, replacement, rejection, recovery.

SMS files are used because their format is the simplest to write by hand; the core is the same for
every source.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from psycopg2.sql import SQL

from channel_dw.ingest.core import load_file, part_table
from channel_dw.sources import get_source

pytestmark = pytest.mark.integration

SMS = get_source("sms")

RECORDS_V1 = [
    "S0001|13812345678|20261001081502|CXHF|0||TY",
    "S0002|+86 139-0000-1111|20261001091000|JF|0|5000|DT",
    "S0003|13700001111|20261001120000|KTLL10|0|1000|TY",
]


def sms_file(folder: Path, day: str, records: list[str], trailer: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"sms_hall_{day}.txt"
    if trailer is None:
        total = sum(int(r.split("|")[5] or 0) for r in records)
        trailer = f"#TRAILER|{len(records)}|{total}"
    path.write_text("\n".join([*records, trailer]) + "\n", encoding="utf-8")
    return path


def big_sms_file(path: Path, prefix: str, n: int) -> None:
    """A valid SMS file of ``n`` rows, written aside and renamed into place (as senders do)."""
    tmp = path.with_name(path.name + ".part")
    with tmp.open("w", encoding="utf-8") as fh:
        for i in range(n):
            fh.write(f"{prefix}{i:07d}|13812345678|20261003081502|JF|0|100|TY\n")
        fh.write(f"#TRAILER|{n}|{n * 100}\n")
    os.replace(tmp, path)


def load_in_another_process(path: Path) -> subprocess.Popen:
    """``load_file`` of an SMS file, checks skipped, in a child process (to kill or race)."""
    code = (
        "import sys; from pathlib import Path; from channel_dw.ingest.core import load_file;"
        "from channel_dw.sources import get_source;"
        "load_file(get_source('sms'), Path(sys.argv[1]), run_checks=False)"
    )
    return subprocess.Popen([sys.executable, "-c", code, str(path)], env=os.environ.copy())


def raw_rows(db) -> list[tuple]:
    with db.cursor() as cur:
        cur.execute("select msg_id, msisdn, amount_fen, _line from raw.sms_hall order by msg_id")
        return cur.fetchall()


def ledger(db) -> list[tuple]:
    with db.cursor() as cur:
        cur.execute("select to_regclass('audit.file_ledger')")
        if cur.fetchone()[0] is None:
            return []
        cur.execute(
            "select file_id, status, rows_read, rows_loaded, rows_quarantined, rule"
            " from audit.file_ledger order by file_id"
        )
        return cur.fetchall()


def leftover_file_tables(db) -> list[str]:
    """Per-file tables that are not attached to a raw table (there must never be any at rest)."""
    with db.cursor() as cur:
        cur.execute(
            "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace"
            " where n.nspname = 'raw_files' and c.relkind = 'r' and not c.relispartition"
        )
        return [r[0] for r in cur.fetchall()]


def test_first_delivery_loads_every_row_with_lineage(warehouse, db, tmp_path):
    path = sms_file(tmp_path / "sms", "20261001", RECORDS_V1)

    outcome = load_file(SMS, path, s=warehouse, run_checks=False)

    assert (outcome.status, outcome.rows_read, outcome.rows_loaded) == ("loaded", 3, 3)
    assert raw_rows(db) == [
        ("S0001", "13812345678", None, 1),
        ("S0002", "+86 139-0000-1111", "5000", 2),
        ("S0003", "13700001111", "1000", 3),
    ]
    with db.cursor() as cur:
        cur.execute("select distinct _file_id from raw.sms_hall")
        assert cur.fetchall() == [(outcome.file_id,)]
        cur.execute("select business_date::text, size_bytes from audit.file_ledger")
        assert cur.fetchone() == ("2026-10-01", path.stat().st_size)


def test_the_rows_are_loaded_frozen(warehouse, db, tmp_path):
    """COPY FREEZE into the per-file table: no pass after the load has a row to visit. A plain
    COPY left every page to autovacuum: VACUUM VERBOSE then counts the 20,000 rows it saw. (It
    still scans the empty pages COPY added at the end, and cuts them off.)"""
    path = tmp_path / "sms" / "sms_hall_20261003.txt"
    path.parent.mkdir(parents=True)
    big_sms_file(path, "F", 20_000)
    outcome = load_file(SMS, path, s=warehouse, run_checks=False)
    assert outcome.rows_loaded == 20_000
    del db.notices[:]
    with db.cursor() as cur:
        cur.execute(SQL("vacuum (verbose) {}").format(part_table(SMS, outcome.file_id)))
    verbose = [n for n in db.notices if "finished vacuuming" in n]
    assert verbose and "\ntuples: 0 removed, 0 remain," in verbose[0], db.notices


def test_redelivered_identical_file_changes_nothing(warehouse, db, tmp_path):
    path = sms_file(tmp_path / "sms", "20261001", RECORDS_V1)
    first = load_file(SMS, path, s=warehouse, run_checks=False)
    before = raw_rows(db)

    again = load_file(SMS, path, s=warehouse, run_checks=False)

    assert again.status == "skipped"
    assert f"identical to delivery #{first.file_id}" in again.reason
    assert raw_rows(db) == before
    assert [r[1] for r in ledger(db)] == ["loaded", "skipped"]


def test_every_finished_delivery_has_its_checksum_in_the_ledger(warehouse, db, tmp_path):
    """The checksum of a first delivery is taken while it loads; the ledger gets it at the end,
    loaded or rejected, and the next delivery of the name is compared with it."""
    good = sms_file(tmp_path / "sms", "20261001", RECORDS_V1)
    bad = sms_file(tmp_path / "sms", "20261002", RECORDS_V1, trailer="#TRAILER|9|0")
    outcomes = [load_file(SMS, p, s=warehouse, run_checks=False) for p in (good, bad, good, bad)]

    assert [o.status for o in outcomes] == ["loaded", "rejected", "skipped", "skipped"]
    with db.cursor() as cur:
        cur.execute("select file_name, status, sha256 from audit.file_ledger order by file_id")
        rows = cur.fetchall()
    digests = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (good, bad)}
    assert rows == [
        (good.name, "loaded", digests[good.name]),
        (bad.name, "rejected", digests[bad.name]),
        (good.name, "skipped", digests[good.name]),
        (bad.name, "skipped", digests[bad.name]),
    ]


def test_corrected_redelivery_replaces_the_earlier_rows_in_full(warehouse, db, tmp_path):
    path = sms_file(tmp_path / "sms", "20261001", RECORDS_V1)
    first = load_file(SMS, path, s=warehouse, run_checks=False)
    corrected = [RECORDS_V1[0], "S0009|13900009999|20261001150000|JF|0|2000|LL"]
    sms_file(tmp_path / "sms", "20261001", corrected)

    second = load_file(SMS, path, s=warehouse, run_checks=False)

    assert second.status == "loaded" and second.replaced_file_id == first.file_id
    assert raw_rows(db) == [
        ("S0001", "13812345678", None, 1),
        ("S0009", "13900009999", "2000", 2),
    ]
    assert ledger(db) == [
        (first.file_id, "superseded", 3, 3, 0, None),
        (second.file_id, "loaded", 2, 2, 0, None),
    ]
    assert leftover_file_tables(db) == []


def test_file_with_wrong_trailer_is_rejected_whole_with_its_reason(warehouse, db, tmp_path):
    path = sms_file(tmp_path / "sms", "20261002", RECORDS_V1, trailer="#TRAILER|4|6000")

    outcome = load_file(SMS, path, s=warehouse, run_checks=False)

    assert outcome.status == "rejected"
    assert outcome.rule == "bad_trailer"
    assert "sms_hall_20261002.txt" in outcome.reason
    assert raw_rows(db) == []
    assert leftover_file_tables(db) == []
    with db.cursor() as cur:
        cur.execute("select status, rule, reason from audit.file_ledger")
        status, rule, reason = cur.fetchone()
    assert (status, rule) == ("rejected", "bad_trailer")
    assert "4" in reason and "3" in reason


def test_rejected_correction_leaves_the_earlier_delivery_in_place(warehouse, db, tmp_path):
    path = sms_file(tmp_path / "sms", "20261001", RECORDS_V1)
    load_file(SMS, path, s=warehouse, run_checks=False)
    sms_file(tmp_path / "sms", "20261001", RECORDS_V1[:2], trailer="#TRAILER|9|0")

    outcome = load_file(SMS, path, s=warehouse, run_checks=False)

    assert outcome.status == "rejected"
    assert [r[0] for r in raw_rows(db)] == ["S0001", "S0002", "S0003"]
    assert [r[1] for r in ledger(db)] == ["loaded", "rejected"]


def test_bad_rows_are_quarantined_and_the_good_rows_load(warehouse, db, tmp_path):
    records = [
        RECORDS_V1[0],
        "S0004|1381234|20261001100000|CXHF|0||TY",  # impossible phone
        "S0005|13812345678|2026-10-01 10:00|CXHF|0||TY",  # bad time
        RECORDS_V1[1],
    ]
    path = sms_file(tmp_path / "sms", "20261001", records)

    outcome = load_file(SMS, path, s=warehouse, run_checks=False)

    assert (outcome.rows_read, outcome.rows_loaded, outcome.rows_quarantined) == (4, 2, 2)
    assert [r[0] for r in raw_rows(db)] == ["S0001", "S0002"]
    with db.cursor() as cur:
        cur.execute(
            "select file_name, line_no, rule, raw_text from audit.quarantine order by line_no"
        )
        assert cur.fetchall() == [
            ("sms_hall_20261001.txt", 2, "bad_phone", records[1]),
            ("sms_hall_20261001.txt", 3, "bad_timestamp", records[2]),
        ]


def test_failure_in_the_middle_of_copy_leaves_nothing_and_the_retry_completes(
    warehouse, db, tmp_path, monkeypatch
):
    records = [f"S{i:05d}|13812345678|20261001081502|CXHF|0||TY" for i in range(1000)]
    path = sms_file(tmp_path / "sms", "20261001", records)
    real_read = SMS.read

    def dies_half_way(p):
        for n, item in enumerate(real_read(p)):
            if n == 500:
                raise OSError("connection to the landing share lost")
            yield item

    # The per-record form, so the failure comes half-way through the COPY's stream of batches.
    broken = type(SMS)(**{**SMS.__dict__, "read": dies_half_way, "read_batches": None})
    with pytest.raises(OSError, match="landing share"):
        load_file(broken, path, s=warehouse, run_checks=False)

    assert raw_rows(db) == []
    assert leftover_file_tables(db) == []
    assert [r[1] for r in ledger(db)] == ["abandoned"]

    retry = load_file(SMS, path, s=warehouse, run_checks=False)

    assert (retry.status, retry.rows_loaded) == ("loaded", 1000)
    with db.cursor() as cur:
        cur.execute("select count(*), count(distinct msg_id) from raw.sms_hall")
        assert cur.fetchone() == (1000, 1000)


def test_killed_load_is_cleaned_up_and_the_retry_loads_each_row_once(warehouse, db, tmp_path):
    n = 2_000_000  # the columnar loader takes about a second for it
    folder = tmp_path / "sms"
    folder.mkdir()
    path = folder / "sms_hall_20261003.txt"
    big_sms_file(path, "K", n)
    proc = load_in_another_process(path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if [r[1] for r in ledger(db)] == ["loading"]:
            time.sleep(0.2)  # into the COPY
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the load finished before it could be killed; use a bigger file"
    proc.send_signal(signal.SIGKILL)
    proc.wait()

    assert raw_rows(db) == []
    retry = load_file(SMS, path, s=warehouse, run_checks=False)

    assert (retry.status, retry.rows_loaded) == ("loaded", n)
    assert [r[1] for r in ledger(db)] == ["abandoned", "loaded"]
    assert leftover_file_tables(db) == []
    with db.cursor() as cur:
        cur.execute("select count(*), count(distinct msg_id) from raw.sms_hall")
        assert cur.fetchone() == (n, n)


def test_late_file_for_an_old_date_is_loaded(warehouse, db, tmp_path):
    load_file(
        SMS, sms_file(tmp_path / "sms", "20261020", RECORDS_V1[:1]), s=warehouse, run_checks=False
    )

    late = load_file(
        SMS, sms_file(tmp_path / "sms", "20260915", RECORDS_V1[1:]), s=warehouse, run_checks=False
    )

    assert late.status == "loaded"
    with db.cursor() as cur:
        cur.execute("select business_date::text, status from audit.file_ledger order by file_id")
        assert cur.fetchall() == [("2026-10-20", "loaded"), ("2026-09-15", "loaded")]
