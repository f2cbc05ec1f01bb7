"""The report as one self-contained HTML page: inline CSS and SVG charts, nothing fetched."""

from __future__ import annotations

from pathlib import Path

import jinja2

from channel_dw.report import charts
from channel_dw.report.data import (
    DIMENSIONS,
    GROUP_CHART_KPI,
    GROUPS,
    ReportData,
    month_label,
    shift_month,
)
from channel_dw.report.formatting import change_text, met_text, value_text
from channel_dw.report.workbook import ISSUE_COLUMNS, QUALITY_COLUMNS, block_key

HEADLINE_KPIS = (
    "echannel_txn_share",
    "echannel_penetration",
    "self_service_offload_rate",
    "echannel_satisfaction",
)

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def _change_class(change: float | None, higher_is_better: bool | None) -> str:
    if not change:
        return ""
    better = change > 0 if higher_is_better is not False else change < 0
    return "up" if better else "down"


def _met_class(met: bool | None) -> str:
    return {True: "met", False: "missed"}.get(met, "")


def _region_label(data: ReportData, code: str) -> str:
    region = next(r for r in data.regions if r.code == code)
    return "全省 Province" if code == "ALL" else f"{region.name_zh} {region.code}"


def _group(data: ReportData, code: str, zh: str, en: str) -> dict:
    columns = data.kpi_columns(code)
    header = []
    for kpi_code, channel in columns:
        definition = data.definition(kpi_code)
        title = f"{definition['kpi_name_zh']} {definition['kpi_name_en']}"
        header.append(
            {
                "title": f"{title} · {channel}" if channel else title,
                "key": block_key(kpi_code, channel),
            }
        )
    rows = []
    for region in data.regions:
        cells = []
        for kpi_code, channel in columns:
            cell = data.cell(region.code, kpi_code, channel) or {}
            unit = data.definition(kpi_code)["unit"]
            cells.append(
                {
                    "key": block_key(kpi_code, channel),
                    "value": value_text(cell.get("value"), unit),
                    "change": change_text(cell.get("change_vs_previous"), unit),
                    "change_class": _change_class(
                        cell.get("change_vs_previous"), cell.get("higher_is_better")
                    ),
                    "target": value_text(cell.get("target"), unit) if cell.get("target") else "–",
                    "met": met_text(cell.get("is_target_met")) if cell else "",
                    "met_class": _met_class(cell.get("is_target_met")),
                }
            )
        rows.append(
            {
                "label": _region_label(data, region.code),
                "province": region.code == "ALL",
                "rank": data.index.get(region.code, {}).get("index_rank") or "",
                "cells": cells,
            }
        )
    chart = ""
    kpi_code = GROUP_CHART_KPI.get(code)
    if kpi_code and (kpi_code, None) in columns and kpi_code != "self_service_offload_rate":
        chart = _by_region_chart(data, kpi_code, f"chart-{code}")
    return {"code": code, "title": f"{zh} {en}", "columns": header, "rows": rows, "chart": chart}


def _by_region_chart(data: ReportData, kpi_code: str, kind: str) -> str:
    definition = data.definition(kpi_code)
    unit = definition["unit"]
    branches = [r for r in data.regions if r.code not in ("ALL", "UNKNOWN")]
    province = data.cell("ALL", kpi_code, None) or {}
    items = [(r.name_zh, (data.cell(r.code, kpi_code, None) or {}).get("value")) for r in branches]
    items.append(("全省 Province", province.get("value")))
    return charts.bar_chart(
        kind,
        f"{definition['kpi_name_zh']} {definition['kpi_name_en']} · {month_label(data.month)}",
        items,
        lambda v: value_text(v, unit),
        target=province.get("target"),
    )


def _channel_chart(data: ReportData) -> str:
    rows = []
    for region in data.regions:
        parts = [
            (channel, cell["value"])
            for kpi_code, channel in data.kpi_columns("channel_mix")
            if (cell := data.cell(region.code, kpi_code, channel)) and cell["value"]
        ]
        if parts:
            rows.append((_region_label(data, region.code), parts))
    return charts.stacked_bars(
        "channel-distribution",
        "各电子渠道业务量分布 Channel distribution of e-channel transactions",
        rows,
    )


def _trend_chart(data: ReportData) -> str:
    labels = [month_label(m)[2:] for m in data.trend_months]
    province = [data.trend.get("ALL", {}).get(m) for m in data.trend_months]
    series = [("全省 Province", province, True)]
    for region in data.regions:
        if region.code not in ("ALL", "UNKNOWN") and region.code in data.trend:
            points = [data.trend[region.code].get(m) for m in data.trend_months]
            series.append((region.name_zh, points, False))
    return charts.line_chart(
        "echannel-share-trend",
        "电子渠道办理量占比 E-channel share of transactions, 13 months",
        labels,
        series,
        lambda v: value_text(v, "ratio"),
    )


def _index_rows(data: ReportData) -> list[dict]:
    rows = []
    for region in data.index_order():
        item = data.index[region.code]
        previous = item.get("previous_index")
        change = None if previous is None else item["capability_index"] - previous
        rows.append(
            {
                "province": region.code == "ALL",
                "rank": item["index_rank"] or "",
                "label": _region_label(data, region.code),
                "scores": [
                    "–" if item.get(f"{d}_score") is None else f"{item[f'{d}_score']:.1f}"
                    for d in DIMENSIONS
                ],
                "index": f"{item['capability_index']:.1f}",
                "previous": "–" if previous is None else f"{previous:.1f}",
                "change": "–" if change is None else f"{change:+.1f}",
                "change_class": _change_class(change, True),
            }
        )
    return rows


def _index_chart(data: ReportData) -> str:
    items = [
        (_region_label(data, r.code), data.index[r.code]["capability_index"])
        for r in data.index_order()
    ]
    return charts.bar_chart(
        "capability-index",
        f"渠道运营能力指数 Capability index · {month_label(data.month)}",
        items,
        lambda v: f"{v:.1f}",
    )


def _quality_rows(data: ReportData) -> list[list]:
    rows = [[row[key] for key, _ in QUALITY_COLUMNS] for row in data.quality]
    totals = ["合计 Total", *(sum(row[k] for row in rows) for k in range(1, len(QUALITY_COLUMNS)))]
    return [*rows, totals]


def trust_sentence(data: ReportData) -> str:
    total = {key: sum(row[key] for row in data.quality) for key, _ in QUALITY_COLUMNS[1:]}
    return (
        f"{total['files_loaded']} files loaded, {total['files_rejected']} rejected, "
        f"{total['rows_quarantined']:,} of {total['rows_read']:,} rows quarantined, "
        f"{total['checks_failed']} critical checks failed and {total['checks_warned']} warned."
    )


def render_html(data: ReportData) -> str:
    headline = []
    for kpi_code in HEADLINE_KPIS:
        cell = data.cell("ALL", kpi_code, None)
        if cell:
            headline.append(
                {
                    "name": f"{cell['kpi_name_zh']} {cell['kpi_name_en']}",
                    "value": value_text(cell["value"], cell["unit"]),
                    "change": change_text(cell["change_vs_previous"], cell["unit"]),
                    "target": value_text(cell["target"], cell["unit"]) if cell["target"] else "–",
                    "met": met_text(cell["is_target_met"]),
                }
            )
    return _env.get_template("report.html.j2").render(
        month=month_label(data.month),
        previous_month=month_label(shift_month(data.month, -1)),
        generated_at=f"{data.generated_at:%Y-%m-%d %H:%M}",
        headline=headline,
        trust=trust_sentence(data),
        dimensions=DIMENSIONS,
        index_rows=_index_rows(data),
        index_chart=_index_chart(data) if data.index else "",
        channel_chart=_channel_chart(data),
        trend_chart=_trend_chart(data),
        offload_chart=_by_region_chart(data, "self_service_offload_rate", "offload-by-region")
        if data.cell("ALL", "self_service_offload_rate", None)
        else "",
        groups=[_group(data, code, zh, en) for code, zh, en in GROUPS if data.kpi_columns(code)],
        quality_titles=[title for _, title in QUALITY_COLUMNS],
        quality_rows=_quality_rows(data),
        issue_titles=[title for _, title in ISSUE_COLUMNS],
        issues=[[row[key] for key, _ in ISSUE_COLUMNS] for row in data.issues],
    )


def write_html(data: ReportData, path: Path) -> Path:
    path.write_text(render_html(data), encoding="utf-8")
    return path
