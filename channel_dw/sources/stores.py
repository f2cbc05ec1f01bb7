"""Third-party flagship store orders: ``stores/<platform>_orders_YYYYMMDD.xlsx``.

``platform`` is ``taobao``, ``jd`` or ``meituan`` (from the file name; it fills the ``platform``
column). One sheet whose first non-blank row is a Chinese header; each platform names the columns
its own way (:data:`_stores_rows.PLATFORM_HEADERS`). Columns the contract does not list are
ignored.

Three readers give the same rows and rejections. The reference is openpyxl in read-only mode, row
by row (:func:`read_rows`). The fast path streams the sheet's XML through one pass of C
(:mod:`_stores_compiled`, ``_compiled_stores.c``): each row it cannot vouch for is parsed by
openpyxl's cell parser, and a sheet it cannot follow is read by openpyxl from that row on. Where
no C compiler is found, fastexcel reads the sheet whole and vectorised masks clear the rows
(:func:`_columnar`).

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
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pyarrow as pa
import pyarrow.compute as pc

from channel_dw.errors import FileRejected
from channel_dw.sources import _compiled as compiled
from channel_dw.sources import _stores_compiled, ahead, limits
from channel_dw.sources import columnar as col
from channel_dw.sources._stores_rows import (
    COLUMNS,
    STATUSES,
    _header_positions,
    _is_blank,
    _item,
    _row_text,
)
from channel_dw.sources._stores_xml import _Damaged, _SheetXml, _Unsure
from channel_dw.sources.base import REGION_CODES, Item, Row, SourceSpec

log = logging.getLogger(__name__)

FILE_PATTERN = re.compile(r"(?P<platform>taobao|jd|meituan)_orders_(?P<date>\d{8})\.xlsx")


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


# --- the columnar path, where no C compiler is found ------------------------------------------
#
# fastexcel (calamine, in Rust) renders the whole sheet as text columns in one go. Its text is the
# per-record reader's wherever the two cannot differ; the masks below clear only rows whose every
# contract cell is in such a shape and certainly passes every rule. The other rows are read again
# exactly as openpyxl reads them: their <row> elements are cut out of the sheet XML and parsed by
# openpyxl's own cell parser, then go through :func:`_item`. A workbook whose features the fast
# path does not vouch for (several sheets, 1904 dates, error or ISO-date cells, duration or unusual
# number formats, escaped characters...) is read entirely by the per-record reader.

BATCH_ROWS = 250_000
_NOT_TEXT = ("created_time", "paid_time", "amount_yuan")  # the other columns hold text
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


def read_batches(path: Path) -> Iterator[col.Batch]:
    """The workbook in batches, the per-record reader's items: through the C pass, or where no C
    compiler is found through fastexcel (the section comment below)."""
    m = FILE_PATTERN.fullmatch(path.name)
    batches = None
    check_inflated_size(path)
    if m is not None and compiled.available():
        try:
            streamed = _stores_compiled.read(path, m.group("platform"), partial(read_rows, path))
        except _Unsure as exc:
            log.debug("%s: read row by row (%s)", path.name, exc)
        else:
            yield from streamed
            return
    elif m is not None:
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
    texts = [p for i, p in enumerate(positions) if COLUMNS[i + 1] not in _NOT_TEXT]
    return header_line, header, positions, numeric_at, sheet.inexact_rows(texts)


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


SPEC = SourceSpec(
    name="stores",
    raw_table="store_orders",
    file_pattern=FILE_PATTERN,
    columns=COLUMNS,
    read=read,
    read_batches=read_batches,
    description="taobao / jd / meituan flagship store orders (xlsx, one sheet, Chinese header)",
)
