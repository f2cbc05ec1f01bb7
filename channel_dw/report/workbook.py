"""The report as an Excel workbook, with native Excel charts (xlsxwriter).

Sheets: 概览 Summary (the capability index and its rank), one sheet per KPI group (regions as
rows; for each KPI the value, the previous month, the change, the target and whether it was met),
趋势 Trend (13 months of the e-channel share), 明细 Data (every row of the month in long form,
for pivot tables) and 数据质量 Data quality (the appendix).

On a KPI sheet, row 4 holds each block's key (``kpi_code`` or ``kpi_code/channel``) so that a
script can find a value without parsing the titles.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import xlsxwriter

from channel_dw.report.data import (
    DIMENSIONS,
    GROUP_CHART_KPI,
    GROUPS,
    TREND_KPI,
    ReportData,
    month_label,
)
from channel_dw.report.formatting import (
    EXCEL_CHANGE_FORMATS,
    EXCEL_FORMATS,
    change_for_excel,
    met_text,
)

KPI_SHEET_FIRST_DATA_ROW = 5  # 0-based: title, note, blank, names, keys, then sub-headers
BLOCK = ("本月 Value", "上月 Previous", "环比 Change", "目标 Target", "达标 Met")


def sheet_name(group: str) -> str:
    zh, en = next((zh, en) for code, zh, en in GROUPS if code == group)
    return f"{zh} {en.split(' ')[0]}"[:31]


def block_key(kpi_code: str, channel: str | None) -> str:
    return f"{kpi_code}/{channel}" if channel else kpi_code


class _Formats:
    def __init__(self, book: xlsxwriter.Workbook) -> None:
        self.title = book.add_format({"bold": True, "font_size": 16})
        self.note = book.add_format({"italic": True, "font_color": "#555555"})
        self.header = book.add_format(
            {
                "bold": True,
                "bg_color": "#1F4E79",
                "font_color": "white",
                "border": 1,
                "text_wrap": True,
                "valign": "vcenter",
                "align": "center",
            }
        )
        self.key = book.add_format({"font_color": "#888888", "font_size": 8, "align": "center"})
        self.text = book.add_format({"border": 1})
        self.province = book.add_format({"border": 1, "bold": True, "bg_color": "#DDEBF7"})
        self.met = book.add_format({"border": 1, "font_color": "#006100", "bg_color": "#C6EFCE"})
        self.missed = book.add_format({"border": 1, "font_color": "#9C0006", "bg_color": "#FFC7CE"})
        self._numbers: dict[tuple[str, bool], Any] = {}
        self._book = book

    def number(self, num_format: str, province: bool = False):
        key = (num_format, province)
        if key not in self._numbers:
            spec = {"num_format": num_format, "border": 1}
            if province:
                spec |= {"bold": True, "bg_color": "#DDEBF7"}
            self._numbers[key] = self._book.add_format(spec)
        return self._numbers[key]


def write_workbook(data: ReportData, path: Path) -> Path:
    book = xlsxwriter.Workbook(str(path), {"nan_inf_to_errors": True})
    formats = _Formats(book)
    _summary(book, formats, data)
    for group, _, _ in GROUPS:
        if data.kpi_columns(group):
            _kpi_sheet(book, formats, data, group)
    _trend(book, formats, data)
    _long_data(book, formats, data)
    _quality(book, formats, data)
    book.close()
    return path


def _title(sheet, formats: _Formats, data: ReportData, title: str, note: str) -> None:
    sheet.write(0, 0, f"{title} — {month_label(data.month)}", formats.title)
    sheet.write(1, 0, note, formats.note)


def _summary(book, formats: _Formats, data: ReportData) -> None:
    sheet = book.add_worksheet("概览 Summary")
    _title(
        sheet,
        formats,
        data,
        "电子渠道运营月报 E-channel operations report",
        f"Generated {data.generated_at:%Y-%m-%d %H:%M} from the channel mart (marts.kpi_monthly). "
        "Capability index 0–100: dimension scores against targets, weighted by the AHP weights.",
    )
    headers = [
        "排名 Rank",
        "地市 Region",
        "",
        *(f"{d}" for d in DIMENSIONS),
        "指数 Index",
        "上月 Previous",
        "环比 Change",
    ]
    sheet.write_row(3, 0, headers, formats.header)
    sheet.set_column(0, 0, 10)
    sheet.set_column(1, 1, 10)
    sheet.set_column(2, 2, 14)
    sheet.set_column(3, len(headers), 12)
    rows = data.index_order()
    ranked = [r for r in rows if r.code != "ALL"]
    for offset, region in enumerate(rows):
        row_no = 4 + offset
        item = data.index[region.code]
        province = region.code == "ALL"
        text = formats.province if province else formats.text
        number = formats.number("0.00", province)
        sheet.write(row_no, 0, item["index_rank"], text)
        sheet.write(row_no, 1, region.code, text)
        sheet.write(row_no, 2, region.name_zh if not province else "全省 Province", text)
        for k, dimension in enumerate(DIMENSIONS):
            sheet.write(row_no, 3 + k, item.get(f"{dimension}_score"), number)
        sheet.write(row_no, 8, item["capability_index"], number)
        sheet.write(row_no, 9, item.get("previous_index"), number)
        previous = item.get("previous_index")
        change = None if previous is None else item["capability_index"] - previous
        sheet.write(row_no, 10, change, formats.number("+0.00;-0.00;0.00", province))
    if ranked:
        chart = book.add_chart({"type": "column"})
        chart.add_series(
            {
                "name": "Capability index",
                "categories": ["概览 Summary", 4, 2, 3 + len(ranked), 2],
                "values": ["概览 Summary", 4, 8, 3 + len(ranked), 8],
                "data_labels": {"value": True, "num_format": "0.0"},
            }
        )
        chart.set_title({"name": f"渠道运营能力指数 Capability index {month_label(data.month)}"})
        chart.set_y_axis({"min": 0, "max": 100})
        chart.set_legend({"none": True})
        chart.set_size({"width": 760, "height": 340})
        sheet.insert_chart(6 + len(rows), 0, chart)


def _kpi_sheet(book, formats: _Formats, data: ReportData, group: str) -> None:
    name = sheet_name(group)
    sheet = book.add_worksheet(name)
    zh, en = next((zh, en) for code, zh, en in GROUPS if code == group)
    _title(
        sheet,
        formats,
        data,
        f"{zh} {en}",
        "Ratios in %; change against the previous month in percentage points (pp) for ratios. "
        "Rank: the region's rank on the capability index.",
    )
    columns = data.kpi_columns(group)
    sheet.merge_range(3, 0, 4, 0, "地市 Region", formats.header)
    sheet.merge_range(3, 1, 4, 1, "名称 Name", formats.header)
    sheet.merge_range(3, 2, 4, 2, "排名 Rank", formats.header)
    sheet.set_column(0, 2, 10)
    sheet.set_row(3, 45)
    for k, (kpi_code, channel) in enumerate(columns):
        first = 3 + k * len(BLOCK)
        definition = data.definition(kpi_code)
        title = f"{definition['kpi_name_zh']} {definition['kpi_name_en']}"
        if channel:
            title += f" · {channel}"
        sheet.merge_range(2, first, 2, first + len(BLOCK) - 1, title, formats.header)
        sheet.merge_range(
            3, first, 3, first + len(BLOCK) - 1, block_key(kpi_code, channel), formats.key
        )
        sheet.write_row(4, first, BLOCK, formats.header)
        sheet.set_column(first, first + len(BLOCK) - 1, 11)
    for offset, region in enumerate(data.regions):
        row_no = KPI_SHEET_FIRST_DATA_ROW + offset
        province = region.code == "ALL"
        text = formats.province if province else formats.text
        sheet.write(row_no, 0, region.code, text)
        sheet.write(row_no, 1, "全省 Province" if province else region.name_zh, text)
        rank = data.index.get(region.code, {}).get("index_rank")
        sheet.write(row_no, 2, rank, text)
        for k, (kpi_code, channel) in enumerate(columns):
            first = 3 + k * len(BLOCK)
            cell = data.cell(region.code, kpi_code, channel)
            unit = data.definition(kpi_code)["unit"]
            number = formats.number(EXCEL_FORMATS[unit], province)
            if cell is None:
                for c in range(len(BLOCK)):
                    sheet.write_blank(row_no, first + c, None, text)
                continue
            sheet.write(row_no, first, cell["value"], number)
            sheet.write(row_no, first + 1, cell["previous_value"], number)
            sheet.write(
                row_no,
                first + 2,
                change_for_excel(cell["change_vs_previous"], unit),
                formats.number(EXCEL_CHANGE_FORMATS[unit], province),
            )
            sheet.write(row_no, first + 3, cell["target"], number)
            met = cell["is_target_met"]
            sheet.write(
                row_no,
                first + 4,
                met_text(met),
                formats.met if met else formats.missed if met is False else text,
            )
    sheet.freeze_panes(KPI_SHEET_FIRST_DATA_ROW, 3)
    chart_row = KPI_SHEET_FIRST_DATA_ROW + len(data.regions) + 2
    if group == "channel_mix":
        _channel_mix_chart(book, sheet, name, data, columns, chart_row)
    elif (chart_kpi := GROUP_CHART_KPI.get(group)) and (chart_kpi, None) in columns:
        k = columns.index((chart_kpi, None))
        branches = [r for r in data.regions if r.code not in ("ALL", "UNKNOWN")]
        chart = book.add_chart({"type": "bar"})
        unit = data.definition(chart_kpi)["unit"]
        chart.add_series(
            {
                "name": data.definition(chart_kpi)["kpi_name_en"],
                "categories": [
                    name,
                    KPI_SHEET_FIRST_DATA_ROW,
                    1,
                    KPI_SHEET_FIRST_DATA_ROW + len(branches) - 1,
                    1,
                ],
                "values": [
                    name,
                    KPI_SHEET_FIRST_DATA_ROW,
                    3 + k * len(BLOCK),
                    KPI_SHEET_FIRST_DATA_ROW + len(branches) - 1,
                    3 + k * len(BLOCK),
                ],
                "data_labels": {"value": True, "num_format": EXCEL_FORMATS[unit]},
                "fill": {"color": "#2E75B6"},
            }
        )
        definition = data.definition(chart_kpi)
        chart.set_title({"name": f"{definition['kpi_name_zh']} {definition['kpi_name_en']}"})
        chart.set_x_axis({"num_format": EXCEL_FORMATS[unit]})
        chart.set_y_axis({"reverse": True})
        chart.set_legend({"none": True})
        chart.set_size({"width": 720, "height": 380})
        sheet.insert_chart(chart_row, 0, chart)


def _channel_mix_chart(book, sheet, name: str, data: ReportData, columns, chart_row: int) -> None:
    """Each e-channel's share of e-channel transactions, stacked per region."""
    chart = book.add_chart({"type": "bar", "subtype": "percent_stacked"})
    last = KPI_SHEET_FIRST_DATA_ROW + len(data.regions) - 1
    for k, (kpi_code, channel) in enumerate(columns):
        column = 3 + k * len(BLOCK)
        chart.add_series(
            {
                "name": channel or kpi_code,
                "categories": [name, KPI_SHEET_FIRST_DATA_ROW, 1, last, 1],
                "values": [name, KPI_SHEET_FIRST_DATA_ROW, column, last, column],
            }
        )
    chart.set_title({"name": "各电子渠道业务量分布 Channel distribution"})
    chart.set_y_axis({"reverse": True})
    chart.set_size({"width": 760, "height": 420})
    sheet.insert_chart(chart_row, 0, chart)


def _trend(book, formats: _Formats, data: ReportData) -> None:
    name = "趋势 Trend"
    sheet = book.add_worksheet(name)
    _title(
        sheet,
        formats,
        data,
        "电子渠道办理量占比 13 个月趋势 E-channel share of transactions",
        f"{TREND_KPI}: transactions on e-channels / all transactions, the last 13 months.",
    )
    regions = [r for r in data.regions if r.code != "UNKNOWN"]
    regions.sort(key=lambda r: r.code != "ALL")  # the province first
    sheet.write(3, 0, "月份 Month", formats.header)
    for k, region in enumerate(regions):
        label = "全省 Province" if region.code == "ALL" else region.name_zh
        sheet.write(3, 1 + k, label, formats.header)
    sheet.set_column(0, len(regions), 11)
    ratio = formats.number("0.0%")
    for offset, month in enumerate(data.trend_months):
        sheet.write(4 + offset, 0, month_label(month), formats.text)
        for k, region in enumerate(regions):
            sheet.write(4 + offset, 1 + k, data.trend.get(region.code, {}).get(month), ratio)
    last = 3 + len(data.trend_months)
    chart = book.add_chart({"type": "line"})
    for k, region in enumerate(regions):
        chart.add_series(
            {
                "name": [name, 3, 1 + k],
                "categories": [name, 4, 0, last, 0],
                "values": [name, 4, 1 + k, last, 1 + k],
                "line": {"width": 3.0 if region.code == "ALL" else 1.0},
                "marker": {"type": "circle" if region.code == "ALL" else "none"},
            }
        )
    chart.set_title({"name": "E-channel share, 13 months"})
    chart.set_y_axis({"num_format": "0%", "min": 0, "max": 1})
    chart.set_size({"width": 900, "height": 420})
    sheet.insert_chart(last + 2, 0, chart)


LONG_COLUMNS = (
    "month",
    "region_code",
    "region_name_zh",
    "report_group",
    "kpi_code",
    "kpi_name_en",
    "unit",
    "channel",
    "value",
    "numerator",
    "denominator",
    "previous_value",
    "change_vs_previous",
    "target",
    "higher_is_better",
    "is_target_met",
    "capability_index",
    "index_rank",
)


def _long_data(book, formats: _Formats, data: ReportData) -> None:
    sheet = book.add_worksheet("明细 Data")
    sheet.write_row(0, 0, LONG_COLUMNS, formats.header)
    date_format = formats.number("yyyy-mm-dd")
    for row_no, row in enumerate(data.kpis, start=1):
        for column, key in enumerate(LONG_COLUMNS):
            value = row[key]
            if key == "month":
                sheet.write_datetime(row_no, column, value, date_format)
            else:
                sheet.write(row_no, column, value)
    sheet.autofilter(0, 0, len(data.kpis), len(LONG_COLUMNS) - 1)
    sheet.freeze_panes(1, 0)
    sheet.set_column(0, len(LONG_COLUMNS) - 1, 14)


QUALITY_COLUMNS = (
    ("source", "来源 Source"),
    ("files_delivered", "交付文件 Files delivered"),
    ("files_loaded", "已加载 Loaded"),
    ("files_superseded", "被更正 Superseded"),
    ("files_skipped", "重复交付 Re-deliveries"),
    ("files_rejected", "拒收 Rejected"),
    ("files_unfinished", "未完成 Unfinished"),
    ("rows_read", "读取行 Rows read"),
    ("rows_loaded", "加载行 Rows loaded"),
    ("rows_quarantined", "隔离行 Rows quarantined"),
    ("checks_passed", "检查通过 Checks passed"),
    ("checks_failed", "检查失败 Checks failed"),
    ("checks_warned", "检查警告 Checks warned"),
)
ISSUE_COLUMNS = (
    ("source", "来源 Source"),
    ("issue_kind", "问题 Issue"),
    ("file_name", "文件 File"),
    ("rule_name", "规则 Rule"),
    ("occurrences", "次数 Rows"),
    ("first_line_no", "首行 First line"),
    ("example_message", "说明 Example"),
)


def _quality(book, formats: _Formats, data: ReportData) -> None:
    sheet = book.add_worksheet("数据质量 Data quality")
    _title(
        sheet,
        formats,
        data,
        "附录：数据质量 Appendix: data quality",
        "Files by the month of their business date. Rows quarantined and checks count the files "
        "in force (a corrected file replaces the one it supersedes).",
    )
    sheet.write_row(3, 0, [title for _, title in QUALITY_COLUMNS], formats.header)
    sheet.set_row(3, 45)
    totals = dict.fromkeys((key for key, _ in QUALITY_COLUMNS[1:]), 0)
    for offset, row in enumerate(data.quality):
        sheet.write_row(4 + offset, 0, [row[key] for key, _ in QUALITY_COLUMNS], formats.text)
        for key in totals:
            totals[key] += row[key]
    total_row = 4 + len(data.quality)
    sheet.write_row(total_row, 0, ["合计 Total", *totals.values()], formats.province)
    sheet.set_column(0, 0, 12)
    sheet.set_column(1, len(QUALITY_COLUMNS), 13)
    first = total_row + 3
    sheet.write(first - 1, 0, "拒收文件与隔离行 Rejected files and quarantined rows", formats.title)
    sheet.write_row(first, 0, [title for _, title in ISSUE_COLUMNS], formats.header)
    if not data.issues:
        sheet.write(first + 1, 0, "None this month. 本月无。", formats.note)
    for offset, row in enumerate(data.issues, start=1):
        sheet.write_row(first + offset, 0, [row[key] for key, _ in ISSUE_COLUMNS], formats.text)
    sheet.set_column(2, 2, 34)
    sheet.set_column(6, 6, 70)
