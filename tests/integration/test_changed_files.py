"""A file that changes while it is loaded, and the same bytes delivered again after a rejection:
the ledger says what happened, and the next run loads the finished file whole.

A sender may still be writing (appending, rewriting, renaming a new file over the name) when the
loader reads. What was read must be what was fingerprinted; otherwise the delivery is rejected as
``file_changed_during_load`` and the next run fingerprints the finished file afresh (see
:mod:`channel_dw.ingest.core`). A rejection by a size limit is kept for identical bytes until the
limit is changed.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from pathlib import Path

import pytest

from channel_dw.errors import FileRejected
from channel_dw.ingest.core import load_file
from channel_dw.sources import get_source
from tests.integration.test_input_limits import MIB, WEB_EVENT

pytestmark = pytest.mark.integration

SMS = get_source("sms")
SMS_RECORDS = [f"S{i:05d}|13812345678|20261001081502|CXHF|0||TY" for i in range(3)]


def sms_file(folder: Path, records: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "sms_hall_20261001.txt"
    path.write_text("\n".join([*records, f"#TRAILER|{len(records)}|0"]) + "\n")
    return path


def _meddling(spec, action):
    """The spec, with ``action`` run after the reader's first batch (the sender at work)."""

    def batches(path: Path):
        for i, batch in enumerate(spec.read_batches(path)):
            yield batch
            if i == 0:
                action(path)

    return dataclasses.replace(spec, read_batches=batches)


def _ledger(db) -> list[tuple]:
    with db.cursor() as cur:
        cur.execute("select status, rule, reason from audit.file_ledger order by file_id")
        return cur.fetchall()


def _raw_count(db) -> int:
    with db.cursor() as cur:
        cur.execute("select count(*) from raw.sms_hall")
        return cur.fetchone()[0]


def test_file_appended_to_during_the_load_is_rejected_then_loaded_whole(warehouse, db, tmp_path):
    path = sms_file(tmp_path / "sms", SMS_RECORDS)
    complete = "\n".join([*SMS_RECORDS, "S00003|13812345678|20261001081502|CXHF|0||TY"])

    def append(p: Path) -> None:
        p.write_text(complete + "\n#TRAILER|4|0\n")  # the sender rewrites it, longer

    outcome = load_file(_meddling(SMS, append), path, s=warehouse, run_checks=False)
    assert (outcome.status, outcome.rule) == ("rejected", "file_changed_during_load")
    assert "changed size" in outcome.reason and "next run" in outcome.reason
    assert _raw_count(db) == 0

    again = load_file(SMS, path, s=warehouse, run_checks=False)
    assert (again.status, again.rows_loaded) == ("loaded", 4)


def test_file_replaced_by_rename_during_the_load_ends_consistently(warehouse, db, tmp_path):
    """Renamed over after the reader's first batch: the reader reads the fingerprinted file to
    its end (it is loaded), and the next run loads the new one as a corrected delivery."""
    path = sms_file(tmp_path / "sms", SMS_RECORDS)
    other = sms_file(tmp_path / "incoming", SMS_RECORDS[:2])

    def replace(p: Path) -> None:
        os.replace(other, p)

    outcome = load_file(_meddling(SMS, replace), path, s=warehouse, run_checks=False)
    assert (outcome.status, outcome.rows_loaded) == ("loaded", 3)
    again = load_file(SMS, path, s=warehouse, run_checks=False)
    assert (again.status, again.rows_loaded) == ("loaded", 2)
    assert [r[0] for r in _ledger(db)] == ["superseded", "loaded"]
    assert _raw_count(db) == 2


def test_file_replaced_by_rename_before_it_is_read_is_rejected(warehouse, db, tmp_path):
    """Renamed over between the fingerprint and the reader's open: what the reader read is not
    what was fingerprinted."""
    path = sms_file(tmp_path / "sms", SMS_RECORDS)
    other = sms_file(tmp_path / "incoming", SMS_RECORDS[:2])

    def batches(p: Path):
        os.replace(other, p)
        yield from SMS.read_batches(p)

    spec = dataclasses.replace(SMS, read_batches=batches)
    outcome = load_file(spec, path, s=warehouse, run_checks=False)
    assert (outcome.status, outcome.rule) == ("rejected", "file_changed_during_load")
    assert "replaced by another file before it was read" in outcome.reason
    assert _raw_count(db) == 0
    again = load_file(SMS, path, s=warehouse, run_checks=False)
    assert (again.status, again.rows_loaded) == ("loaded", 2)


def test_same_bytes_after_a_change_rejection_are_loaded_not_skipped(warehouse, db, tmp_path):
    path = sms_file(tmp_path / "sms", SMS_RECORDS)

    def touch(p: Path) -> None:  # rewritten with the same bytes
        p.write_bytes(p.read_bytes())

    first = load_file(_meddling(SMS, touch), path, s=warehouse, run_checks=False)
    assert first.rule == "file_changed_during_load"
    again = load_file(SMS, path, s=warehouse, run_checks=False)
    assert (again.status, again.rows_loaded) == ("loaded", 3)
    assert [r[0] for r in _ledger(db)] == ["rejected", "loaded"]


def test_file_the_sender_keeps_appending_to_is_rejected_not_read_forever(warehouse, tmp_path):
    path = tmp_path / "web" / "web_events_20261001.jsonl"
    path.parent.mkdir(parents=True)
    path.write_bytes((WEB_EVENT + b"\n") * 20_000)
    stop = threading.Event()

    def sender() -> None:  # appends 100 lines every millisecond, for as long as it runs
        with path.open("ab") as fh:
            while not stop.is_set():
                fh.write((WEB_EVENT + b"\n") * 100)
                fh.flush()
                time.sleep(0.001)

    writer = threading.Thread(target=sender, daemon=True)
    writer.start()
    try:
        outcome = load_file(get_source("web"), path, s=warehouse, run_checks=False)
    finally:
        stop.set()
        writer.join()
    assert (outcome.status, outcome.rule) == ("rejected", "file_changed_during_load")
    again = load_file(get_source("web"), path, s=warehouse, run_checks=False)
    assert again.status == "loaded" and again.rows_loaded == path.stat().st_size // (
        len(WEB_EVENT) + 1
    )


def test_a_readers_verdict_on_a_file_that_changed_gives_way_to_the_change(warehouse, tmp_path):
    path = sms_file(tmp_path / "sms", SMS_RECORDS)

    def batches(p: Path):  # the reader finds the file cut short: the sender is rewriting it
        p.write_text(SMS_RECORDS[0] + "\n")
        raise FileRejected(p.name, 1, "missing_trailer", "the last line is a record")
        yield

    spec = dataclasses.replace(SMS, read_batches=batches)
    outcome = load_file(spec, path, s=warehouse, run_checks=False)
    assert (outcome.status, outcome.rule) == ("rejected", "file_changed_during_load")


def test_limit_rejection_is_skipped_until_the_limit_is_changed(
    warehouse, db, tmp_path, monkeypatch
):
    path = sms_file(tmp_path / "sms", SMS_RECORDS)
    with path.open("ab") as fh:
        fh.write(b"x" * (3 * MIB))  # a last line of 3 MiB, no line break
    monkeypatch.setenv("DW_MAX_LINE_BYTES", str(MIB))
    first = load_file(SMS, path, s=warehouse, run_checks=False)
    assert (first.status, first.rule) == ("rejected", "line_too_long")
    assert "DW_MAX_LINE_BYTES = 1.0 MiB" in first.reason
    assert load_file(SMS, path, s=warehouse, run_checks=False).status == "skipped"

    monkeypatch.setenv("DW_MAX_LINE_BYTES", str(64 * MIB))  # raised: the bytes are read again
    again = load_file(SMS, path, s=warehouse, run_checks=False)
    assert (again.status, again.rule) == ("rejected", "bad_trailer")  # not last
