"""The store order file's contract columns and one sheet row's rules: the per-record path.

:mod:`channel_dw.sources.stores` reads the workbook. Both its paths use these: openpyxl's rows
(:func:`~channel_dw.sources.stores.read_rows`) go through :func:`_item` one by one, and the rows
the columnar path cannot clear are read back from the sheet XML and go through it too. Its rules
are the table of the stores module.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from channel_dw.errors import FileRejected
from channel_dw.sources._delimited import RowChecks, header_problems, two_decimals
from channel_dw.sources.base import Item, Row

COLUMNS = (
    "platform",
    "order_no",
    "buyer_account",
    "phone",
    "created_time",
    "paid_time",
    "item",
    "sku",
    "quantity",
    "amount_yuan",
    "status",
    "member_id",
    "pickup_hall",
)

# Each platform's header name for the raw columns after "platform", in the raw column order.
PLATFORM_HEADERS: dict[str, tuple[str, ...]] = {
    "taobao": (
        "订单编号",
        "买家会员名",
        "买家手机",
        "下单时间",
        "付款时间",
        "宝贝标题",
        "商家编码",
        "数量",
        "实付金额",
        "订单状态",
        "会员号",
        "自提门店",
    ),
    "jd": (
        "订单号",
        "用户账号",
        "联系电话",
        "下单时间",
        "支付时间",
        "商品名称",
        "SKU",
        "购买数量",
        "应付金额",
        "订单状态",
        "会员编号",
        "门店自提",
    ),
    "meituan": (
        "订单ID",
        "用户ID",
        "手机号",
        "创建时间",
        "支付时间",
        "商品",
        "商品编码",
        "份数",
        "实付(元)",
        "状态",
        "会员卡号",
        "到店门店",
    ),
}

STATUSES: dict[str, tuple[str, ...]] = {
    "taobao": ("已付款", "交易成功", "交易关闭", "退款成功"),
    "jd": ("等待收货", "已完成", "已取消", "退款"),
    "meituan": ("已支付", "已完成", "已取消", "已退款"),
}

SKU_PREFIXES = ("DEV-", "SIM-", "BB-", "TOPUP-", "DATA-")

_WHOLE_NUMBER = re.compile(r"\d+", re.ASCII)


@dataclass(frozen=True, slots=True)
class _Cell:
    """One contract cell of a row: the platform's header name (for messages) and the cell value."""

    name: str
    value: Any


def _item(line: int, values: Sequence[Any], platform: str, positions: list[int]) -> Item:
    """The row or rejection of one non-blank sheet row after the header."""
    cells = {
        column: _Cell(name, values[i] if i < len(values) else None)
        for column, name, i in zip(COLUMNS[1:], PLATFORM_HEADERS[platform], positions, strict=True)
    }
    checks = RowChecks()
    order = _order_values(cells, STATUSES[platform], checks)
    if checks.problems:
        return checks.rejection(line, _row_text(values))
    return Row(line, (platform, *order))


def _order_values(
    cells: dict[str, _Cell], statuses: tuple[str, ...], checks: RowChecks
) -> tuple[str | None, ...]:
    """The raw values of one order (every column but platform), checking the row rules in the
    order: what identifies the order, what classifies it, the rest."""
    values = {column: _text(cell.value) for column, cell in cells.items()}
    order_no, status, sku, phone, hall = (
        cells[c] for c in ("order_no", "status", "sku", "phone", "pickup_hall")
    )
    checks.present(order_no.name, values["order_no"])
    checks.code(status.name, values["status"], statuses, required=True)
    values["created_time"] = _time_text(cells["created_time"], checks, required=True)
    values["paid_time"] = _time_text(cells["paid_time"], checks, required=False)
    sku_text = values["sku"]
    if checks.present(sku.name, sku_text) and not sku_text.startswith(SKU_PREFIXES):
        checks.fail(
            "unknown_code",
            f"{sku.name} {sku_text!r} does not start with one of {', '.join(SKU_PREFIXES)}",
        )
    values["amount_yuan"] = _amount_text(cells["amount_yuan"], checks)
    values["quantity"] = _quantity_text(cells["quantity"], checks)
    checks.mobile_or_masked(phone.name, values["phone"], required=False)
    checks.hall_code(hall.name, values["pickup_hall"], required=False)
    return tuple(values[column] for column in COLUMNS[1:])


def _text(value: Any) -> str | None:
    """Any cell value as text: numbers without a spurious ``.0``, datetimes as local time."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return _datetime_text(value)
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


def _time_text(cell: _Cell, checks: RowChecks, *, required: bool) -> str | None:
    """A text time as delivered (checked), an Excel datetime as ``YYYY-MM-DD HH:MM:SS``."""
    if isinstance(cell.value, datetime):
        return _datetime_text(cell.value)
    text = _text(cell.value)
    checks.timestamp(cell.name, text, required=required)
    return text


def _datetime_text(value: datetime) -> str:
    """Excel keeps times as fractions of a day; round to the nearest second, as Excel shows it."""
    if value.microsecond >= 500_000:
        value += timedelta(seconds=1)
    return value.strftime("%Y-%m-%d %H:%M:%S")


def _amount_text(cell: _Cell, checks: RowChecks) -> str | None:
    """A text amount as delivered (checked as yuan); a number as text with two decimals."""
    value = cell.value
    if isinstance(value, int | float) and not isinstance(value, bool):
        text = two_decimals(value)
        if text is None:
            checks.fail("bad_amount", f"{cell.name} {value!r} has fractions of a fen")
        return text
    text = _text(value)
    if value is None or isinstance(value, str):
        checks.yuan(cell.name, text, required=True)
    else:
        checks.fail("bad_amount", f"{cell.name} {text!r} is not an amount in yuan")
    return text


def _quantity_text(cell: _Cell, checks: RowChecks) -> str | None:
    """A whole number of items, numeric or text; empty is allowed."""
    text = _text(cell.value)
    if text is not None and _WHOLE_NUMBER.fullmatch(text) is None:
        checks.fail("bad_value", f"{cell.name} {text!r} is not a whole number of items")
    return text


def _header_positions(values: Sequence[Any], platform: str, file_name: str, line: int) -> list[int]:
    header = [str(v).strip() if v is not None else "" for v in values]
    names = PLATFORM_HEADERS[platform]
    problems = header_problems(names, header, extra_columns_allowed=True)
    if not problems:
        return [header.index(name) for name in names]
    message = f"the header is not {platform}'s: {problems}"
    others = [
        p for p, other in PLATFORM_HEADERS.items() if p != platform and set(other) <= set(header)
    ]
    if others:
        message += f" (it is {others[0]}'s header: is the file misnamed?)"
    raise FileRejected(file_name, line, "bad_header", message, _row_text(values))


def _is_blank(values: Sequence[Any]) -> bool:
    return all(v is None or (isinstance(v, str) and not v.strip()) for v in values)


def _row_text(values: Sequence[Any]) -> str:
    return "\t".join("" if v is None else str(v) for v in values).rstrip("\t")
