"""How the report writes numbers, the same in the workbook and on the HTML page."""

from __future__ import annotations

# Excel number formats per unit of seed kpi_definitions (ratios are stored as fractions).
EXCEL_FORMATS = {
    "ratio": "0.0%",
    "count": "#,##0",
    "yuan": "#,##0.00",
    "seconds": "0.0",
    "per_10k": "0.0",
}
# The change against the previous month: ratios in percentage points.
EXCEL_CHANGE_FORMATS = {
    "ratio": '+0.0" pp";-0.0" pp";0.0" pp"',
    "count": "+#,##0;-#,##0;0",
    "yuan": "+#,##0.00;-#,##0.00;0.00",
    "seconds": "+0.0;-0.0;0.0",
    "per_10k": "+0.0;-0.0;0.0",
}


def value_text(value: float | None, unit: str) -> str:
    if value is None:
        return "–"
    if unit == "ratio":
        return f"{value * 100:.1f}%"
    if unit == "count":
        return f"{value:,.0f}"
    if unit == "yuan":
        return f"¥{value:,.2f}"
    return f"{value:,.1f}"


def change_text(change: float | None, unit: str) -> str:
    if change is None:
        return "–"
    if unit == "ratio":
        return f"{change * 100:+.1f} pp"
    if unit == "count":
        return f"{change:+,.0f}"
    if unit == "yuan":
        return f"{change:+,.2f}"
    return f"{change:+,.1f}"


def change_for_excel(change: float | None, unit: str) -> float | None:
    """Excel shows ratio changes in percentage points (its format cannot scale by 100)."""
    if change is None:
        return None
    return change * 100 if unit == "ratio" else change


def met_text(is_met: bool | None) -> str:
    return {True: "✓ met 达标", False: "✗ not met 未达标"}.get(is_met, "no target")
