"""Hostile names and paths in the landing root (issue #12): each entry is either loaded under its
contract name or reported (path and reason) and ignored; nothing is run, nothing outside the
landing root is followed, no SQL is built from a name, no traceback reaches the user.

Through the runner (discover/ingest), the ingest DAG's task and ``channel-dw ingest`` in a
subprocess. The rules are in docs/ingestion.md ("Names and paths") and
channel_dw/ingest/landing.py.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from channel_dw.ingest.core import load_file
from channel_dw.ingest.landing import UnusableFile, shown
from channel_dw.ingest.runner import discover, ingest, ingest_files
from channel_dw.sources import get_source

pytestmark = pytest.mark.integration

CLI = str(Path(sys.executable).with_name("channel-dw"))
RAW_TABLES = (
    "web_events",
    "app_events",
    "hotline_cdr",
    "sms_hall",
    "store_orders",
    "hall_txn",
    "crm_customers",
)
AS_ROOT = os.geteuid() == 0  # root reads a file of mode 000: the test then makes open() refuse it
UNREADABLE = "sms_hall_20261007.txt"

# Runs the CLI with open() refusing the UNREADABLE file, as it does for a user who is not root.
_REFUSE_UNREADABLE = f"""
import pathlib, sys
_open = pathlib.Path.open
def _refusing(self, *args, **kwargs):
    if self.name == {UNREADABLE!r}:
        raise PermissionError(13, "Permission denied", str(self))
    return _open(self, *args, **kwargs)
pathlib.Path.open = _refusing
from channel_dw.cli import run
sys.argv = ["channel-dw", *sys.argv[1:]]
run()
"""


def sms_text(*msg_ids: str) -> str:
    """A valid SMS export whose records carry these (recognisable) message ids."""
    records = [f"{m}|13812345678|20261001081502|CXHF|0||TY" for m in msg_ids]
    return "\n".join([*records, f"#TRAILER|{len(records)}|0"]) + "\n"


def put(path: Path, *msg_ids: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(sms_text(*msg_ids), encoding="utf-8")
    return path


HOSTILE_NAMES = [
    "sms_hall_20261002 .txt",
    "sms hall 20261002.txt",
    'sms_hall_"20261002".txt',
    "sms_hall_'20261002'.txt",
    "sms_hall_20261002.txt; touch PWNED_SEMICOLON",
    "sms_hall_$(touch PWNED_SUBSHELL).txt",
    "sms_hall_`touch PWNED_BACKTICK`.txt",
    "sms_hall_20261002.txt\n",  # `$` in a regex would match before this newline
    "sms_hall_20261002\n.txt",
    "sms_hall_２０２６１００２.txt",  # full-width digits: \d matches them, int() reads them
    "sms_hall_٢٠٢٦١٠٠٢.txt",  # Arabic-Indic digits
    "短信营业厅_20261002.txt",
    "sms_hall_20261002\u202e.txt",  # a right-to-left override
    "sms_hall_20261002" + "x" * (255 - len("sms_hall_20261002.txt")) + ".txt",  # 255 bytes
    "x'); drop table raw.sms_hall; --",
    "sms_hall_20261002.txt'); drop table raw.sms_hall; --",
]
NON_UTF8 = b"sms_hall_2026100\xff.txt"


def hostile_landing(landing: Path, outside: Path) -> dict[str, str]:
    """Fills a landing root with every hostile case; returns {entry name: words of its reason}
    for the entries that must be ignored. Loadable: sms_hall_20261001.txt (msg ids OK*) and the
    in-root symlink sms_hall_20261004.txt (INSIDE*). Everything outside carries SECRET*."""
    sms = landing / "sms"
    put(sms / "sms_hall_20261001.txt", "OK1", "OK2")
    expected: dict[str, str] = {}
    for i, name in enumerate(HOSTILE_NAMES):
        put(sms / name, f"HOSTILE{i}")
        expected[name] = "does not match the sms file pattern"
    fd = os.open(os.fsencode(sms) + b"/" + NON_UTF8, os.O_WRONLY | os.O_CREAT, 0o644)
    os.write(fd, sms_text("HOSTILE_BYTES").encode())
    os.close(fd)
    expected[os.fsdecode(NON_UTF8)] = "does not match the sms file pattern"
    put(sms / "sms_hall_20261399.txt", "BADDATE")
    expected["sms_hall_20261399.txt"] = "the date in its name is not a calendar date"

    secret = put(outside / "secret.txt", "SECRET1")
    (sms / "sms_hall_20261003.txt").symlink_to(secret)
    expected["sms_hall_20261003.txt"] = "outside the landing root"
    (sms / "sms_hall_20261010.txt").symlink_to(Path("..", "..", "outside", "secret.txt"))
    expected["sms_hall_20261010.txt"] = "outside the landing root"
    (sms / "sms_hall_20261011.txt").symlink_to("/etc/passwd")
    expected["sms_hall_20261011.txt"] = "/etc/passwd, outside the landing root"

    put(sms / ".staged_v2", "INSIDE1")  # hidden: never loaded by its own name
    (sms / "sms_hall_20261004.txt").symlink_to(".staged_v2")  # inside the root: followed

    (sms / "sms_hall_20261005.txt").mkdir()
    put(sms / "sms_hall_20261005.txt" / "sms_hall_20261005.txt", "NESTED1")  # never descended
    expected["sms_hall_20261005.txt"] = "a folder, not a file"
    (sms / "archive").mkdir()
    expected["archive"] = "does not match the sms file pattern"

    os.mkfifo(sms / "sms_hall_20261006.txt")
    expected["sms_hall_20261006.txt"] = "a FIFO (named pipe)"
    put(sms / UNREADABLE, "UNREADABLE1").chmod(0)  # a failure, not ignored: see below
    (sms / "sms_hall_20261008.txt").symlink_to(sms / "gone.txt")
    expected["sms_hall_20261008.txt"] = "dangling symlink"
    (sms / "sms_hall_20261009.txt").symlink_to("sms_hall_20261009.txt")
    expected["sms_hall_20261009.txt"] = "cannot be resolved"

    # a source folder that is a symlink out of the root, and a file where a folder is due
    put(outside / "hotline" / "hotline_cdr_20261001.csv", "SECRET2")
    (landing / "hotline").symlink_to(outside / "hotline")
    expected["hotline"] = "outside the landing root"
    (landing / "web").write_text("not a folder\n")
    expected["web"] = "it is not a folder"
    return expected


def ledger(db) -> list[tuple]:
    with db.cursor() as cur:
        cur.execute("select source, file_name, file_path, status from audit.file_ledger order by 2")
        return cur.fetchall()


def msg_ids(db) -> list[str]:
    with db.cursor() as cur:
        cur.execute("select msg_id from raw.sms_hall order by msg_id")
        return [r[0] for r in cur.fetchall()]


def assert_raw_tables_exist(db) -> None:
    with db.cursor() as cur:
        for table in RAW_TABLES:
            cur.execute("select to_regclass(%s)", (f"raw.{table}",))
            assert cur.fetchone()[0] is not None, table


def assert_only_the_contract_files_loaded(db, landing: Path) -> None:
    sms = landing / "sms"
    assert ledger(db) == [
        ("sms", "sms_hall_20261001.txt", str(sms / "sms_hall_20261001.txt"), "loaded"),
        ("sms", "sms_hall_20261004.txt", str(sms / "sms_hall_20261004.txt"), "loaded"),
    ]
    assert msg_ids(db) == ["INSIDE1", "OK1", "OK2"]  # no SECRET*, HOSTILE*, NESTED*, ...
    assert_raw_tables_exist(db)


def refuse_unreadable(monkeypatch) -> None:
    if AS_ROOT:
        original = Path.open

        def refusing(self, *args, **kwargs):
            if self.name == UNREADABLE:
                raise PermissionError(13, "Permission denied", str(self))
            return original(self, *args, **kwargs)

        monkeypatch.setattr(Path, "open", refusing)


def test_discover_and_ingest_load_contract_names_and_report_the_rest(
    warehouse, db, tmp_path, monkeypatch, caplog
):
    landing = warehouse.landing
    expected = hostile_landing(landing, tmp_path / "outside")
    refuse_unreadable(monkeypatch)

    found, ignored = discover(landing)
    assert [f.path.name for f in found] == [
        "sms_hall_20261001.txt",
        "sms_hall_20261004.txt",
        UNREADABLE,
    ]
    reasons = {entry.path.name: entry.reason for entry in ignored}
    assert set(reasons) == set(expected)
    for name, words in expected.items():
        assert words in reasons[name], (name, reasons[name])

    result = ingest(s=warehouse, run_checks=False)

    assert [(o.file_name, o.status) for o in result.outcomes] == [
        ("sms_hall_20261001.txt", "loaded"),
        ("sms_hall_20261004.txt", "loaded"),
    ]
    assert result.failures == [
        (landing / "sms" / UNREADABLE, "it cannot be read: Permission denied")
    ]
    assert_only_the_contract_files_loaded(db, landing)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for entry in ignored:
        assert f"ignored {shown(entry.path)}: {entry.reason}" in logged
    assert "\\xff" in logged and "sms_hall_20261002.txt\\n': " in logged  # shown, one line each
    assert not any(r.exc_info for r in caplog.records)  # no traceback in the log either
    assert not list(tmp_path.glob("**/PWNED*")) and not list(Path.cwd().glob("PWNED*"))


def run_cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-c", _REFUSE_UNREADABLE] if AS_ROOT else [CLI]
    return subprocess.run(
        [*command, *args],
        cwd=tmp_path,
        env=os.environ.copy(),  # DW_DATABASE_URL, DW_HOME, DW_LANDING: the test's (fixture)
        capture_output=True,
        text=True,
        errors="backslashreplace",
        timeout=120,  # a FIFO opened by mistake would block for ever
    )


def test_cli_ingest_reports_every_hostile_entry_and_loads_the_contract_files(
    warehouse, db, tmp_path
):
    landing = warehouse.landing
    expected = hostile_landing(landing, tmp_path / "outside")

    done = run_cli(tmp_path, "ingest", "--skip-checks")

    output = done.stdout + done.stderr
    assert "Traceback" not in output, output[-4000:]
    assert done.returncode == 1, output[-4000:]  # the unreadable file fails the run
    lines = done.stdout.splitlines()
    for name, words in expected.items():
        entry = landing / name if name in ("hotline", "web") else landing / "sms" / name
        said = [line for line in lines if line.startswith(f"ignored {shown(entry)}: ")]
        assert len(said) == 1 and words in said[0], (name, said)
    assert f"FAILED {landing / 'sms' / UNREADABLE}: it cannot be read: Permission denied" in lines
    assert "2 file(s)" in done.stdout and "2 loaded" in done.stdout
    assert_only_the_contract_files_loaded(db, landing)
    assert not list(tmp_path.glob("**/PWNED*"))


def test_cli_ingest_file_loads_a_chosen_file_outside_the_root_and_refuses_the_rest(
    warehouse, db, tmp_path
):
    landing, outside = warehouse.landing, tmp_path / "outside"
    hostile_landing(landing, outside)
    chosen = put(outside / "archive" / "sms" / "sms_hall_20261020.txt", "CHOSEN1")
    (outside / "links" / "sms").mkdir(parents=True)
    (outside / "links" / "sms" / "sms_hall_20261021.txt").symlink_to(chosen)
    os.mkfifo(outside / "archive" / "sms" / "sms_hall_20261022.txt")
    put(outside / "notasource" / "sms_hall_20261023.txt", "SECRET3")
    sms = landing / "sms"
    refused = {
        sms / "sms_hall_20261003.txt": "outside the landing root",
        sms / "sms_hall_20261011.txt": "/etc/passwd, outside the landing root",
        sms / "sms_hall_20261005.txt": "a folder, not a file",
        sms / "sms_hall_20261006.txt": "a FIFO (named pipe)",
        sms / "sms_hall_20261008.txt": "dangling symlink",
        sms / "x'); drop table raw.sms_hall; --": "does not match the sms file pattern",
        sms / "sms_hall_20261002.txt\n": "does not match the sms file pattern",
        sms / "sms_hall_20261031.txt": "it does not exist",
        outside / "archive" / "sms" / "sms_hall_20261022.txt": "a FIFO (named pipe)",
        outside / "notasource" / "sms_hall_20261023.txt": "its folder notasource is not a source",
    }
    args = [str(chosen), str(outside / "links" / "sms" / "sms_hall_20261021.txt")]
    for path in refused:
        args += ["--file", str(path)]

    done = run_cli(tmp_path, "ingest", "--skip-checks", "--file", args[0], "--file", args[1])
    output = done.stdout + done.stderr
    assert "Traceback" not in output, output[-4000:]
    assert done.returncode == 0, output[-4000:]

    done = run_cli(tmp_path, "ingest", "--skip-checks", *args[2:])

    output = done.stdout + done.stderr
    assert "Traceback" not in output, output[-4000:]
    assert done.returncode == 1, output[-4000:]
    lines = done.stdout.splitlines()
    for path, words in refused.items():
        said = [line for line in lines if line.startswith(f"FAILED {shown(path)}: ")]
        assert len(said) == 1 and words in said[0], (path, said)
    with db.cursor() as cur:
        cur.execute("select file_name, file_path, status from audit.file_ledger order by 1")
        assert cur.fetchall() == [
            ("sms_hall_20261020.txt", str(chosen), "loaded"),
            ("sms_hall_20261021.txt", str(outside / "links/sms/sms_hall_20261021.txt"), "loaded"),
        ]
    assert msg_ids(db) == ["CHOSEN1", "CHOSEN1"]  # the same bytes under two names
    assert_raw_tables_exist(db)


def test_load_file_refuses_a_fifo_swapped_in_after_discovery_without_opening_it(
    warehouse, db, tmp_path
):
    fifo = tmp_path / "sms" / "sms_hall_20261001.txt"
    fifo.parent.mkdir()
    os.mkfifo(fifo)

    with pytest.raises(UnusableFile, match="a FIFO"):  # opening it would block for ever
        load_file(get_source("sms"), fifo, s=warehouse, run_checks=False)
    with db.cursor() as cur:
        cur.execute("select to_regclass('audit.file_ledger')")
        assert cur.fetchone()[0] is None  # refused before any database work


def test_a_symlink_pointed_out_of_the_root_after_discovery_is_not_followed(warehouse, db, tmp_path):
    landing = warehouse.landing
    put(landing / "sms" / ".staged", "INSIDE1")
    link = landing / "sms" / "sms_hall_20261004.txt"
    link.symlink_to(".staged")
    found, ignored = discover(landing)
    assert [f.path for f in found] == [link] and ignored == []
    link.unlink()
    link.symlink_to(put(tmp_path / "outside" / "secret.txt", "SECRET1"))

    result = ingest_files(found, s=warehouse, run_checks=False)

    assert result.outcomes == []
    [(path, reason)] = result.failures
    assert path == link and "outside the landing root" in reason
    with db.cursor() as cur:
        cur.execute("select to_regclass('raw.sms_hall')")
        assert cur.fetchone()[0] is None  # not even the schema check ran: nothing was read


def test_the_ingest_dag_task_skips_an_ignored_entry_and_fails_on_an_unreadable_file(
    warehouse, db, tmp_path, monkeypatch
):
    from datetime import datetime

    from airflow.sdk.exceptions import AirflowSkipException

    from channel_dw.orchestration.tasks import BUSINESS_TZ, LoadFailedError, load_source_for_day

    landing = warehouse.landing
    hostile_landing(landing, tmp_path / "outside")
    refuse_unreadable(monkeypatch)
    records: list[logging.LogRecord] = []  # Airflow's logging set-up replaces caplog's handler
    handler = logging.Handler(logging.INFO)
    handler.emit = records.append
    logging.getLogger("channel_dw").addHandler(handler)
    monkeypatch.setattr(logging.getLogger("channel_dw"), "level", logging.INFO)

    def day(n: int) -> datetime:
        return datetime(2026, 10, n, tzinfo=BUSINESS_TZ)

    try:
        with pytest.raises(AirflowSkipException, match="no sms file for 2026-10-03"):
            load_source_for_day("sms", day(3), run_id="t3")  # the symlink out of the root
        with pytest.raises(LoadFailedError) as failed:
            load_source_for_day("sms", day(7), run_id="t7")
    finally:
        logging.getLogger("channel_dw").removeHandler(handler)

    logged = "\n".join(r.getMessage() for r in records)
    assert "sms_hall_20261003.txt: it leads to /" in logged
    assert "outside the landing root" in logged
    assert failed.value.files == [f"sms/{UNREADABLE}"]
    assert "it cannot be read: Permission denied" in str(failed.value)
    assert not any(r.exc_info for r in records)  # no traceback in the task's log
    with db.cursor() as cur:
        cur.execute("select to_regclass('raw.sms_hall')")
        assert cur.fetchone() == (None,)  # nothing read, nothing loaded
