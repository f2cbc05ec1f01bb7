"""What the monthly report shows, read from the marts (the numbers are computed in dbt).

One query per part of the report: the month's KPI rows (``marts.kpi_monthly_report``, which is
``kpi_monthly`` with names, previous month, target and rank), the capability index of the month
and the one before, the 13-month trend of the e-channel share, and the data-quality appendix.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from psycopg2.extras import RealDictCursor

log = logging.getLogger(__name__)

# The report's sheets and sections, in order: (report_group of seed kpi_definitions, title).
GROUPS: tuple[tuple[str, str, str], ...] = (
    ("reach", "规模与普及", "Reach and volume"),
    ("efficiency", "效率与分流", "Efficiency and offload"),
    ("experience", "服务与体验", "Service and experience"),
    ("sales", "交费、销售与转化", "Payment, sales and conversion"),
    ("channel_mix", "渠道分布", "Channel distribution"),
)

# The KPI each group's chart shows by region.
GROUP_CHART_KPI = {
    "reach": "echannel_txn_share",
    "efficiency": "self_service_offload_rate",
    "experience": "echannel_satisfaction",
    "sales": "epayment_amount",
}

TREND_KPI = "echannel_txn_share"
TREND_MONTHS = 13
DIMENSIONS = ("reach", "efficiency", "experience", "marketing", "synergy")


class ReportError(Exception):
    """The report cannot be written for this month (the message says why and what to do)."""


@dataclass(frozen=True)
class Region:
    code: str
    name_zh: str
    name_en: str

    @property
    def label(self) -> str:
        return f"{self.name_zh} {self.name_en}"


@dataclass
class ReportData:
    month: date
    regions: list[Region]  # as rows: branches in their usual order, UNKNOWN, then ALL
    kpis: list[dict[str, Any]]  # the month's rows of marts.kpi_monthly_report
    index: dict[str, dict[str, Any]]  # region_code -> capability index row (with previous_index)
    trend_months: list[date]
    trend: dict[str, dict[date, float]]  # region_code -> month -> e-channel share
    quality: list[dict[str, Any]]  # marts.data_quality_monthly rows of the month, per source
    issues: list[dict[str, Any]]  # marts.data_quality_issues rows of the month
    generated_at: datetime = field(default_factory=datetime.now)

    def kpi_columns(self, group: str) -> list[tuple[str, str | None]]:
        """The (kpi_code, channel) pairs of a group, in the report's order."""
        seen: dict[tuple[str, str | None], tuple[int, str]] = {}
        for row in self.kpis:
            if row["report_group"] == group:
                key = (row["kpi_code"], row["channel"])
                seen[key] = (row["display_order"], row["channel"] or "")
        return sorted(seen, key=lambda key: seen[key])

    def cell(self, region_code: str, kpi_code: str, channel: str | None) -> dict[str, Any] | None:
        return self._by_key.get((region_code, kpi_code, channel))

    def definition(self, kpi_code: str) -> dict[str, Any]:
        return next(row for row in self.kpis if row["kpi_code"] == kpi_code)

    def index_order(self) -> list[Region]:
        """The regions with a capability index by rank, then the province."""
        ranked = sorted(
            (r for r in self.regions if r.code in self.index and r.code != "ALL"),
            key=lambda r: (self.index[r.code]["index_rank"] or 99, r.code),
        )
        return ranked + [r for r in self.regions if r.code == "ALL" and "ALL" in self.index]

    def __post_init__(self) -> None:
        self._by_key = {(r["region_code"], r["kpi_code"], r["channel"]): r for r in self.kpis}


def month_label(month: date) -> str:
    return month.strftime("%Y-%m")


def shift_month(month: date, months: int) -> date:
    """The first day of the month ``months`` after (or, negative, before) ``month``'s."""
    index = month.year * 12 + month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: float(v) if isinstance(v, Decimal) else v for k, v in row.items()}


def _query(conn, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    with conn.cursor(cursor_factory=RealDictCursor) as cur:
        cur.execute(sql, params)
        return [_plain(row) for row in cur.fetchall()]


def available_months(conn) -> list[date]:
    rows = _query(conn, "select distinct month from marts.kpi_monthly order by month", {})
    return [row["month"] for row in rows]


def load(conn, month: date) -> ReportData:
    """Reads everything the report for ``month`` (first day) shows."""
    month = month.replace(day=1)
    try:
        months = available_months(conn)
    except Exception as exc:  # psycopg2.errors.UndefinedTable and friends
        raise ReportError(
            "the KPI tables are not there (marts.kpi_monthly could not be read: "
            f"{str(exc).strip().splitlines()[0]}). Build the mart first: `channel-dw dbt build`."
        ) from exc
    if month not in months:
        held = (
            f"it holds {month_label(months[0])} to {month_label(months[-1])}"
            if months
            else "it is empty"
        )
        raise ReportError(
            f"marts.kpi_monthly has no rows for {month_label(month)} ({held}). Load that month's "
            "export files and build the mart first (`channel-dw ingest`, then "
            "`channel-dw dbt build`), or pick another month."
        )
    params = {
        "month": month,
        "previous": shift_month(month, -1),
        "trend_from": shift_month(month, -(TREND_MONTHS - 1)),
    }
    kpis = _query(
        conn,
        """
        select * from marts.kpi_monthly_report
        where month = %(month)s
        order by report_group, display_order, kpi_code, channel nulls first, region_order
        """,
        params,
    )
    regions = [
        Region(code, zh, en)
        for code, zh, en, _ in sorted(
            {
                (r["region_code"], r["region_name_zh"], r["region_name_en"], r["region_order"])
                for r in kpis
            },
            key=lambda region: (region[3], region[0]),
        )
    ]
    index_rows = _query(
        conn,
        """
        select
            this.*,
            previous.capability_index as previous_index,
            previous.index_rank as previous_rank
        from marts.kpi_capability_index as this
        left join marts.kpi_capability_index as previous
            on previous.region_code = this.region_code and previous.month = %(previous)s
        where this.month = %(month)s
        """,
        params,
    )
    trend_rows = _query(
        conn,
        """
        select month, region_code, value
        from marts.kpi_monthly
        where kpi_code = 'echannel_txn_share' and month between %(trend_from)s and %(month)s
        """,
        params,
    )
    trend: dict[str, dict[date, float]] = {}
    for row in trend_rows:
        trend.setdefault(row["region_code"], {})[row["month"]] = row["value"]
    quality = _query(
        conn,
        "select * from marts.data_quality_monthly where month = %(month)s order by source",
        params,
    )
    issues = _query(
        conn,
        """
        select * from marts.data_quality_issues where month = %(month)s
        order by source, issue_kind, file_name, rule_name
        """,
        params,
    )
    log.info("report data for %s: %d KPI rows", month_label(month), len(kpis))
    return ReportData(
        month=month,
        regions=regions,
        kpis=kpis,
        index={row["region_code"]: row for row in index_rows},
        trend_months=[shift_month(month, -k) for k in range(TREND_MONTHS - 1, -1, -1)],
        trend=trend,
        quality=quality,
        issues=issues,
    )
