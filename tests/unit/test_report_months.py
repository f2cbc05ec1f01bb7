"""Which month a report run reports, and the month arithmetic behind it."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from channel_dw.orchestration.report import last_day, month_to_report, parse_month
from channel_dw.report.data import shift_month


def test_shift_month_crosses_years_both_ways():
    assert shift_month(date(2026, 12, 1), 1) == date(2027, 1, 1)
    assert shift_month(date(2026, 1, 1), -1) == date(2025, 12, 1)
    assert shift_month(date(2026, 10, 1), -12) == date(2025, 10, 1)


def test_last_day_of_a_month():
    assert last_day(date(2026, 2, 1)) == date(2026, 2, 28)
    assert last_day(date(2028, 2, 1)) == date(2028, 2, 29)
    assert last_day(date(2026, 12, 1)) == date(2026, 12, 31)


def test_a_run_reports_the_month_before_its_time_in_shanghai():
    # 1 November 06:00 in Shanghai is 31 October 22:00 UTC: the run still reports October
    assert month_to_report(None, datetime(2026, 10, 31, 22, 0, tzinfo=UTC)) == date(2026, 10, 1)
    assert month_to_report(None, datetime(2027, 1, 1, 0, 0, tzinfo=UTC)) == date(2026, 12, 1)
    assert month_to_report("2026-07", datetime(2027, 1, 1, tzinfo=UTC)) == date(2026, 7, 1)


def test_a_month_that_is_not_yyyy_mm_is_refused_by_name():
    with pytest.raises(ValueError, match="'10/2026' is not a month like 2026-10"):
        parse_month("10/2026")
