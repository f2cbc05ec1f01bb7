"""How many records a landing holds: each source's daily rate per customer, and the population
that gives a month of a wanted size (``channel-dw generate --records-per-month``).
"""

from __future__ import annotations

from datetime import date, timedelta

from channel_dw.generate import crm
from channel_dw.generate.clock import day_factor

# the seven sources, in the order each day is generated (landing.py)
SOURCES: tuple[str, ...] = ("crm", "web", "app", "hotline", "sms", "stores", "halls")
# records per customer and day
RATES: dict[str, float] = {
    "hotline": 0.07,
    "sms": 0.07,
    "app": 0.05,
    "web": 0.03,
    "halls": 0.012,
    "stores": 0.0008,
    "crm": crm.CHANGE_RATE,
}
# records written per record of RATES, beyond the rate itself (October 2026, 1.4 M customers):
# web retries and registrations, app registrations, store orders reappearing with a new status,
# hall openings and pickups
EXTRA_RECORDS: dict[str, float] = {"web": 1.05, "app": 1.05, "stores": 1.8, "halls": 1.02}
PROVINCE_RECORDS_PER_MONTH = 10_000_000  # web, app, hotline, sms, halls, stores and crm together


def month_of(day: date) -> tuple[date, int]:
    """The first day of ``day``'s calendar month and the number of days in it."""
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return first, (following - first).days


def records_per_customer(start: date, days: int) -> float:
    """Records one customer brings to a landing of ``days`` days from ``start``, on average.

    The first CRM file is a full snapshot (one row per customer, those opened in the window
    arrive in the deltas instead), then every source's daily rate (:data:`RATES`) with its weekday
    and holiday factors and the records that come with them (:data:`EXTRA_RECORDS`).
    """
    daily = sum(
        RATES[source]
        * EXTRA_RECORDS.get(source, 1.0)
        * day_factor(source, start + timedelta(days=d))
        for source in SOURCES
        for d in range(days)
    )
    return 1.0 + daily


def customers_for_records(records_per_month: int, start: date) -> int:
    """The population whose landing for the calendar month of ``start`` holds about
    ``records_per_month`` records across the seven sources (the CRM snapshot included).

    October 2026 brings about 8.3 records per customer, so a province's 10 million records a
    month take about 1.2 million customers.
    """
    first, days = month_of(start)
    return max(20, round(records_per_month / records_per_customer(first, days)))
