"""The monthly report on a real mart: the workbook read back equals marts.kpi_monthly, the HTML
page renders in headless Chromium with its charts, and the report DAG writes a closed month.

One build, shared with test_bi (``report_mart``, tests/integration/conftest.py): 25 September to
5 October for 200 customers, so October's report has a previous month to compare with; September
has closed (its last day loaded), October has not.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import zipfile
from datetime import date
from pathlib import Path

import openpyxl
import psycopg2
import pytest
from psycopg2.extras import RealDictCursor

from channel_dw.config import settings
from channel_dw.orchestration.report import (
    MonthNotClosedError,
    check_month_closed,
    write_monthly_report,
)
from channel_dw.report.workbook import BLOCK, KPI_SHEET_FIRST_DATA_ROW, LONG_COLUMNS, sheet_name
from tests.airflow_cache import seed_airflow_metadata, without_airflow_settings
from tests.browser import browser_page, screenshot_dir
from tests.integration.test_mart import use_database

pytestmark = [pytest.mark.integration, pytest.mark.minutes(3)]

CLI = str(Path(sys.executable).with_name("channel-dw"))
OCTOBER = date(2026, 10, 1)
SEPTEMBER = date(2026, 9, 1)


@pytest.fixture(scope="module")
def built(report_mart):
    """The environment pointed at the report mart (tests/integration/conftest.py): a build of
    25 September to 5 October for 200 customers, made once for this module and test_bi."""
    url, home = report_mart
    with pytest.MonkeyPatch.context() as mp:
        use_database(mp, url, home)
        mp.setenv("DW_REPORTS", str(home / "reports"))
        yield settings()


@pytest.fixture(scope="module")
def october(built):
    return write_monthly_report(OCTOBER)


def rows(s, sql: str, params=()) -> list[dict]:
    with contextlib.closing(psycopg2.connect(s.database_url)) as conn:
        with conn.cursor(cursor_factory=RealDictCursor) as cur:
            cur.execute(sql, params)
            return [dict(r) for r in cur.fetchall()]


def kpi_rows(s, month: date) -> dict[tuple, dict]:
    return {
        (r["region_code"], r["kpi_code"], r["channel"]): r
        for r in rows(s, "select * from marts.kpi_monthly where month = %s", (month,))
    }


def close(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(float(a) - float(b)) < 1e-9


def test_every_value_in_the_workbook_equals_kpi_monthly(built, october):
    this_month, last_month = kpi_rows(built, OCTOBER), kpi_rows(built, SEPTEMBER)
    targets = {
        r["kpi_code"]: r["target"]
        for r in rows(built, "select * from reference.kpi_targets where month is null")
    }
    ratios = {
        r["kpi_code"]
        for r in rows(built, "select kpi_code from reference.kpi_definitions where unit = 'ratio'")
    }
    book = openpyxl.load_workbook(october.workbook, read_only=False)
    checked = 0
    for group in ("reach", "efficiency", "experience", "sales", "channel_mix"):
        sheet = book[sheet_name(group)]
        # row 4 (1-based) holds each block's key: kpi_code or kpi_code/channel
        keys = {
            column: sheet.cell(4, column).value
            for column in range(4, sheet.max_column + 1, len(BLOCK))
            if sheet.cell(4, column).value
        }
        assert keys, f"sheet {sheet.title} has no KPI blocks"
        for row in range(KPI_SHEET_FIRST_DATA_ROW + 1, sheet.max_row + 1):
            region = sheet.cell(row, 1).value
            if region is None:
                break
            for column, key in keys.items():
                kpi_code, _, channel = key.partition("/")
                expected = this_month.get((region, kpi_code, channel or None))
                value, previous, change, target, met = (
                    sheet.cell(row, column + k).value for k in range(len(BLOCK))
                )
                if expected is None:
                    assert value is None, (region, key)
                    continue
                assert close(value, expected["value"]), (region, key, value, expected["value"])
                before = last_month.get((region, kpi_code, channel or None))
                assert close(previous, before and before["value"]), (region, key)
                if before is not None:
                    scale = 100 if kpi_code in ratios else 1  # ratios: change in pp
                    assert close(change, scale * (expected["value"] - before["value"])), key
                assert close(target, targets.get(kpi_code)), (key, target)
                if targets.get(kpi_code) is None:
                    assert met == "no target"
                checked += 1
    assert checked == len(this_month)  # every row of kpi_monthly is on a sheet, once


def test_the_data_sheet_holds_the_month_of_kpi_monthly_row_for_row(built, october):
    sheet = openpyxl.load_workbook(october.workbook)["明细 Data"]
    header = [c.value for c in sheet[1]]
    assert tuple(header) == LONG_COLUMNS
    expected = kpi_rows(built, OCTOBER)
    seen = {}
    for line in sheet.iter_rows(min_row=2, values_only=True):
        row = dict(zip(header, line, strict=True))
        seen[(row["region_code"], row["kpi_code"], row["channel"])] = row
    assert seen.keys() == expected.keys()
    for key, row in seen.items():
        for column in ("value", "numerator", "denominator"):
            assert close(row[column], expected[key][column]), (key, column)


def test_the_summary_ranks_the_regions_on_the_capability_index(built, october):
    index = {
        r["region_code"]: r
        for r in rows(
            built, "select * from marts.kpi_capability_index where month = %s", (OCTOBER,)
        )
    }
    sheet = openpyxl.load_workbook(october.workbook)["概览 Summary"]
    ranks = {}
    for rank, region, _, *rest in sheet.iter_rows(min_row=5, values_only=True):
        if region is None:
            break
        ranks[region] = rank
        assert close(rest[5], index[region]["capability_index"]), region
    assert ranks == {code: r["index_rank"] for code, r in index.items()}
    assert sorted(r for code, r in ranks.items() if code != "ALL") == list(range(1, 12))


def test_the_workbook_has_native_charts_and_the_quality_appendix(built, october):
    with zipfile.ZipFile(october.workbook) as xlsx:
        charts = [n for n in xlsx.namelist() if n.startswith("xl/charts/chart")]
        kinds = " ".join(xlsx.read(n).decode() for n in charts)
    # the index, four KPI groups, the channel distribution and the trend
    assert len(charts) == 7
    assert "<c:lineChart>" in kinds and "<c:barChart>" in kinds
    sheet = openpyxl.load_workbook(october.workbook)["数据质量 Data quality"]
    table = list(sheet.iter_rows(min_row=5, values_only=True))
    total = next(row for row in table if row[0] == "合计 Total")
    ledger = rows(
        built,
        """
        select count(*) as files, count(*) filter (where status = 'rejected') as rejected,
               coalesce(sum(rows_quarantined) filter (where status = 'loaded'), 0) as quarantined
        from audit.file_ledger where business_date >= %s and business_date < %s
        """,
        (OCTOBER, date(2026, 11, 1)),
    )[0]
    assert (total[1], total[5], total[9]) == (
        ledger["files"],
        ledger["rejected"],
        ledger["quarantined"],
    )


def test_html_report_renders_in_headless_chromium_with_its_charts(built, october):
    requests: list[str] = []
    with browser_page(width=1400, height=1000) as page:
        page.on("request", lambda request: requests.append(request.url))
        page.goto(Path(october.html).as_uri())
        charts = page.eval_on_selector_all(
            "svg.chart",
            "nodes => nodes.map(n => [n.dataset.chart, n.getBoundingClientRect().width,"
            " n.querySelectorAll('rect.bar, polyline.series').length])",
        )
        shot = screenshot_dir() / "report-2026-10.png"
        page.screenshot(path=str(shot), full_page=True)
        share = page.inner_text('#group-reach td[data-key="echannel_txn_share"] >> nth=-1')
        title = page.title()
    kinds = {kind: (width, marks) for kind, width, marks in charts}
    for kind in (
        "capability-index",
        "channel-distribution",
        "echannel-share-trend",
        "offload-by-region",
    ):
        assert kind in kinds, f"chart {kind} missing: {sorted(kinds)}"
        width, marks = kinds[kind]
        assert width > 300 and marks > 0, (kind, width, marks)
    assert "2026-10" in title
    province = kpi_rows(built, OCTOBER)[("ALL", "echannel_txn_share", None)]["value"]
    assert share == f"{float(province) * 100:.1f}%"  # the province row, as on the workbook
    assert [url for url in requests if not url.startswith("file:")] == []  # self-contained
    assert shot.stat().st_size > 50_000
    print(f"screenshot: {shot}")


def test_the_month_closes_when_every_source_has_loaded_its_last_day(built):
    check_month_closed(SEPTEMBER)  # 30 September loaded from every source
    with pytest.raises(MonthNotClosedError) as raised:
        check_month_closed(OCTOBER)
    message = str(raised.value)
    assert "2026-10 has not closed: no file for 2026-10-31" in message
    assert "web" in message and "crm" in message


def test_report_dag_writes_the_closed_month_and_skips_an_open_one(built):
    env = without_airflow_settings()
    seed_airflow_metadata(settings(), env)
    reports = Path(os.environ["DW_REPORTS"])
    september = reports / "channel-report-2026-09.xlsx"
    for path in reports.glob("channel-report-*"):
        path.unlink()

    def run_report_dag(day: str) -> str:
        done = subprocess.run(
            [CLI, "airflow", "dags", "test", "channel_monthly_report", day],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
        return done.stdout + done.stderr

    run_report_dag("2026-10-01")
    assert september.exists() and (reports / "channel-report-2026-09.html").exists()

    output = run_report_dag("2026-11-01")
    assert "2026-10 has not closed" in output  # the gate skipped the run and said why
    assert not list(reports.glob("channel-report-2026-10*"))


def test_report_command_names_the_months_it_can_write(built):
    done = subprocess.run(
        [CLI, "report", "--month", "2026-08"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
    )
    assert done.returncode == 1
    assert "no rows for 2026-08 (it holds 2026-09 to 2026-10)" in done.stderr
