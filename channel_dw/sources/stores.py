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
| `too_large` | (file) inflates past 256 MiB, or a big part 200 times (a zip bomb; limits.py) |
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
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pyarrow as pa
import pyarrow.compute as pc
from openpyxl.cell.text import Text
from openpyxl.styles.stylesheet import Stylesheet
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._reader import WorkSheetParser
from openpyxl.xml.constants import SHEET_MAIN_NS
from openpyxl.xml.functions import fromstring

from channel_dw.errors import FileRejected
from channel_dw.sources import ahead, limits
from channel_dw.sources import columnar as col
from channel_dw.sources._delimited import RowChecks, header_problems, two_decimals
from channel_dw.sources.base import REGION_CODES, Item, Row, SourceSpec

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
    """One Row or Rejection per non-blank sheet row after the header, in sheet order."""
    return col.items_from_batches(COLUMNS, read_batches(path))


def read_rows(path: Path) -> Iterator[Item]:
    """The per-record reader (openpyxl, row by row): the reference for every value and message,
    and the path a workbook takes when the columnar one cannot vouch for it."""
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
    positions: list[int] | None = None
    rows = rejected = 0
    for line, values in _sheet_rows(sheet, file_name):
        if _is_blank(values):
            continue
        if positions is None:
            positions = _header_positions(values, platform, file_name, line)
            continue
        item = _item(line, values, platform, positions)
        if type(item) is Row:
            rows += 1
        else:
            rejected += 1
        yield item
    if positions is None:
        raise FileRejected(file_name, None, "bad_header", "the sheet is empty: no header row")
    log.debug("%s: %d rows, %d rejected", file_name, rows, rejected)


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


# --- the columnar path -----------------------------------------------------------------------
#
# fastexcel (calamine, in Rust) renders the whole sheet as text columns in one go. Its text is the
# per-record reader's wherever the two cannot differ; the masks below clear only rows whose every
# contract cell is in such a shape and certainly passes every rule. The other rows are read again
# exactly as openpyxl reads them: their <row> elements are cut out of the sheet XML and parsed by
# openpyxl's own cell parser, then go through :func:`_item`. A workbook whose features the fast
# path does not vouch for (several sheets, 1904 dates, error or ISO-date cells, duration or unusual
# number formats, escaped characters...) is read entirely by the per-record reader.

BATCH_ROWS = 250_000
_REGIONS = "|".join(sorted(REGION_CODES))
_YEAR = r"(?:190[1-9]|19[1-9][0-9]|[2-9][0-9]{3})"  # Excel's 1900 quirks stay on the slow path
_TIME = rf"^{col.certain_date(year=_YEAR)} {col.certain_time()}$"
_MASKED = r"^1[0-9]{2}\*{4}[0-9]{4}$"
_HALL = rf"^(?:{_REGIONS})-[0-9]{{4}}$"
_SKU = r"^(?:DEV-|SIM-|BB-|TOPUP-|DATA-)"
_NUMBER_AMOUNT = r"^(?:[0-9]{1,15}|-[0-9]{0,14}[1-9][0-9]*)(?:\.[0-9]{1,2})?$"  # not -0
_TEXT_AMOUNT = r"^(?:¥|￥)?-?[0-9][0-9,]*(?:\.[0-9]{1,2})?$"
# Renderings a non-text cell may give differently from openpyxl: booleans (TRUE), negative zero,
# tiny floats (1e-05), datetimes with a fraction of a second, times and durations (before 1901).
_AMBIGUOUS = (
    r"^(?:true|false|-0(?:\.0*)?|-?0\.0000[0-9]*"
    r"|[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\..*"
    r"|(?:1[0-8][0-9]{2}|1900)-[0-9]{2}-[0-9]{2}.*)$"
)
# Number formats both readers certainly read as numbers, or certainly as datetimes.
_PLAIN_BUILTINS = frozenset([*range(0, 14), *range(37, 45), 48, 49])
_DATE_BUILTINS = frozenset([*range(14, 23), 45, 47])
_DATE_LETTERS = re.compile(r"[dDmMyYhHsSeEgGbB年月日时分秒]")
_QUOTED = re.compile(r'"[^"]*"|\\.')


class _Unsure(Exception):
    """The columnar path cannot vouch for this workbook: the per-record reader reads it."""


def read_batches(path: Path) -> Iterator[col.Batch]:
    """The workbook in batches (see the section comment above); the per-record reader's output."""
    m = FILE_PATTERN.fullmatch(path.name)
    batches = None
    check_inflated_size(path)
    if m is not None:
        try:
            batches = _columnar(path, m.group("platform"))
        except _Unsure as exc:
            log.debug("%s: read row by row (%s)", path.name, exc)
        except _Damaged as exc:
            raise FileRejected(path.name, None, "unreadable", str(exc)) from exc
        except FileRejected:
            raise
        except Exception as exc:  # a damaged workbook (XML that does not parse, ...)
            # The columnar path yields nothing until it has read the whole sheet, so the
            # per-record reader can start over: it reads what it can and rejects the rest.
            log.info("%s: the columnar path failed (%r); read row by row", path.name, exc)
    if batches is None:
        yield from col.batches_from_items(COLUMNS, read_rows(path))
        return
    yield from batches


def check_inflated_size(path: Path) -> None:
    """Rejects a workbook whose parts inflate beyond ``DW_MAX_XLSX_INFLATED_BYTES`` in all, or a
    part bigger than 16 MiB that inflates more than ``DW_MAX_XLSX_RATIO`` times (a zip bomb),
    before anything is inflated. The sizes are those the zip directory declares; Python's zip
    reader, which every path here reads the sheet with first, never inflates a part beyond its
    declared size (a part that holds more fails its checksum: ``unreadable``). A file that is no
    zip at all is left to the readers, which reject it as ``unreadable``."""
    try:
        with zipfile.ZipFile(path) as zf:
            parts = zf.infolist()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        return
    limit, ratio = limits.max_xlsx_inflated_bytes(), limits.max_xlsx_ratio()
    total = sum(p.file_size for p in parts)
    compressed = path.stat().st_size
    if total > limit:
        biggest = max(parts, key=lambda p: p.file_size)
        raise FileRejected(
            path.name,
            None,
            "too_large",
            f"the workbook inflates to {limits.size_text(total)} from "
            f"{limits.size_text(compressed)} ({biggest.filename} alone "
            f"{limits.size_text(biggest.file_size)}), over the "
            f"{limits.size_text(limit)} a store order file may hold "
            f"({limits.stated('MAX_XLSX_INFLATED_BYTES')}): "
            "a day's orders are a few MB, so it is damaged or a zip bomb; it was not opened",
        )
    for part in parts:
        if part.file_size > limits.XLSX_RATIO_FROM_BYTES and part.file_size > ratio * max(
            part.compress_size, 1
        ):
            raise FileRejected(
                path.name,
                None,
                "too_large",
                f"{part.filename} inflates {part.file_size / max(part.compress_size, 1):,.0f} "
                f"times ({limits.size_text(part.compress_size)} to "
                f"{limits.size_text(part.file_size)}), over the {ratio} times a real sheet "
                f"compresses at most ({limits.stated('MAX_XLSX_RATIO')}): a zip bomb or a "
                "damaged file; it was not opened",
            )


def _columnar(path: Path, platform: str) -> list[col.Batch]:
    # The sheet's XML is checked first: calamine aborts the whole process on some damaged sheets
    # (tests/unit/test_fuzz_readers.py), which _SheetXml.open() sends elsewhere. Then fastexcel
    # reads the sheet on a thread of its own (it releases the GIL) while the XML is scanned here:
    # on a million orders 10.4 s and about 3 s that ran one after the other (AMD EPYC VM). With
    # DW_READER_THREADS=1 it reads after the scans instead (ahead.beside).
    sheet = _SheetXml.open(path)
    first, last = sheet.value_rows()
    with ahead.beside(partial(_fastexcel_table, path), name="fastexcel") as loaded:
        try:
            header_line, header, positions, numeric_at, inexact_at = _scanned(
                sheet, first, last, platform, path.name
            )
        except Exception as exc:  # raised below, after fastexcel's verdict, as before
            scan_error: Exception | None = exc
        else:
            scan_error = None
        table = loaded()
    n = table.num_rows
    if n == last:  # fastexcel counts from sheet row 1 when no row is skipped
        first = 1
    if n != last - first + 1:
        raise _Unsure(f"{n} rows from fastexcel, {first}..{last} in the XML")
    if scan_error is not None:
        raise scan_error
    hi = header_line - first
    shown = [table.column(j)[hi].as_py() for j in range(table.num_columns)]
    p0 = positions[0]
    offsets = [p0 - j for j, v in enumerate(shown) if v == header[p0]]
    if not offsets or any(
        not isinstance(header[p], str)
        or not 0 <= p - offsets[0] < len(shown)
        or shown[p - offsets[0]] != header[p]
        for p in positions
    ):
        raise _Unsure("the header is not where fastexcel puts it")
    c0 = offsets[0]
    c = {
        column: _nulled(table.column(p - c0))
        for column, p in zip(COLUMNS[1:], positions, strict=True)
    }
    numeric = _at_rows(numeric_at[0], first, n, values=numeric_at[1])
    good, amount = _masks(c, numeric, STATUSES[platform], n)
    blank = col.and_all((pc.is_null(_nulled(x)) for x in table.columns), n)
    data = np.arange(n) > hi
    good &= data & ~blank & ~_at_rows(inexact_at, first, n)
    lines = np.arange(first, first + n, dtype=np.int64)
    fast = pa.table(
        {
            "platform": pa.array(np.full(n, platform, dtype=object), pa.string()),
            **{column: c[column] for column in COLUMNS[1:] if column != "amount_yuan"},
            "amount_yuan": amount,
            col.LINE: pa.array(lines, pa.int64()),
        }
    ).select([*COLUMNS, col.LINE])
    slow_lines = lines[data & ~blank & ~good].tolist()
    slow = [
        _item(line, values, platform, positions)
        for line, values in sheet.rows(slow_lines)
        if not _is_blank(values)
    ]
    # Batches in line order (what items_from_batches relies on): each range of sheet rows with
    # its fast rows and what the per-record path made of its other rows.
    batches = []
    for lo in range(0, n, BATCH_ROWS):
        hi_ = min(lo + BATCH_ROWS, n)
        part = fast.take(pa.array(np.flatnonzero(good[lo:hi_]) + lo))
        top = first + hi_
        these = [item for item in slow if item.line < top]
        slow = slow[len(these) :]
        batches.append(col.combine(COLUMNS, part, these))
    return batches


def _scanned(
    sheet: _SheetXml, first: int, last: int, platform: str, file_name: str
) -> tuple[int, Sequence[Any], list[int], tuple[np.ndarray, np.ndarray], np.ndarray]:
    """The header (the first non-blank row, read exactly as the per-record reader reads it), the
    contract columns' positions, and the sheet rows of numeric amounts and of inexact numbers.
    Rows before ``first`` hold no value, so fastexcel's counting cannot move the header."""
    header_line, header = next(
        ((line, v) for line, v in sheet.rows(range(first, last + 1)) if not _is_blank(v)),
        (None, None),
    )
    if header_line is None or header is None:
        raise _Unsure("no header")
    positions = _header_positions(header, platform, file_name, header_line)
    numeric_at = sheet.numeric_cells(positions[COLUMNS.index("amount_yuan") - 1])
    return header_line, header, positions, numeric_at, sheet.inexact_rows(positions)


def _fastexcel_table(path: Path) -> Any:
    import fastexcel  # the compiled reader; imported here so that the module loads without it

    try:
        return fastexcel.read_excel(path).load_sheet(
            0, header_row=None, skip_rows=0, dtypes="string", eager=True
        )
    except Exception as exc:
        raise _Unsure(f"fastexcel: {exc!r}") from exc


def _at_rows(rows: np.ndarray, first: int, n: int, values: np.ndarray | None = None) -> np.ndarray:
    """For the ``n`` rows from ``first`` on: True at the given sheet rows (or their ``values``)."""
    out = np.zeros(n, dtype=bool)
    at = rows - first
    keep = (at >= 0) & (at < n)
    out[at[keep]] = True if values is None else values[keep]
    return out


def _nulled(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Empty text as null: the per-record reader makes both None."""
    return pc.if_else(pc.equal(column, ""), pa.scalar(None, pa.string()), column)


def _masks(
    c: dict[str, pa.ChunkedArray], numeric: np.ndarray, statuses: tuple[str, ...], n: int
) -> tuple[np.ndarray, pa.Array]:
    """Rows that certainly pass every rule with the text fastexcel gave, and the amount column
    as the per-record reader writes it."""

    def safe(x: pa.ChunkedArray) -> pa.Array:
        return pc.and_kleene(
            _clean_text(x),
            col.null_or(x, pc.invert(col.matches(x, _AMBIGUOUS))),
        )

    def shapes(phone: pa.ChunkedArray) -> pa.Array:
        return pc.or_(col.matches(phone, _MASKED), col.matches(phone, col.MOBILE_SHAPES))

    amount = c["amount_yuan"]
    is_number = pa.array(numeric)

    def amount_shape() -> pa.Array:
        as_number = col.matches(amount, _NUMBER_AMOUNT)
        as_text = pc.and_kleene(safe(amount), col.matches(amount, _TEXT_AMOUNT))
        return pc.if_else(is_number, as_number, as_text)

    texts = ("order_no", "buyer_account", "phone", "item", "sku", "quantity", "status")
    # Each mask a job: pyarrow's kernels release the GIL, so the reader threads compute them side
    # by side (3.7 s on one thread for a million orders on the AMD EPYC VM).
    jobs: list[Callable[[], Any]] = [
        partial(safe, c[k]) for k in (*texts, "member_id", "pickup_hall")
    ]
    jobs += [partial(col.present, c[k]) for k in ("order_no", "sku", "status", "created_time")]
    jobs += [
        partial(col.one_of, c["status"], statuses),
        partial(col.matches, c["sku"], _SKU),
        partial(col.matches, c["created_time"], _TIME),
        lambda: col.null_or(c["paid_time"], col.matches(c["paid_time"], _TIME)),
        lambda: col.null_or(c["phone"], shapes(c["phone"])),
        lambda: col.null_or(c["pickup_hall"], col.matches(c["pickup_hall"], _HALL)),
        lambda: col.null_or(c["quantity"], col.matches(c["quantity"], r"^[0-9]+$")),
        amount_shape,
    ]
    masks = list(ahead.in_order(iter(jobs)))
    # A number with two decimals, as two_decimals() writes it: 199 -> 199.00, 199.5 -> 199.50.
    dot = pc.find_substring(amount, ".")
    decimals = pc.if_else(
        pc.equal(dot, -1), 0, pc.subtract(pc.subtract(pc.utf8_length(amount), dot), 1)
    )
    padded = pc.if_else(
        pc.equal(decimals, 0),
        pc.binary_join_element_wise(amount, ".00", ""),
        pc.if_else(pc.equal(decimals, 1), pc.binary_join_element_wise(amount, "0", ""), amount),
    )
    return col.and_all(masks, n), pc.if_else(is_number, padded, amount)


_SPACE_CHARS = pa.array(sorted(c for c in map(chr, range(0x3001)) if c.isspace()), pa.string())


def _clean_text(x: pa.Array) -> pa.Array:
    """col.clean_text, with the values its byte test doubts (Chinese text often ends in a byte
    that also ends a space, ``¥`` starts with one) judged again on their first and last
    characters. A sheet holds no NUL (XML cannot, and escapes send the workbook elsewhere)."""
    quick = col.clean_text(x, nul_possible=False).to_numpy(zero_copy_only=False)
    doubted = np.flatnonzero(~quick)
    if len(doubted) == 0:
        return pa.array(quick)
    sub = x.take(pa.array(doubted))
    first = pc.utf8_slice_codeunits(sub, 0, 1)
    last = pc.utf8_slice_codeunits(sub, -1, None)
    dirty = pc.or_(
        pc.or_(pc.is_in(first, value_set=_SPACE_CHARS), pc.is_in(last, value_set=_SPACE_CHARS)),
        pc.equal(first, ""),
    )
    quick[doubted] = pc.invert(dirty).to_numpy(zero_copy_only=False)
    return pa.array(quick)


class _SheetXml:
    """The one worksheet's XML, checked for what the columnar path relies on, and its rows read
    back exactly as openpyxl reads them."""

    def __init__(self, data: bytes, root: bytes, strings: bytes, parser: Any) -> None:
        self.data = data
        self.root = root
        self.strings = strings
        self.parser = parser
        self._string_starts: list[int] | None = None

    @classmethod
    def open(cls, path: Path) -> _SheetXml:
        try:
            with zipfile.ZipFile(path) as zf:
                names = zf.namelist()
                workbook = zf.read("xl/workbook.xml")
                sheets = [n for n in names if re.fullmatch(r"xl/worksheets/[^/]+\.xml", n)]
                if len(sheets) != 1 or workbook.count(b"<sheet ") != 1:
                    raise _Unsure("not exactly one worksheet")
                if b"date1904" in workbook:
                    raise _Unsure("1904 dates")
                data = zf.read(sheets[0])
                styles = zf.read("xl/styles.xml") if "xl/styles.xml" in names else None
                strings = (
                    zf.read("xl/sharedStrings.xml") if "xl/sharedStrings.xml" in names else b""
                )
        except (zipfile.BadZipFile, KeyError, OSError, EOFError, zlib.error) as exc:
            raise _Unsure(f"zip: {exc!r}") from exc
        start = data.find(b"<worksheet")
        end = data.find(b">", start) + 1
        if start < 0 or b"<sheetData" not in data:
            raise _Unsure("an unusual sheet XML")
        found = _first_unusual(data) or _first_unusual(strings)
        if found and _BEYOND_LAST_ROW.fullmatch(found):
            row = int(re.sub("[^0-9]", "", found))
            raise _Damaged(
                f"the sheet holds row {row:,}, beyond the last row a sheet can have "
                "(1,048,576): the workbook is damaged"
            )
        if found:
            raise _Unsure(f"the XML holds {found!r}")
        if b"<rPh" in strings or strings.count(b"<si") != strings.count(b"<si>"):
            raise _Unsure("an unusual shared string table")
        parser = WorkSheetParser(None, None, data_only=True)
        if styles is not None:
            sheet_styles = Stylesheet.from_tree(fromstring(styles))
            _check_formats(sheet_styles)
            parser.date_formats = sheet_styles.date_formats
            parser.timedelta_formats = sheet_styles.timedelta_formats
        result = cls(data, data[start:end], strings, parser)
        parser.shared_strings = _SharedStrings(result)
        return result

    def value_rows(self) -> tuple[int, int]:
        """The first and last sheet rows with a cell value (calamine's range)."""
        data = self.data
        firsts = [i for i in (data.find(b"<v>"), data.find(b"<is>")) if i >= 0]
        if not firsts:
            raise _Unsure("no cell value")
        lasts = [data.rfind(b"<v>"), data.rfind(b"<is>")]
        return self._row_of(min(firsts)), self._row_of(max(lasts))

    def _row_of(self, at: int) -> int:
        start = self.data.rfind(b'<row r="', 0, at) + 8
        return int(self.data[start : self.data.find(b'"', start)])

    def numeric_cells(self, position: int) -> tuple[np.ndarray, np.ndarray]:
        """The sheet rows of the cells in that column, and whether each is a number (no type, or
        ``t="n"``)."""
        letter = get_column_letter(position + 1).encode()
        found = re.findall(rb'<c r="' + letter + rb'([0-9]+)"([^>]*)>', self.data)
        rows = np.array([int(r) for r, _ in found], dtype=np.int64)
        typed = np.array([b't="' in a and b't="n"' not in a for _, a in found], dtype=bool)
        return rows, ~typed

    def inexact_rows(self, positions: list[int]) -> np.ndarray:
        """The sheet rows with a number that is not an integer literal in a text or quantity
        column: fastexcel renders such numbers with at most 9 decimals, openpyxl as they are."""
        columns = [p for i, p in enumerate(positions) if COLUMNS[i + 1] not in _NOT_TEXT]
        if max(columns) >= 26:
            raise _Unsure("a contract column beyond Z")
        letters = "".join(get_column_letter(p + 1) for p in columns).encode()
        pattern = rb'<c r="[' + letters + rb']([0-9]+)"(?: [st]="[^"]*")*><v>-?[0-9]*[.eE]'
        if _first_match(self.data, pattern.decode()) is None:
            return np.zeros(0, dtype=np.int64)
        return np.array([int(r) for r in re.findall(pattern, self.data)], dtype=np.int64)

    def rows(self, lines: Iterable[int]) -> Iterator[tuple[int, tuple[Any, ...]]]:
        """(line, cell values as openpyxl reads them) for the given rows, in ascending order;
        a row missing from the XML is blank."""
        data, at = self.data, 0
        for line in lines:
            start = data.find(b'<row r="%d"' % line, at)
            if start < 0:
                yield line, ()
                continue
            end = data.find(b">", start)
            if data[end - 1] != ord("/"):
                end = data.find(b"</row>", end) + len(b"</row>")
            else:
                end += 1
            at = end
            tree = fromstring(
                self.root + b"<sheetData>" + data[start:end] + b"</sheetData></worksheet>"
            )
            (element,) = tree[0]
            _, cells = self.parser.parse_row(element)
            values: list[Any] = [None] * (cells[-1]["column"] if cells else 0)
            for cell in cells:
                values[cell["column"] - 1] = cell["value"]
            yield line, tuple(values)

    def shared_string(self, index: int) -> str:
        if self._string_starts is None:
            self._string_starts = [m.start() for m in re.finditer(rb"<si>", self.strings)]
        start = self._string_starts[index]
        end = self.strings.find(b"</si>", start) + len(b"</si>")
        node = fromstring(
            b'<sst xmlns="%s">' % SHEET_MAIN_NS.encode() + self.strings[start:end] + b"</sst>"
        )
        return Text.from_tree(node[0]).content.replace("x005F_", "")


# What the columnar path does not vouch for: error and ISO-date cells, rows and cells without a
# reference, integers calamine cannot hold exactly (a float), and escaped characters; and a cell
# reference with a column of four letters or more (a sheet ends at XFD: a damaged workbook), for
# which calamine sizes the sheet first, and fails to allocate terabytes by aborting the process.
_UNUSUAL = (
    r"""t="[ed]"|<row(?:>| [^r])|<row r=[^"]|<c(?:>| [^r])|<c r=[^"]"""
    r'|<v>-?[0-9]{16}|_x[0-9A-Fa-f]{4}_|x005F_|<rPh|<si[ /]|<c r="[A-Za-z]{4}'
    r"|" + r'<(?:row|c) r="[A-Z]*(?:[0-9]{8,}|[2-9][0-9]{6})'
)
# A row far beyond a sheet's last (1,048,576): calamine would abort on the allocation, and
# openpyxl would yield every blank row up to it. The workbook is damaged: it is rejected.
_BEYOND_LAST_ROW = re.compile(r'<(?:row|c) r="[A-Z]*(?:[0-9]{8,}|[2-9][0-9]{6})')


class _Damaged(Exception):
    """The workbook is damaged in a way neither reader can be trusted to survive."""


_SLICE = 1 << 20
_NOT_TEXT = ("created_time", "paid_time", "amount_yuan")


def _first_unusual(data: bytes) -> str | None:
    """The first unusual thing in the XML, or None."""
    return _first_match(data, _UNUSUAL)


def _first_match(data: bytes, pattern: str) -> str | None:
    """The first match of the pattern (one pass of RE2 over zero-copy slices, plus the bytes
    around each cut), or None."""
    if not data:
        return None
    cuts = np.arange(0, len(data), _SLICE, dtype=np.int32)
    offsets = np.append(cuts, np.int32(len(data)))
    buffer = pa.py_buffer(data)
    slices = pa.BinaryArray.from_buffers(
        pa.binary(), len(cuts), [None, pa.py_buffer(offsets), buffer]
    )
    seams = [data[max(0, c - 32) : c + 32] for c in cuts[1:].tolist()]
    for array in (slices, pa.array(seams, pa.binary())):
        matched = pc.match_substring_regex(array, pattern)
        if pc.any(matched).as_py():
            index = int(np.flatnonzero(matched.to_numpy(zero_copy_only=False))[0])
            found = re.search(pattern.encode(), array[index].as_py())
            return found.group(0).decode(errors="replace") if found else "?"
    return None


class _SharedStrings:
    def __init__(self, sheet: _SheetXml) -> None:
        self.sheet = sheet

    def __getitem__(self, index: int) -> str:
        return self.sheet.shared_string(index)


def _check_formats(styles: Any) -> None:
    """Every cell style's number format must be read the same way by openpyxl and calamine:
    plainly a number, or plainly a date and time (no durations, no locale formats)."""
    custom = {fmt.numFmtId: fmt.formatCode for fmt in styles.numFmts.numFmt}
    for idx, style in enumerate(styles.cell_styles):
        fid = style.numFmtId
        if idx in styles.timedelta_formats:
            raise _Unsure(f"a duration format ({fid})")
        code = custom.get(fid)
        if code is None:
            if fid in _PLAIN_BUILTINS and idx not in styles.date_formats:
                continue
            if fid in _DATE_BUILTINS and idx in styles.date_formats:
                continue
            raise _Unsure(f"number format {fid}")
        if "[" in code:
            raise _Unsure(f"number format {code!r}")
        letters = _DATE_LETTERS.search(_QUOTED.sub("", code))
        if idx in styles.date_formats:
            if not re.search(r"[yYdD]", code):
                raise _Unsure(f"number format {code!r}")
        elif letters:
            raise _Unsure(f"number format {code!r}")


SPEC = SourceSpec(
    name="stores",
    raw_table="store_orders",
    file_pattern=FILE_PATTERN,
    columns=COLUMNS,
    read=read,
    read_batches=read_batches,
    description="taobao / jd / meituan flagship store orders (xlsx, one sheet, Chinese header)",
)
