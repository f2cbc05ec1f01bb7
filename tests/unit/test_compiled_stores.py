"""The C pass over a store workbook's sheet XML (:mod:`_stores_compiled`) against openpyxl.

Each case edits the XML of a real workbook (xlsxwriter's, as the vendors'), in a way the pass
must either read exactly as openpyxl does, or leave to openpyxl: a row to its cell parser
("doubted"), or the rest of the sheet to the per-record reader ("taken over"). Every case asserts
the items equal the per-record reader's, and which of the three happened.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest

from channel_dw.errors import FileRejected
from channel_dw.sources import _stores_compiled, _stores_rows, _stores_strings, stores
from channel_dw.sources import columnar as col
from channel_dw.sources._stores_rows import COLUMNS
from channel_dw.sources.base import Item
from tests.unit.test_columnar_stores import _order, _write

SHEET = "xl/worksheets/sheet1.xml"
STRINGS = "xl/sharedStrings.xml"


def _workbook(folder: Path, rows: int = 40, excel_times: bool = True) -> Path:
    orders = [_order("taobao", i, excel_times, i % 2 == 0) for i in range(rows)]
    header = _stores_rows.PLATFORM_HEADERS["taobao"]
    return _write(folder / "taobao_orders_20261001.xlsx", header, orders)


def _rewrite(path: Path, part: str, edit: Callable[[bytes], bytes]) -> Path:
    """The workbook with one part's bytes edited (the other parts as they were)."""
    with zipfile.ZipFile(path) as zf:
        parts = {name: zf.read(name) for name in zf.namelist()}
    parts[part] = edit(parts[part])
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    return path


def _row(data: bytes, number: int) -> bytes:
    start = data.index(b'<row r="%d"' % number)
    return data[start : data.index(b"</row>", start) + 6]


def _replace_row(number: int, edit: Callable[[bytes], bytes]) -> Callable[[bytes], bytes]:
    def apply(data: bytes) -> bytes:
        row = _row(data, number)
        return data.replace(row, edit(row), 1)

    return apply


def _read(path: Path) -> tuple[list[Item], list[int], list[int]]:
    """The C path's items, the rows openpyxl's cell parser read again, and the rows from which
    the per-record reader took over."""
    doubted: list[int] = []
    taken_over: list[int] = []
    item = _stores_compiled._item

    def per_record() -> Iterator[Item]:
        taken_over.append(True)
        return stores.read_rows(path)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(
            _stores_compiled, "_item", lambda line, *a: doubted.append(line) or item(line, *a)
        )
        mp.setattr(
            _stores_compiled._Reading,
            "_per_record",
            _recording(_stores_compiled._Reading._per_record, taken_over),
        )
        batches = _stores_compiled.read(path, "taobao", per_record)
        items = list(col.items_from_batches(COLUMNS, batches))
    return items, doubted, [line for line in taken_over if line is not True]


def _recording(method, seen: list) -> Callable:
    def wrapper(self, line, why):
        seen.append(line)
        return method(self, line, why)

    return wrapper


def _same(path: Path) -> tuple[list[int], list[int]]:
    """The rows doubted and taken over by the C path, which gave the per-record reader's items
    (or its rejection of the workbook: then no row is doubted or taken over)."""
    try:
        reference = list(stores.read_rows(path))
    except FileRejected as exc:
        with pytest.raises(FileRejected) as caught:
            _read(path)
        assert (caught.value.line, caught.value.rule, caught.value.message) == (
            exc.line,
            exc.rule,
            exc.message,
        )
        return [exc.line or 0], []
    items, doubted, taken_over = _read(path)
    assert items == reference
    return doubted, taken_over


# --- cells the pass reads as openpyxl does, or leaves to its cell parser ----------------------


@pytest.mark.parametrize(
    ("cell", "value", "doubted"),
    [
        # a formula's cached value, an inline string, a boolean, an error, a formula's text
        ("A", b'<c r="A{n}" t="s"><f>"X"</f><v>{s}</v></c>', True),
        ("A", b'<c r="A{n}" t="inlineStr"><is><t>T9</t></is></c>', True),
        ("A", b'<c r="A{n}" t="b"><v>1</v></c>', True),
        ("A", b'<c r="A{n}" t="e"><v>#N/A</v></c>', True),
        ("A", b'<c r="A{n}" t="str"><v>T9</v></c>', True),
        # numbers in a text column: an integer as it stands, others doubted
        ("A", b'<c r="A{n}"><v>4261001</v></c>', False),
        ("A", b'<c r="A{n}"><v>-17</v></c>', False),
        ("A", b'<c r="A{n}"><v>007</v></c>', True),
        ("A", b'<c r="A{n}"><v>-0</v></c>', True),
        ("A", b'<c r="A{n}"><v>1.5</v></c>', True),
        ("A", b'<c r="A{n}"><v>1E3</v></c>', True),
        ("A", b'<c r="A{n}" t="n"><v>12</v></c>', False),
        ("A", b'<c r="A{n}"><v></v></c>', True),  # no value: a missing order number
        ("A", b'<c r="A{n}" s="1"><v>46296.5</v></c>', True),  # a date in a text column
        ("C", b'<c r="C{n}"><v>13812345678</v></c>', True),  # a number for the phone
        # amounts as numbers: written with two decimals, or doubted
        ("I", b'<c r="I{n}"><v>199</v></c>', False),
        ("I", b'<c r="I{n}"><v>199.5</v></c>', False),
        ("I", b'<c r="I{n}"><v>-0.5</v></c>', False),
        ("I", b'<c r="I{n}"><v>199.005</v></c>', True),
        ("I", b'<c r="I{n}"><v>-0.0</v></c>', True),
        ("I", b'<c r="I{n}"><v>0199</v></c>', True),
        ("I", b'<c r="I{n}"><v>1e2</v></c>', True),
        ("I", b'<c r="I{n}"><v>1234567890123</v></c>', True),  # 13 digits: doubted
        # quantities: a whole number as it stands
        ("H", b'<c r="H{n}"><v>3</v></c>', False),
        ("H", b'<c r="H{n}"><v>-3</v></c>', True),
        ("H", b'<c r="H{n}"><v>3.0</v></c>', True),
        # Excel datetimes (style 1 is xlsxwriter's date format here)
        ("D", b'<c r="D{n}" s="1"><v>46296.500005787</v></c>', False),  # .5 s: rounded up
        ("D", b'<c r="D{n}" s="1"><v>46296.499994213</v></c>', False),
        ("D", b'<c r="D{n}" s="1"><v>46296.999999</v></c>', False),  # into the next day
        ("D", b'<c r="D{n}" s="1"><v>367</v></c>', False),  # 1901-01-01
        ("D", b'<c r="D{n}" s="1"><v>366.5</v></c>', True),  # 1900: Excel's quirks
        ("D", b'<c r="D{n}" s="1"><v>2958465.5</v></c>', True),  # past 9999-12-30
        ("D", b'<c r="D{n}"><v>46296.5</v></c>', True),  # a number, no date format
        ("D", b'<c r="D{n}" s="7"><v>46296.5</v></c>', True),  # a style the book lacks
        # attributes in another order, quoted otherwise, and ones openpyxl ignores
        ("A", b"<c t='s' r='A{n}'><v>{s}</v></c>", False),
        ("A", b'<c r="A{n}" t="s" cm="1" vm="2"><v>{s}</v></c>', False),
        ("A", b'<c r="A{n}"  t="s" ><v>{s}</v></c>', False),
        ("A", b'<c r="A{n}" t="s"><v>{s}</v> </c>', False),
        # the usual tag (r, then s, then t) is read by a short path: tags just off it
        ("A", b'<c r="A{n}" s="0" t="s"><v>{s}</v></c>', False),
        ("A", b'<c r="A{n}" t="s" s="0"><v>{s}</v></c>', False),
        ("A", b'<c r="A{n}"\tt="s"><v>{s}</v></c>', False),
        ("A", b'<c r="A0{n}" t="s"><v>{s}</v></c>', False),  # the row's number, written longer
        ("A", b'<c r="A1{n}" t="s"><v>{s}</v></c>', True),  # other rows' references
        ("A", b'<c r="A13" t="s"><v>{s}</v></c>', True),
        ("A", b'<c r="A{n}" t="S"><v>{s}</v></c>', True),
        ("A", b'<c r="A{n}" t=""><v>{s}</v></c>', True),
        ("A", b'<c r="A{n}" s="" t="s"><v>{s}</v></c>', True),
        ("D", b'<c r="D{n}" s="000000001"><v>46296.5</v></c>', False),
        ("D", b'<c r="D{n}" s="0000000001"><v>46296.5</v></c>', False),
        ("A", b'<c r="A{n}" t="s"><v>999999</v></c>', True),  # no such shared string
        ("A", b'<c r="A{n}" t="s"><v> 3</v></c>', True),
        ("A", b'<c r="A{n}" t="s"><v>&#51;</v></c>', True),
    ],
)
def test_a_cell_reads_as_openpyxl_reads_it(tmp_path, cell, value, doubted):
    path = _workbook(tmp_path)
    sheet = zipfile.ZipFile(path).read(SHEET)
    row = _row(sheet, 12)
    old = re.search(rb'<c r="' + cell.encode() + rb'12"[^>]*(?:/>|>.*?</c>)', row).group(0)
    index = re.search(rb"<v>(\d+)</v>", _row(sheet, 12)).group(1)
    new = value.replace(b"{n}", b"12").replace(b"{s}", index)
    _rewrite(path, SHEET, _replace_row(12, lambda r: r.replace(old, new, 1)))

    seen, taken_over = _same(path)

    assert (seen == [12], taken_over) == (doubted, [])


@pytest.mark.parametrize(
    ("text", "doubted"),
    [
        (b"<t>T&amp;1</t>", True),  # an entity
        (b"<t>T_x000D_1</t>", True),  # an escape openpyxl may read otherwise
        (b"<t>Tx005F_1</t>", True),
        (b"<t> T1</t>", True),  # white space at an end: strip() changes it
        (b"<t>T1\xe3\x80\x80</t>", True),  # U+3000
        (b"<t>T1\xc2\xa0</t>", True),  # U+00A0
        (b"<t>T\t1</t>", True),  # a tab: COPY escapes it
        (b"<t>T\\1</t>", True),  # a backslash, likewise
        (b"<r><t>T</t></r><r><t>1</t></r>", True),  # rich text
        (b'<t xml:space="preserve">T1</t>', False),
        (b"<t>\xe8\xaf\xaf\xe5\xb7\xae</t>", False),  # 误差: its last byte also ends a space
        (b"<t>\xc2\xa5T1</t>", False),  # ¥ starts with the byte U+00A0 starts with
        (b"<t></t>", False),  # empty: None, a missing order number
        (b'<t>T1</t><rPh sb="0" eb="1"><t>x</t></rPh>', True),  # a reading guide after it
        (b"<t>T1></t>", True),  # a bare > (well-formed)
        (b"<t>T1x005</t>", False),  # x005F_'s start at the end
        (b"<t>T1_</t>", False),
    ],
)
def test_a_shared_string_is_written_only_when_plain(tmp_path, text, doubted):
    path = _workbook(tmp_path)
    sheet = zipfile.ZipFile(path).read(SHEET)
    index = int(re.search(rb'<c r="A12" t="s"><v>(\d+)</v>', sheet).group(1))

    def edit(sst: bytes) -> bytes:
        elements = list(re.finditer(rb"<si>.*?</si>", sst, flags=re.S))
        target = elements[index]
        return sst[: target.start()] + b"<si>" + text + b"</si>" + sst[target.end() :]

    _rewrite(path, STRINGS, edit)
    seen, taken_over = _same(path)

    assert (12 in seen, taken_over) == (doubted or text == b"<t></t>", [])


def test_a_large_string_table_is_counted_rather_than_reserved(tmp_path, monkeypatch):
    monkeypatch.setattr(_stores_strings, "RESERVED", 3)
    path = _workbook(tmp_path)

    assert _same(path) == ([], [])  # every string indexed: no row doubted
    assert sum(batch.text_rows for batch in stores.read_batches(path)) == 40  # all by the pass


# --- structures the pass does not follow: the per-record reader takes over ---------------------


@pytest.mark.parametrize(
    ("edit", "from_row"),
    [
        (lambda r: r.replace(b'<row r="12"', b"<row", 1), 12),  # a row without its number
        (lambda r: r.replace(b'<c r="B12"', b"<c", 1), 12),  # a cell without its reference
        (lambda r: r.replace(b'<c r="B12"', b'<c r="b12"', 1), 12),
        (lambda r: r.replace(b'<row r="12"', b'<row r="11"', 1), 12),  # out of order
        (lambda r: r.replace(b"<v>", b"<v>\x01", 1), 12),  # a byte XML does not allow
        (lambda r: r.replace(b'r="12"', b'r="12"r="12"', 1), 12),
        (lambda r: r.replace(b'<row r="12"', b'<row r="12" ht="15" ht="15"', 1), 12),
        (lambda r: r.replace(b'<c r="B12"', b'<c cm="1" r="B12" cm="1"', 1), 12),
        (lambda r: b"<!-- a comment -->" + r, 12),  # something else than a row
    ],
)
def test_a_structure_the_pass_does_not_follow_is_read_by_openpyxl_from_its_row(
    tmp_path, edit, from_row
):
    path = _rewrite(_workbook(tmp_path), SHEET, _replace_row(12, edit))

    doubted, taken_over = _same(path)

    assert taken_over == [from_row] or doubted == [from_row]  # (rejected at that row)


@pytest.mark.parametrize("part", [SHEET, STRINGS])
def test_a_part_in_another_namespace_is_left_to_openpyxl(tmp_path, part):
    """Strict OOXML names the spreadsheet namespace otherwise: openpyxl finds no rows (or no
    strings) there and rejects the workbook; the pass, which does not look at namespaces, must
    not read them either."""
    strict = b'xmlns="http://purl.oclc.org/ooxml/spreadsheetml/main"'
    main = b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    path = _rewrite(_workbook(tmp_path), part, lambda d: d.replace(main, strict, 1))
    with pytest.raises(FileRejected) as expected:
        list(stores.read_rows(path))

    with pytest.raises(FileRejected) as caught:
        list(stores.read_batches(path))

    assert (caught.value.line, caught.value.rule, caught.value.message) == (
        expected.value.line,
        expected.value.rule,
        expected.value.message,
    )


def test_a_pretty_printed_sheet_is_read_by_the_pass(tmp_path):
    """White space between the elements (an exporter that indents its XML)."""

    def indent(data: bytes) -> bytes:
        rows = data.replace(b"<row ", b"\n  <row ").replace(b"<c ", b"\n    <c ")
        return rows.replace(b"</row>", b"\n  </row>").replace(b"</sheetData>", b"\n</sheetData>")

    path = _rewrite(_workbook(tmp_path), SHEET, indent)

    assert _same(path) == ([], [])


def test_blank_rows_self_closing_rows_and_gaps_read_as_openpyxl_reads_them(tmp_path):
    def edit(data: bytes) -> bytes:
        data = data.replace(_row(data, 20), b'<row r="20" spans="1:12"/>')
        data = data.replace(_row(data, 21), b'<row r="21"><c r="A21" s="1"/></row>')
        return data.replace(_row(data, 22), b"")  # a gap

    path = _rewrite(_workbook(tmp_path), SHEET, edit)

    assert _same(path) == ([], [])


@pytest.mark.parametrize("chunk", [64, 700, 5000])
@pytest.mark.parametrize("threads", ["1", "2"])
def test_the_chunks_seams_change_nothing(tmp_path, monkeypatch, chunk, threads):
    """Chunks of a few bytes to a few rows (every seam inside a row, a row over several
    reads), with the next chunk inflated beside the pass or not."""
    monkeypatch.setattr(_stores_compiled, "FIRST_CHUNK_BYTES", chunk // 2)
    monkeypatch.setattr(_stores_compiled, "CHUNK_BYTES", chunk)
    monkeypatch.setenv("DW_READER_THREADS", threads)
    path = _workbook(tmp_path, rows=200, excel_times=False)

    assert _same(path) == ([], [])


def test_the_inflating_threads_are_done_before_the_workbook_closes(tmp_path, monkeypatch):
    """The per-record reader takes over mid-sheet: the sheet's next chunk and the strings' next
    block, being inflated on their threads, are finished (and dropped) before the archive they
    read closes."""
    monkeypatch.setattr(_stores_compiled, "FIRST_CHUNK_BYTES", 700)
    monkeypatch.setattr(_stores_compiled, "CHUNK_BYTES", 700)
    monkeypatch.setattr(_stores_strings, "BLOCK", 300)
    monkeypatch.setattr(_stores_strings, "FIRST_BLOCK", 300)
    path = _workbook(tmp_path, rows=200, excel_times=False)
    path = _rewrite(path, SHEET, _replace_row(150, lambda r: r.replace(b'r="150"', b'r="149"', 1)))
    running: list[bool] = []
    close = _stores_compiled._Book.close

    def closing(book):
        readers = (book._sheet_chunks, book.strings._reading)
        book.zf.close = lambda: running.extend(g.gi_frame is not None for g in readers)
        close(book)

    monkeypatch.setattr(_stores_compiled._Book, "close", closing)

    assert _same(path)[1] == [150]
    assert running == [False, False]


def test_a_row_longer_than_the_output_room_is_written_by_the_per_record_path(tmp_path):
    """The pass writes into room for about as much text as the chunk holds XML: a row whose
    strings are longer than all of it goes to openpyxl, the others are written in several
    calls."""
    long_item = "商品" * 5000
    orders = [_order("taobao", i, True, False) for i in range(30)]
    for order in orders[::3]:
        order[5] = long_item
    path = _write(
        tmp_path / "taobao_orders_20261001.xlsx", _stores_rows.PLATFORM_HEADERS["taobao"], orders
    )

    seen, taken_over = _same(path)

    assert taken_over == [] and len(seen) <= 10


def test_a_row_beyond_the_last_row_rejects_the_workbook(tmp_path):
    path = _rewrite(
        _workbook(tmp_path), SHEET, lambda d: d.replace(b'<row r="30"', b'<row r="2000000"', 1)
    )

    with pytest.raises(FileRejected) as caught:
        list(stores.read_batches(path))

    assert (caught.value.line, caught.value.rule) == (None, "unreadable")
    assert caught.value.message == (
        "the sheet holds row 2,000,000, beyond the last row a sheet can have (1,048,576): "
        "the workbook is damaged"
    )


def test_a_damaged_end_of_the_sheet_is_the_per_record_readers_rejection(tmp_path):
    path = _rewrite(
        _workbook(tmp_path), SHEET, lambda d: d.replace(b"</worksheet>", b"</worksheet", 1)
    )
    with pytest.raises(FileRejected) as expected:
        list(stores.read_rows(path))

    with pytest.raises(FileRejected) as caught:
        _read(path)

    assert caught.value.message == expected.value.message and caught.value.rule == "unreadable"


def test_excel_datetimes_read_as_openpyxl_reads_them(tmp_path):
    """A spread of serials with fractions near every rounding edge."""
    times = [
        datetime(1901, 1, 1),
        datetime(2026, 10, 1, 8, 15, 1, 499_000),
        datetime(2026, 10, 1, 8, 15, 1, 500_000),
        datetime(2026, 12, 31, 23, 59, 59, 999_000),
        datetime(2028, 2, 29, 12),
        datetime(9999, 12, 30, 23, 59, 59),
    ]
    year = datetime(2027, 1, 1) - datetime(2026, 1, 1)
    times += [datetime(2026, 1, 1) + year * k / 97 for k in range(97)]
    orders = [_order("taobao", i, True, False) for i in range(len(times))]
    for order, when in zip(orders, times, strict=True):
        order[3] = when
    path = _write(
        tmp_path / "taobao_orders_20261001.xlsx", _stores_rows.PLATFORM_HEADERS["taobao"], orders
    )

    seen, taken_over = _same(path)

    assert (seen, taken_over) == ([], [])


_ODD_STRINGS = (
    b'\n  <si/><si><t xml:space="preserve"> a </t></si>\n<si><r><t>x</t></r><r><t>y</t></r></si>'
    b"<si><t>a&amp;b</t></si><si><t></t></si>"
)


def _indexed_whole(sst: bytes) -> tuple:
    """The shared strings indexed in one call, as they were before 2026-12-05."""
    import ctypes

    import numpy as np

    from channel_dw.sources import _compiled

    cap = len(sst) // 5 + 1
    at, text = np.empty((cap, 2), np.int64), np.empty(cap, np.uint64)
    plain = ctypes.c_int64()
    n = _compiled._library().index_strings(
        sst, len(sst), _compiled._pointer(at), _compiled._pointer(text), cap, ctypes.byref(plain)
    )
    return n, at[:n].tolist(), text[:n].tolist(), bool(plain.value)


@pytest.mark.parametrize("case", ["plain", "odd", "between"])
@pytest.mark.parametrize("block", [5, 37, 300, 4 << 20, "at the seam"])
def test_the_shared_strings_indexed_block_by_block_are_indexed_as_a_whole(
    tmp_path, monkeypatch, case, block
):
    """Each inflated block of the shared strings is indexed up to its last ``</si>`` while the
    next one inflates: the same index as the table indexed whole, whatever the seams, with the
    usual elements only ("plain") or elements of every shape ("odd"). Something between two
    elements of a plain table (here an element that is not closed) makes it not plain, so that
    the whole table goes to an XML parser, which refuses it, whichever part it falls in."""
    path = _workbook(tmp_path, rows=60)
    odd = {"plain": b"", "odd": _ODD_STRINGS, "between": b"<x>"}[case]

    def edit(sst: bytes) -> bytes:
        at = [m.end() for m in re.finditer(rb"</si>", sst)]
        again = b"" if case == "between" else odd  # once: only where the seam is, below
        return sst[: at[5]] + odd + sst[at[5] : at[30]] + again + sst[at[30] :]

    _rewrite(path, STRINGS, edit)
    sst = zipfile.ZipFile(path).read(STRINGS)
    if block == "at the seam":  # the first block ends where the first insertion starts
        block = [m.end() for m in re.finditer(rb"</si>", sst)][5]
    monkeypatch.setattr(_stores_strings, "BLOCK", block)
    monkeypatch.setattr(_stores_strings, "FIRST_BLOCK", block)
    n, at, text, plain = _indexed_whole(sst)
    assert plain == (case == "plain") and n > 60

    if case == "between":
        with pytest.raises(_stores_compiled._Unsure, match="not well-formed"):
            _stores_compiled._Book.open(path).strings.until(n)
        return
    strings = _stores_compiled._Book.open(path).strings
    strings.until(n)
    assert strings.count == n
    assert strings.at[:n].tolist() == at
    assert strings.text[:n].tolist() == text
    assert strings.data.tobytes() == sst


@pytest.mark.parametrize("case", ["plain", "odd"])
@pytest.mark.parametrize("block", [5, 300, 5000])
def test_rows_read_while_the_shared_strings_are_indexed_read_as_openpyxl_reads_them(
    tmp_path, monkeypatch, case, block
):
    """The pass reads rows while the table is indexed block by block, and waits for the next
    block at a row that names a string past those indexed. A table that is not plain is read
    whole by an XML parser before a string past its first odd element is used."""
    path = _workbook(tmp_path, rows=60)
    if case == "odd":
        _rewrite(path, STRINGS, lambda sst: sst.replace(b"</si>", b"</si>" + _ODD_STRINGS, 1))
    monkeypatch.setattr(_stores_strings, "BLOCK", block)
    monkeypatch.setattr(_stores_strings, "FIRST_BLOCK", block)
    waited = []
    more = _stores_strings.SharedStrings.more
    monkeypatch.setattr(
        _stores_strings.SharedStrings, "more", lambda self: waited.append(1) or more(self)
    )

    seen, taken_over = _same(path)

    assert (seen == [], taken_over) == (case == "plain", [])  # odd: rows naming odd elements
    if case == "plain":  # (the odd table is read whole at its first odd element)
        assert len(waited) >= (2 if block == 5000 else 9)  # the blocks, then the end


def _after_element(number: int, inserted: bytes) -> Callable[[bytes], bytes]:
    def edit(sst: bytes) -> bytes:
        at = [m.end() for m in re.finditer(rb"</si>", sst)][number]
        return sst[:at] + inserted + sst[at:]

    return edit


@pytest.mark.parametrize(
    ("edit", "why"),
    [
        (lambda sst: sst.replace(b"</sst>", b"</sst", 1), "not well-formed"),
        (_after_element(60, b"<!-- <si><t>x</t></si> -->"), "hold 108 elements, the index 109"),
        (_after_element(60, b"<si><t><![CDATA[</t></si><si><t>]]></t></si>"), "hold 109"),
    ],
)
def test_shared_strings_found_wrong_after_the_first_rows_leave_the_rest_to_openpyxl(
    tmp_path, monkeypatch, caplog, edit, why
):
    """A table whose end is not XML, or that holds ``<si>`` where an XML parser does not (in a
    comment, in CDATA: the index would be one off from there), is found so only after the pass
    has read the first rows: the per-record reader reads on from there (and rejects the
    workbook where openpyxl does)."""
    path = _rewrite(_workbook(tmp_path, rows=60), STRINGS, edit)
    monkeypatch.setattr(_stores_strings, "BLOCK", 300)
    monkeypatch.setattr(_stores_strings, "FIRST_BLOCK", 300)
    try:
        expected = list(stores.read_rows(path))
    except FileRejected as exc:
        expected = [(exc.line, exc.rule, exc.message)]

    with caplog.at_level("INFO"):
        try:
            items = list(col.items_from_batches(COLUMNS, stores.read_batches(path)))
        except FileRejected as exc:
            items = [(exc.line, exc.rule, exc.message)]

    assert items == expected
    taken_over = re.search(r"read row by row from sheet row (\d+) on \((.*)\)", caplog.text)
    assert int(taken_over.group(1)) > 2 and why in taken_over.group(2)
