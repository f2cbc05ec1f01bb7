"""The stores reader's fast paths give exactly what the per-record (openpyxl) reader gives: the
C pass over the sheet XML (:mod:`_stores_compiled`) and, where no C compiler is found, fastexcel
with vectorised masks (:func:`stores._columnar`)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import xlsxwriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channel_dw.sources import _stores_compiled, _stores_rows, stores
from channel_dw.sources import columnar as col
from channel_dw.sources._stores_rows import COLUMNS
from channel_dw.sources.base import Item

GOOD = {
    "taobao": ["T1", "tb_1", "138****5678", None, None, "iPhone", "DEV-X", 1, None, "已付款", "", ""],  # noqa: E501
    "jd": ["J1", "jd_1", "13812345678", None, None, "SIM", "SIM-5G", 2, None, "已完成", "M", "TY-0012"],  # noqa: E501
    "meituan": ["M1", "mt_1", "+86 138-1234-5678", None, None, "充值", "TOPUP-50", 1, None,
                "已支付", None, "DT-0003"],
}  # fmt: skip
BAD_CELLS: list[tuple[int, Any]] = [
    (0, None),
    (0, "  "),
    (9, "交易关闭x"),
    (3, "2026-10-01 8:15"),
    (3, "2026-02-30 10:00:00"),
    (4, 45000.5),
    (3, datetime(2026, 10, 1, 8, 15, 1, 500000)),
    (6, "VIP-GOLD"),
    (8, "199元"),
    (8, 66.666),
    (8, -0.0),
    (8, True),
    (7, 1.5),
    (7, "-1"),
    (2, "1381234567"),
    (11, "TY12"),
    (11, "BJ-0001"),
    (1, True),
    (1, 1e-05),
    (1, " padded "),
    (5, datetime(2026, 10, 1, 8, 15, 1, 999000)),
]


def _order(platform: str, i: int, excel_times: bool, text_amounts: bool) -> list[Any]:
    row = list(GOOD[platform])
    row[0] = f"{row[0]}{i:05d}"
    created = datetime(2026, 10, 1, 8) + timedelta(seconds=37 * i)
    paid = created + timedelta(seconds=61)
    row[3] = created if excel_times else created.strftime("%Y-%m-%d %H:%M:%S")
    row[4] = (paid if excel_times else paid.strftime("%Y-%m-%d %H:%M:%S")) if i % 3 else None
    fen = 19900 + 37 * i
    row[8] = f"¥{fen / 100:,.2f}" if text_amounts else fen / 100
    return row


def _write(path: Path, header: tuple[str, ...], rows: list[list[Any]]) -> Path:
    """An xlsxwriter workbook like the vendors' (shared strings, date-formatted numbers)."""
    book = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False, "strings_to_urls": False})
    sheet = book.add_worksheet("订单")
    time_fmt = book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    sheet.write_row(1, 0, header)  # row 1 is blank: lines are sheet rows
    for r, row in enumerate(rows, start=2):
        for c, value in enumerate(row):
            if isinstance(value, datetime):
                sheet.write_datetime(r, c, value, time_fmt)
            elif value is None:
                continue
            elif isinstance(value, bool):
                sheet.write_boolean(r, c, value)
            elif isinstance(value, int | float):
                sheet.write_number(r, c, value)
            else:
                sheet.write_string(r, c, value)
    book.close()
    return path


def _same(path: Path) -> list:
    """Both fast paths read the workbook (neither hands it to the per-record reader) and give
    the per-record reader's items."""
    platform = path.name.split("_")[0]
    reference = list(stores.read_rows(path))
    handed_over: list[bool] = []

    def per_record() -> Iterator[Item]:
        handed_over.append(True)
        return stores.read_rows(path)

    compiled = list(
        col.items_from_batches(COLUMNS, _stores_compiled.read(path, platform, per_record))
    )
    assert (compiled, handed_over) == (reference, [])
    assert list(col.items_from_batches(COLUMNS, stores._columnar(path, platform))) == reference
    assert list(stores.read(path)) == reference
    return reference


@pytest.mark.parametrize("platform", ["taobao", "jd", "meituan"])
@pytest.mark.parametrize(("excel_times", "text_amounts"), [(True, False), (False, True)])
def test_planted_bad_rows_read_as_the_per_record_reader_reads_them(
    tmp_path, platform, excel_times, text_amounts
):
    rows = [_order(platform, i, excel_times, text_amounts) for i in range(300)]
    for k, (column, value) in enumerate(BAD_CELLS):
        rows[7 + 11 * k][column] = value
    rows[50] = [None] * 12  # a blank row inside the data
    path = _write(
        tmp_path / f"{platform}_orders_20261001.xlsx", _stores_rows.PLATFORM_HEADERS[platform], rows
    )
    items = _same(path)
    assert sum(type(item) is stores.Row for item in items) >= 300 - len(BAD_CELLS) - 2
    assert len(items) == 299


CELL = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "",
            " ",
            "TY-0012",
            "DEV-1",
            "已付款",
            "¥1,299.00",
            "2026-10-01 08:00:00",
            "138****5678",
            "true",
            "-0",
            "0.00001",
            "12",
            "1.5",
        ]
    ),
    st.text(alphabet="0123456789-.:¥, ATYDEV", max_size=20),
    st.integers(-(10**6), 10**6),
    st.floats(-1e7, 1e7, allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.datetimes(datetime(1901, 1, 1), datetime(2100, 1, 1)),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 11), CELL), min_size=1, max_size=40), st.booleans())
def test_random_cells_read_as_the_per_record_reader_reads_them(changes, text_amounts):
    rows = [_order("taobao", i, i % 2 == 0, text_amounts) for i in range(20)]
    for k, (column, value) in enumerate(changes):
        rows[k % 20][column] = value
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "taobao_orders_20261001.xlsx"
        _same(_write(path, _stores_rows.PLATFORM_HEADERS["taobao"], rows))


def test_an_openpyxl_workbook_takes_the_columnar_path_too(tmp_path):
    path = tmp_path / "jd_orders_20261001.xlsx"
    book = openpyxl.Workbook()
    book.active.append(list(_stores_rows.PLATFORM_HEADERS["jd"]))
    for i in range(5):
        book.active.append(_order("jd", i, i % 2 == 1, i % 2 == 0))
    book.save(path)
    assert len(_same(path)) == 5


def test_generated_orders_are_cleared_by_the_masks_not_read_row_by_row(tmp_path, monkeypatch):
    """Every row of a clean export passes the vectorised masks: none reaches the per-record
    reader. (The created-time pattern once asked for an eight-digit year, and every row of every
    workbook went the slow way: 143 s for a million orders instead of about 11.)"""
    path = _generated(tmp_path)
    per_record: list[int] = []
    item = stores._item
    monkeypatch.setattr(stores, "_item", lambda line, *a: per_record.append(line) or item(line, *a))

    batches = stores._columnar(path, "taobao")

    assert per_record == []
    assert sum(b.num_rows for b in batches) == 300


def test_generated_orders_are_all_taken_by_the_c_pass(tmp_path, monkeypatch):
    """Every row of a clean export is written by the C pass: none is parsed again by openpyxl."""
    path = _generated(tmp_path)
    per_record: list[int] = []
    item = _stores_compiled._item
    monkeypatch.setattr(
        _stores_compiled, "_item", lambda line, *a: per_record.append(line) or item(line, *a)
    )

    batches = list(stores.read_batches(path))

    assert per_record == []
    assert sum(b.text_rows for b in batches) == sum(b.num_rows for b in batches) == 300
    assert list(col.items_from_batches(COLUMNS, batches)) == list(stores.read_rows(path))


def _generated(tmp_path: Path) -> Path:
    from datetime import date

    from channel_dw.generate import write_store_orders

    path = tmp_path / "taobao_orders_20261001.xlsx"
    assert write_store_orders(path, 300, day=date(2026, 10, 1)) == 300
    return path
