"""`channel-dw backfill` after a late and a corrected file: the loads, the mart and the touched
months' reports follow, and a second backfill of the same range changes nothing.

29 September to 1 October for 80 customers, first loaded without the generator's planted
re-deliveries (a late halls file, a corrected hotline file, an identical web file).
"""

from __future__ import annotations

import contextlib
import gzip
import subprocess
import sys
import uuid
import zipfile
from datetime import date
from pathlib import Path

import psycopg2
import pytest

from channel_dw.config import settings
from channel_dw.generate import generate_landing
from channel_dw.ingest.runner import ingest
from channel_dw.ingest.verify import verify_manifest
from channel_dw.quality.mart_verify import verify_mart
from tests.airflow_cache import seed_airflow_metadata, without_airflow_settings
from tests.integration.test_mart import dbt, deliver_redeliveries, use_database

pytestmark = [pytest.mark.integration, pytest.mark.minutes(5)]

CLI = str(Path(sys.executable).with_name("channel-dw"))


def backfill(*args: str) -> str:
    seed_airflow_metadata(settings(), without_airflow_settings())
    done = subprocess.run(
        [CLI, "backfill", *args],
        env=without_airflow_settings(),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-5000:]
    return done.stdout + done.stderr


def snapshot(url: str) -> dict[str, object]:
    """What a re-run must not change: the facts, the KPIs and the live deliveries."""
    with contextlib.closing(psycopg2.connect(url)) as conn, conn.cursor() as cur:
        taken = {}
        for name, sql in {
            "facts": "select interaction_key, customer_id, region_code, is_success, amount_yuan"
            " from marts.fct_interactions order by interaction_key",
            "kpis": "select month, region_code, kpi_code, channel, value from marts.kpi_monthly"
            " order by 1, 2, 3, 4",
            "live files": "select file_id, file_name from audit.file_ledger"
            " where status = 'loaded' order by file_id",
        }.items():
            cur.execute(sql)
            taken[name] = cur.fetchall()
        return taken


# Secrets of this run: whatever it writes (logs, dbt's output, the ledger, the report, messages)
# must hold neither. The test server trusts local connections, so the password is never checked,
# but it travels everywhere the URL does.
PASSWORD = "pw-" + uuid.uuid4().hex
PII_KEY = "pii-key-" + uuid.uuid4().hex


def test_backfill_loads_late_and_corrected_files_and_a_rerun_changes_nothing(
    make_database, tmp_path, monkeypatch
):
    url = make_database().replace("@", f":{PASSWORD}@", 1)
    use_database(monkeypatch, url, tmp_path)
    monkeypatch.setenv("DW_PII_KEY", PII_KEY)
    monkeypatch.setenv("DW_REPORTS", str(tmp_path / "reports"))
    s = settings()
    # the generator holds back its planted re-deliveries: the halls file of 30 September (late),
    # a corrected hotline file of 1 October, an identical web file of 1 October
    generate_landing(s.landing, date(2026, 9, 29), date(2026, 10, 1), customers=80, seed=5)
    assert ingest(s=s, run_checks=False).ok
    dbt("build")

    deliver_redeliveries(s.landing)
    out = backfill("--start", "2026-09-29", "--end", "2026-10-01")

    assert "dbt build: PASS=" in out
    with contextlib.closing(psycopg2.connect(s.database_url)) as conn:
        with conn.cursor() as cur:
            cur.execute(
                "select source, file_name, status from audit.file_ledger"
                " where file_name in ('hall_txn_20260930.csv', 'hotline_cdr_20261001.csv',"
                " 'web_events_20261001.jsonl')"
            )
            # (the tasks of one day's run may go in any order: compare without it)
            assert sorted(cur.fetchall()) == [
                ("halls", "hall_txn_20260930.csv", "loaded"),  # late: loaded by the backfill
                ("hotline", "hotline_cdr_20261001.csv", "loaded"),  # the correction
                ("hotline", "hotline_cdr_20261001.csv", "superseded"),  # the first delivery
                ("web", "web_events_20261001.jsonl", "loaded"),
                ("web", "web_events_20261001.jsonl", "skipped"),  # identical re-delivery
            ]
        # the ledger and the mart hold what the generator planted, corrections included
        manifest = s.landing / "manifest.json"
        for check in (verify_manifest(conn, manifest), verify_mart(conn, manifest)):
            assert check.ok(), check.summary()
    # September has closed (its last day loaded from every source, the late halls file
    # included): its report is written; October has not
    reports = sorted(p.name for p in (tmp_path / "reports").iterdir())
    assert reports == ["channel-report-2026-09.html", "channel-report-2026-09.xlsx"]
    before = snapshot(s.database_url)

    # the re-run after the landing's halls file of 1 October was archived: that day's halls load
    # is skipped (nothing is unloaded), and the day's other loads are summed up without asking
    # for the skipped load's XCom, which Airflow would log as an error ("XCom not found")
    archived = tmp_path / "archived"
    archived.mkdir()
    (s.landing / "halls" / "hall_txn_20261001.csv").rename(archived / "hall_txn_20261001.csv")
    rerun = backfill("--start", "2026-09-29", "--end", "2026-10-01", "--no-report")
    assert "channel_ingest_daily 2026-10-01: success (1 skipped, 7 success)" in rerun, rerun
    assert "XCom not found" not in rerun, rerun[-5000:]
    out += rerun

    assert snapshot(s.database_url) == before
    assert secrets_found(tmp_path, out, s.database_url) == []


def secrets_found(root: Path, output: str, url: str) -> list[str]:
    """Where the password or the PII key of this run appear: files under ``root`` (every file,
    xlsx and gzip members included), the commands' output, the audit tables. The one file meant
    to hold a secret is none of these: DW_PII_KEY came from the environment."""
    needles = {"password": PASSWORD.encode(), "PII key": PII_KEY.encode()}
    found = [
        f"{what} in the output of channel-dw" for what, n in needles.items() if n in output.encode()
    ]
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        blobs = [path.read_bytes()]
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as z:
                blobs += [z.read(name) for name in z.namelist()]
        elif path.suffix == ".gz":
            blobs.append(gzip.decompress(blobs[0]))
        found += [
            f"{what} in {path.relative_to(root)}"
            for what, n in needles.items()
            if any(n in b for b in blobs)
        ]
    with contextlib.closing(psycopg2.connect(url)) as conn, conn.cursor() as cur:
        cur.execute("select table_name from information_schema.tables where table_schema = 'audit'")
        for (table,) in cur.fetchall():
            cur.execute(f"select t::text from audit.{table} as t")
            text = "\n".join(r[0] for r in cur.fetchall()).encode()
            found += [f"{what} in audit.{table}" for what, n in needles.items() if n in text]
    return found
