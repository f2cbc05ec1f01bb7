"""Two loads at once: each file is loaded exactly once, whoever starts it, and a correction that
arrives while the earlier delivery is still loading wins.

The guarantee comes from one database lock per file name (``ingest.file_lock.take_file_lock``): the
second load waits, says for whom, then finds the first one's delivery in the ledger and skips it
(same bytes) or replaces it (new bytes). The repetitions below start two real processes on the
same files at the same moment (a barrier), twenty times.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import subprocess
import sys
import time
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg2
import pytest

from channel_dw.ingest.core import load_file
from channel_dw.ingest.file_lock import lock_key
from channel_dw.sources import get_source
from tests.integration.test_ingest_core import big_sms_file, load_in_another_process

pytestmark = pytest.mark.integration

REPETITIONS = 20
FIRST_DAY = date(2026, 10, 1)
CLI = str(Path(sys.executable).with_name("channel-dw"))


def _worker(name: str, landing: str, jobs: list, barrier, results) -> None:
    """One loading process: for each job, waits for the other process at the barrier, runs it."""
    import logging

    from channel_dw.ingest.runner import FoundFile, discover, ingest, ingest_files

    logging.basicConfig(level=logging.WARNING)
    os.environ["DW_LANDING"] = landing  # where the Airflow task looks
    for kind, day_text in jobs:
        day = date.fromisoformat(day_text)
        waits: list[str] = []

        def heard(message: str, waits=waits) -> None:
            if ": waiting: " in message:
                waits.append(message)

        barrier.wait(timeout=120)
        try:
            if kind == "ingest":  # what `channel-dw ingest --date D --skip-checks` runs
                result = ingest(
                    landing=Path(landing),
                    start=day,
                    end=day,
                    run_checks=False,
                    loaded_by=name,
                    progress=heard,
                )
            elif kind == "airflow":  # the callable behind the DAG's load_web task
                from channel_dw.orchestration.tasks import load_source_for_day

                logical = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo("Asia/Shanghai"))
                load_source_for_day("web", logical, run_id=f"{name}-{day_text}")
                result = None
            else:  # "file": what `channel-dw ingest --file <the web file of D>` runs
                found, _ = discover(Path(landing), ["web"], day, day)
                result = ingest_files(
                    [FoundFile(f.spec, f.path, f.business_date) for f in found],
                    loaded_by=name,
                    progress=heard,
                )
            failures = [f"{p.name}: {e}" for p, e in result.failures] if result else []
            results.put((name, kind, day_text, failures, len(waits)))
        except BaseException as exc:  # reported to the test, which fails with it
            results.put((name, kind, day_text, [f"{type(exc).__name__}: {exc}"], 0))


def _run_pair(landing: Path, jobs_a: list, jobs_b: list) -> list[tuple]:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    results = ctx.Queue()
    procs = [
        ctx.Process(target=_worker, args=(name, str(landing), jobs, barrier, results))
        for name, jobs in (("process-a", jobs_a), ("process-b", jobs_b))
    ]
    for p in procs:
        p.start()
    got = [results.get(timeout=600) for _ in range(len(jobs_a) + len(jobs_b))]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0, f"{p.name} ended with exit code {p.exitcode}"
    return got


def _ledger_by_name(db) -> dict[tuple[str, str], list[str]]:
    with db.cursor() as cur:
        cur.execute(
            "select source, file_name, status from audit.file_ledger order by file_id",
        )
        by_name: dict[tuple[str, str], list[str]] = {}
        for source, file_name, status in cur.fetchall():
            by_name.setdefault((source, file_name), []).append(status)
    return by_name


def _assert_raw_matches_ledger(db) -> None:
    """Every loaded delivery's rows are in raw exactly once, and raw holds nothing else."""
    with db.cursor() as cur:
        cur.execute(
            "select source, file_id, rows_loaded from audit.file_ledger where status = 'loaded'"
        )
        loaded = cur.fetchall()
        for source in {s for s, _, _ in loaded}:
            table = get_source(source).raw_table
            cur.execute(f"select _file_id, count(*) from raw.{table} group by 1")
            in_raw = dict(cur.fetchall())
            expected = {fid: n for s, fid, n in loaded if s == source and n}
            assert in_raw == expected, f"raw.{table} does not match the ledger"


@pytest.fixture(scope="module")
def month_landing(tmp_path_factory) -> Path:
    from channel_dw.generate import generate_landing

    root = tmp_path_factory.mktemp("landing")
    generate_landing(
        root, FIRST_DAY, FIRST_DAY + timedelta(days=29), customers=60, seed=11, progress=None
    )
    return root


def test_two_loads_started_together_load_each_file_exactly_once(warehouse, db, month_landing):
    days = [(FIRST_DAY + timedelta(days=i)).isoformat() for i in range(REPETITIONS + 10)]
    # Twenty times: two `ingest` runs of the same day at the same moment. Then ten times: the
    # Airflow task loading a day's web file while a person runs `ingest --file` on that file.
    jobs_a = [("ingest", d) for d in days[:REPETITIONS]] + [("airflow", d) for d in days[20:]]
    jobs_b = [("ingest", d) for d in days[:REPETITIONS]] + [("file", d) for d in days[20:]]

    results = _run_pair(month_landing, jobs_a, jobs_b)

    problems = [r for r in results if r[3]]
    assert problems == []
    by_name = _ledger_by_name(db)
    landed = {
        (p.parent.name, p.name)
        for p in month_landing.glob("*/*")
        if not p.parent.name.startswith("_") and p.is_file()
    }
    in_scope = {
        k
        for k in landed
        if get_source(k[0]).business_date(k[1]).isoformat() in days[:REPETITIONS]
        or (k[0] == "web" and get_source("web").business_date(k[1]).isoformat() in days[20:])
    }
    assert set(by_name) == in_scope
    outcomes = Counter()
    for name, statuses in by_name.items():
        # one process loaded (or rejected) the delivery, the other found it done and skipped it
        assert len(statuses) == 2 and statuses.count("skipped") == 1, (name, statuses)
        outcomes[next(s for s in statuses if s != "skipped")] += 1
    assert set(outcomes) <= {"loaded", "rejected"}
    assert outcomes["loaded"] > 100
    _assert_raw_matches_ledger(db)
    with db.cursor() as cur:
        cur.execute("select count(*) from pg_tables where schemaname = 'raw_files'")
        assert cur.fetchone()[0] == outcomes["loaded"]  # one attached partition per delivery
    waited = sum(r[4] for r in results)
    print(f"{len(by_name)} files, two loads each; the second load waited {waited} time(s)")


def test_a_load_that_finds_the_file_locked_says_for_whom_and_waits(warehouse, db, month_landing):
    path = month_landing / "sms" / "sms_hall_20261030.txt"
    load_file(get_source("sms"), month_landing / "sms" / "sms_hall_20261029.txt", run_checks=False)
    holder = psycopg2.connect(warehouse.database_url)
    with holder.cursor() as cur:  # what a load in progress holds: the name's lock, a ledger row
        cur.execute("select pg_advisory_lock(%s)", (lock_key("sms", path.name),))
        cur.execute(
            "insert into audit.file_ledger (source, file_name, file_path, business_date,"
            " size_bytes, sha256, status, loaded_by) values ('sms', %s, %s, '2026-10-30', 1, 'x',"
            " 'loading', 'airflow:scheduled__2026-10-30') returning file_id",
            (path.name, str(path)),
        )
        holder_id = cur.fetchone()[0]
    holder.commit()
    proc = subprocess.Popen(
        [CLI, "ingest", "--file", str(path), "--skip-checks"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=os.environ.copy(),
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with db.cursor() as cur:
                cur.execute(
                    "select count(*) from pg_locks where locktype = 'advisory' and not granted"
                )
                if cur.fetchone()[0]:
                    break
            assert proc.poll() is None, proc.communicate()[0]
            time.sleep(0.1)
        else:
            pytest.fail("the load never waited for the file's lock")
        time.sleep(0.5)
        assert proc.poll() is None  # still waiting
    finally:
        with holder.cursor() as cur:  # the holder "dies": its attempt stays 'loading'
            cur.execute("select pg_advisory_unlock_all()")
        holder.commit()
        holder.close()
    out = proc.communicate(timeout=60)[0]

    assert proc.returncode == 0, out
    assert (
        f"sms/{path.name}: waiting: this file is being loaded by delivery #{holder_id}, started"
        in out
    )
    assert "by airflow:scheduled__2026-10-30;" in out
    assert "Traceback" not in out
    with db.cursor() as cur:  # the waiter cleaned up the dead attempt and loaded the file itself
        cur.execute(
            "select file_id, status from audit.file_ledger where file_name = %s order by file_id",
            (path.name,),
        )
        assert [s for _, s in cur.fetchall()] == ["abandoned", "loaded"]


def test_a_correction_that_arrives_while_the_first_delivery_loads_ends_as_the_state(
    warehouse, db, tmp_path
):
    folder = tmp_path / "landing" / "sms"
    folder.mkdir(parents=True)
    path = folder / "sms_hall_20261003.txt"
    big_sms_file(path, "A", 1_500_000)
    first = load_in_another_process(path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # until the first load's COPY is under way
        with db.cursor() as cur:
            cur.execute(
                "select count(*) from pg_stat_progress_copy"
                " where datname = current_database() and tuples_processed > 0"
            )
            if cur.fetchone()[0]:
                break
        time.sleep(0.02)
    assert first.poll() is None, "the first load ended before the correction arrived"

    big_sms_file(path, "B", 1_000)  # the corrected file replaces the first while it loads
    heard: list[str] = []
    second = load_file(get_source("sms"), path, run_checks=False, progress=heard.append)
    assert first.wait(timeout=120) == 0

    assert any(": waiting: this file is being loaded by delivery #1" in m for m in heard), heard

    assert (second.status, second.rows_loaded) == ("loaded", 1_000)
    with db.cursor() as cur:
        cur.execute("select status, rows_loaded from audit.file_ledger order by file_id")
        assert cur.fetchall() == [("superseded", 1_500_000), ("loaded", 1_000)]
        cur.execute("select count(*), min(msg_id), max(msg_id) from raw.sms_hall")
        assert cur.fetchone() == (1_000, "B0000000", "B0000999")


def test_a_batch_on_two_processes_goes_on_when_one_dies_and_the_next_run_loads_its_file(
    warehouse, db, month_landing, monkeypatch
):
    """`channel-dw ingest --jobs 2`: a worker killed in the middle of a file (here: it exits as
    it starts the COPY of the web file of 2 October, its ledger row written) fails the files in
    flight, not the batch; the next run loads them, and the ledger shows the cut-off attempt as
    abandoned."""
    from channel_dw.ingest import core
    from channel_dw.ingest.runner import discover, ingest

    days = (FIRST_DAY, FIRST_DAY + timedelta(days=3))
    batch = dict(landing=month_landing, sources=["web", "sms", "halls"], start=days[0], end=days[1])
    files, _ = discover(month_landing, batch["sources"], *days)
    killed = "web_events_20261002.jsonl"
    real_copy = core._copy_rows

    def dies_on_one_file(conn, spec, path, *args):  # in the forked workers: they inherit it
        if path.name == killed:
            os._exit(9)
        return real_copy(conn, spec, path, *args)

    monkeypatch.setattr(core, "_copy_rows", dies_on_one_file)
    said: list[str] = []
    first = ingest(**batch, run_checks=False, progress=said.append, jobs=2)

    failed = {path.name: error for path, error in first.failures}
    assert killed in failed and "its loading process ended before the load did" in failed[killed]
    assert len(failed) <= 2  # the killed file, and the file of the other worker if it was loading
    assert len(first.outcomes) + len(failed) == len(files) == len(said)
    assert sum(f"{killed}: FAILED: its loading process ended" in line for line in said) == 1

    monkeypatch.setattr(core, "_copy_rows", real_copy)
    again = ingest(**batch, run_checks=False, jobs=2)
    assert again.ok
    assert {o.file_name for o in again.outcomes if o.status != "skipped"} == set(failed)
    ledger = _ledger_by_name(db)
    assert len(ledger) == len(files)
    assert ledger[("web", killed)] == ["abandoned", "loaded"]
    assert all(statuses[-1] in ("loaded", "skipped", "rejected") for statuses in ledger.values())
    _assert_raw_matches_ledger(db)


def test_a_file_whose_load_ended_before_the_other_process_died_is_told_as_it_ended(
    warehouse, db, month_landing, monkeypatch, caplog
):
    """When one worker dies, the process pool stops the other and fails its file without a
    result: the ledger decides whether that load had ended. Here the halls file's load ends, its
    result held back, while the web worker waits for it and then dies: the halls file is told as
    loaded, the web file as failed, and the next run loads the web file and skips the halls one."""
    from channel_dw.ingest import lanes
    from channel_dw.ingest.runner import discover, ingest

    day = FIRST_DAY + timedelta(days=3)  # a web file and a halls file with records
    batch = dict(landing=month_landing, sources=["web", "halls"], start=day, end=day)
    files, _ = discover(month_landing, batch["sources"], day, day)
    web = next(f.path.name for f in files if f.spec.name == "web")
    real_load = lanes.load_found
    url = warehouse.database_url

    def halls_loaded() -> bool:
        with contextlib.closing(psycopg2.connect(url)) as conn, conn.cursor() as cur:
            cur.execute("select to_regclass('audit.file_ledger') is not null")  # made by a load
            if not cur.fetchone()[0]:
                return False
            cur.execute(
                "select count(*) from audit.file_ledger"
                " where source = 'halls' and status = 'loaded'"
            )
            return cur.fetchone()[0] == 1

    def held_back_or_dying(f, **kwargs):  # in the forked workers: they inherit it
        if f.spec.name == "web":
            deadline = time.monotonic() + 60
            while not halls_loaded() and time.monotonic() < deadline:
                time.sleep(0.05)
            os._exit(9)
        result = real_load(f, **kwargs)
        time.sleep(5)  # the result held back: the pool breaks before it is sent
        return result

    monkeypatch.setattr(lanes, "load_found", held_back_or_dying)
    said: list[str] = []
    first = ingest(**batch, run_checks=False, progress=said.append, jobs=2)
    assert [(o.source, o.status) for o in first.outcomes] == [("halls", "loaded")]
    with db.cursor() as cur:
        cur.execute("select file_id, rows_loaded from audit.file_ledger where source = 'halls'")
        assert cur.fetchall() == [(first.outcomes[0].file_id, first.outcomes[0].rows_loaded)]
    assert "after its load had ended (the ledger says loaded)" in caplog.text  # not its result
    assert [(path.name, error) for path, error in first.failures] == [(web, lanes.DIED)]
    assert len(said) == 2 and any(": loaded " in line for line in said)

    monkeypatch.setattr(lanes, "load_found", real_load)
    again = ingest(**batch, run_checks=False, jobs=2)
    assert sorted((o.source, o.status) for o in again.outcomes) == [
        ("halls", "skipped"),
        ("web", "loaded"),
    ], [o.summary() for o in again.outcomes]
    assert _ledger_by_name(db)[("web", web)] == ["loaded"]  # it died before its load began
    _assert_raw_matches_ledger(db)
