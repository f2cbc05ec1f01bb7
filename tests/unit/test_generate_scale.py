"""The generator's bulk writers for the benchmarks and its sizing of a province month."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from channel_dw.generate import (
    PROVINCE_RECORDS_PER_MONTH,
    customers_for_records,
    generate_landing,
    write_app_events,
    write_hall_txn,
    write_hotline_cdr,
    write_sms_hall,
    write_web_events,
)
from tests.unit.generated_files import (
    OCTOBER,
    WEB_KEYS,
    app_doc,
    csv_rows,
    hotline_rows,
)

# --- benchmark writers -----------------------------------------------------------------------


def test_benchmark_writers_write_about_the_rows_asked(tmp_path: Path) -> None:
    n = write_web_events(tmp_path / "web.jsonl", 3000)
    lines = (tmp_path / "web.jsonl").read_text(encoding="utf-8").splitlines()
    assert n == len(lines) and 2400 < n < 3600
    assert all(WEB_KEYS <= json.loads(line).keys() for line in lines)

    n = write_app_events(tmp_path / "app.json", 3000)
    doc = app_doc(tmp_path / "app.json")
    assert n == doc["count"] == len(doc["events"]) and 2400 < n < 3600

    n = write_hotline_cdr(tmp_path / "cdr.csv", 3000)
    assert n == len(hotline_rows(tmp_path / "cdr.csv")) - 1 and 2700 < n < 3300

    n = write_sms_hall(tmp_path / "sms.txt", 3000)
    *records, trailer = (tmp_path / "sms.txt").read_text(encoding="utf-8").splitlines()
    assert n == len(records) and trailer.startswith(f"#TRAILER|{n}|")

    n = write_hall_txn(tmp_path / "halls.csv", 3000)
    assert n == len(csv_rows(tmp_path / "halls.csv")) - 1 and 2700 < n < 3300


# --- province scale --------------------------------------------------------------------------


def test_a_province_month_of_ten_million_records_takes_about_1_2_million_customers() -> None:
    # by hand: the daily rates add up to 0.2353 records per customer (hotline .07, sms .07,
    # app .05, web .03, halls .012, crm .0025, stores .0008), times 31 days is 7.3, plus the
    # CRM snapshot's row: about 8.3 records per customer in October, so 10 M / 8.3 = 1.2 M
    customers = customers_for_records(PROVINCE_RECORDS_PER_MONTH, date(2026, 10, 1))
    assert 1_150_000 < customers < 1_250_000
    # any day of the month sizes the same population, so a few days can be tried at full scale
    assert customers_for_records(PROVINCE_RECORDS_PER_MONTH, date(2026, 10, 20)) == customers


def test_records_per_month_gives_a_month_of_about_that_many_records(tmp_path: Path) -> None:
    customers = customers_for_records(40_000, date(2026, 10, 1))
    summary = generate_landing(tmp_path, *OCTOBER, customers=customers, seed=3)
    assert 38_000 < summary.records < 42_000
    text = str(summary)  # a few lines for people, not the thousands of planted cases
    assert f"{summary.records:,} records" in text and len(text.splitlines()) == 4


def test_generate_command_sizes_by_records_per_month_or_customers_not_both(
    tmp_path: Path,
) -> None:
    from click.testing import CliRunner

    from channel_dw.cli import main

    where = tmp_path / "landing"
    args = ["generate", "--start", "2026-10-01", "--end", "2026-10-02", "--landing", str(where)]
    done = CliRunner().invoke(main, [*args, "--records-per-month", "50000"])
    assert done.exit_code == 0, done.output
    params = json.loads((where / "manifest.json").read_text(encoding="utf-8"))["params"]
    assert params["customers"] == customers_for_records(50_000, date(2026, 10, 1))
    both = CliRunner().invoke(main, [*args, "--records-per-month", "50000", "--customers", "900"])
    assert both.exit_code == 2 and "not both" in both.output
