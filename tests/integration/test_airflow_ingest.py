"""The ingest DAG run by real Airflow (`airflow dags test`) against a real PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.minutes(2)]

CLI = str(Path(sys.executable).with_name("channel-dw"))


def test_airflow_dags_test_loads_the_day_and_skips_sources_without_a_file(warehouse, db):
    sms = warehouse.landing / "sms"
    sms.mkdir(parents=True)
    (sms / "sms_hall_20261001.txt").write_text(
        "S1|13812345678|20261001081502|CXHF|0||TY\n"
        "S2|13812345678|20261001091502|JF|0|5000|TY\n"
        "#TRAILER|2|5000\n",
        encoding="utf-8",
    )
    (sms / "sms_hall_20261002.txt").write_text("#TRAILER|0|0\n", encoding="utf-8")
    halls = warehouse.landing / "halls"
    halls.mkdir()
    (halls / "hall_txn_20261001.csv").write_text(
        "txn_id,hall_code,region_code,msisdn,txn_time,biz_code,amount,result,staff_id,ref_order_no\n"
        "H1,TY-0012,TY,13812345678,2026-10-01 10:00:00,B_PAY,50.00,OK,S01,\n",
        encoding="utf-8",
    )

    result = subprocess.run(
        [CLI, "airflow", "dags", "test", "channel_ingest_daily", "2026-10-01"],
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=600,
    )

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    with db.cursor() as cur:
        cur.execute(
            "select source, file_name, status, rows_loaded from audit.file_ledger order by 1"
        )
        assert cur.fetchall() == [
            ("halls", "hall_txn_20261001.csv", "loaded", 1),
            ("sms", "sms_hall_20261001.txt", "loaded", 2),
        ]
        cur.execute("select count(*) from raw.sms_hall")
        assert cur.fetchone() == (2,)
    # the other five sources had no file for the day: their tasks were skipped, not failed
    assert "load_web" in result.stdout + result.stderr
