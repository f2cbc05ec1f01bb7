"""Third-party flagship store orders: ``stores/<platform>_orders_YYYYMMDD.xlsx``.

``platform`` is ``taobao``, ``jd`` or ``meituan`` (from the file name; it fills the ``platform``
column). One sheet whose first non-blank row is a Chinese header; each platform names the columns
its own way (:data:`PLATFORM_HEADERS`). Columns the contract does not list are ignored. The
workbook is read in read-only mode, row by row.

Cells become text: times (text ``YYYY-MM-DD HH:MM:SS`` or real Excel datetimes, rounded to the
second) as ``YYYY-MM-DD HH:MM:SS``; a text amount as delivered (``¥199.00``), a numeric amount with
two decimals (``199`` -> ``199.00``); a numeric quantity as a whole number (``2.0`` -> ``2``); other
numbers without a spurious ``.0``. Blank rows are skipped; ``line`` is the sheet row.

| rule | when it fires |
|---|---|
| `unreadable` | (file) not a readable xlsx workbook, or a second sheet holds data |
| `bad_header` | (file) no header row, or the header lacks (or repeats) a contract column |
| `missing_field` | order number, created time, sku, amount or status is empty |
| `bad_timestamp` | created or present paid time: neither an Excel datetime nor a text time |
| `unknown_code` | status is not one of the platform's four |
| `unknown_code` | sku has no known prefix (DEV-, SIM-, BB-, TOPUP-, DATA-) |
| `unknown_code` | the pickup hall's prefix is not a region code |
| `bad_amount` | amount is not yuan (a number, or text once ¥ and commas are dropped) |
| `bad_amount` | amount has fractions of a fen (``199.005``) |
| `bad_value` | quantity present but not a whole number |
| `bad_value` | pickup hall present but not like ``TY-0012`` |
| `bad_phone` | phone present but neither masked (``138****5678``) nor a mobile number |
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import openpyxl

from channel_dw.errors import FileRejected
from channel_dw.sources._delimited import RowChecks, header_problems, two_decimals
from channel_dw.sources.base import Item, Row, SourceSpec

log = logging.getLogger(__name__)

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

FILE_PATTERN = re.compile(r"(?P<platform>taobao|jd|meituan)_orders_(?P<date>\d{8})\.xlsx")

_WHOLE_NUMBER = re.compile(r"\d+", re.ASCII)


@dataclass(frozen=True, slots=True)
class _Cell:
    """One contract cell of a row: the platform's header name (for messages) and the cell value."""

    name: str
    value: Any


def read(path: Path) -> Iterator[Item]:
    m = FILE_PATTERN.fullmatch(path.name)
    if m is None:
        raise ValueError(f"{path.name} is not a store order file name (<platform>_orders_...)")
    platform = m.group("platform")
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # zip, XML and openpyxl errors alike: the file is not usable
        raise FileRejected(
            path.name, None, "unreadable", f"this is not a readable xlsx workbook: {exc!r}"
        ) from exc
    try:
        sheets = workbook.worksheets
        if not sheets:
            raise FileRejected(path.name, None, "unreadable", "the workbook has no worksheet")
        for extra in sheets[1:]:
            for line, values in _sheet_rows(extra, path.name):
                if not _is_blank(values):
                    raise FileRejected(
                        path.name,
                        line,
                        "unreadable",
                        f"sheet {extra.title!r} holds data, but an order file has one sheet",
                        _row_text(values),
                    )
        yield from _read_sheet(sheets[0], path.name, platform)
    finally:
        workbook.close()


def _read_sheet(sheet: Any, file_name: str, platform: str) -> Iterator[Item]:
    names = PLATFORM_HEADERS[platform]
    statuses = STATUSES[platform]
    positions: list[int] | None = None
    rows = rejected = 0
    for line, values in _sheet_rows(sheet, file_name):
        if _is_blank(values):
            continue
        if positions is None:
            positions = _header_positions(values, platform, file_name, line)
            continue
        cells = {
            column: _Cell(name, values[i] if i < len(values) else None)
            for column, name, i in zip(COLUMNS[1:], names, positions, strict=True)
        }
        checks = RowChecks()
        order = _order_values(cells, statuses, checks)
        if checks.problems:
            rejected += 1
            yield checks.rejection(line, _row_text(values))
        else:
            rows += 1
            yield Row(line, (platform, *order))
    if positions is None:
        raise FileRejected(file_name, None, "bad_header", "the sheet is empty: no header row")
    log.debug("%s: %d rows, %d rejected", file_name, rows, rejected)


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


def _sheet_rows(sheet: Any, file_name: str) -> Iterator[tuple[int, Sequence[Any]]]:
    """(sheet row number, cell values) for every row, gaps included; a broken sheet rejects the
    file."""
    sheet.reset_dimensions()  # some exporters write a wrong <dimension>; read every row there is
    rows = sheet.iter_rows(values_only=True)
    line = 0
    while True:
        try:
            values = next(rows)
        except StopIteration:
            return
        except Exception as exc:  # a corrupt sheet XML surfaces only while iterating
            raise FileRejected(
                file_name, line + 1, "unreadable", f"the sheet cannot be read here: {exc!r}"
            ) from exc
        line += 1
        yield line, values


def _is_blank(values: Sequence[Any]) -> bool:
    return all(v is None or (isinstance(v, str) and not v.strip()) for v in values)


def _row_text(values: Sequence[Any]) -> str:
    return "\t".join("" if v is None else str(v) for v in values).rstrip("\t")


SPEC = SourceSpec(
    name="stores",
    raw_table="store_orders",
    file_pattern=FILE_PATTERN,
    columns=COLUMNS,
    read=read,
    description="taobao / jd / meituan flagship store orders (xlsx, one sheet, Chinese header)",
)
