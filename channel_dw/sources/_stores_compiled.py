"""The store workbook's sheet read in one pass of C, streamed: the stores reader's fast path.

:mod:`channel_dw.sources.stores` reads a workbook with openpyxl row by row (the per-record
reader, the reference) or here. Here the sheet's XML is inflated a chunk at a time (the first
1 MB, then 8 MB, each cut before the start of its last row) and each chunk goes through
``render_stores`` in ``_compiled_stores.c``, which for each row reads the contract cells, the
shared strings they name and the numbers (an Excel datetime as openpyxl's ``from_excel`` and the
reader's rounding to the second write it), checks every rule, and writes the row as COPY text.
The shared string table is indexed by the same C file as the rows need it
(:mod:`_stores_strings`); a string with markup, an entity, an escape (``_x000D_``), a control
character or white space at an end is left to openpyxl.

Three outcomes per row:

- **taken**: every contract cell is in a shape openpyxl reads exactly as the C does (a shared
  string of plain text, an integer, a number amount, an Excel datetime from 1901 on) and the row
  certainly passes every rule;
- **doubted** (any other cell: a formula, an inline string, a boolean, a rule that may fail...):
  the row's ``<row>`` element is parsed by openpyxl's own cell parser and goes through
  :func:`_stores_rows._item`, as in the per-record reader;
- **not followed** (a row out of order or without a number, a cell without a reference, bytes XML
  does not allow, an element where a row should be): the per-record reader reads the workbook
  again and its items from that row on follow. What came before is what it gives too.

A row number beyond a sheet's last rejects the workbook as damaged. The workbook as a whole goes
to the per-record reader (:class:`_Unsure`, before anything is read) when it has several sheets
or 1904 dates, or its parts cannot be read.
"""

from __future__ import annotations

import ctypes
import logging
import re
import zipfile
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from openpyxl.cell.text import Text
from openpyxl.styles.stylesheet import Stylesheet
from openpyxl.worksheet._reader import WorkSheetParser
from openpyxl.xml.constants import SHEET_MAIN_NS
from openpyxl.xml.functions import fromstring

from channel_dw.errors import FileRejected
from channel_dw.sources import _compiled as compiled
from channel_dw.sources import _zip_member, ahead
from channel_dw.sources import columnar as col
from channel_dw.sources._compiled import _pointer
from channel_dw.sources._stores_rows import (
    COLUMNS,
    STATUSES,
    _header_positions,
    _is_blank,
    _item,
)
from channel_dw.sources._stores_strings import SharedStrings
from channel_dw.sources._stores_xml import (
    MAIN_NS,
    _Unsure,
    beyond_the_last_row,
    workbook_layout,
)
from channel_dw.sources.base import REGION_CODES, Item

log = logging.getLogger(__name__)

FIRST_CHUNK_BYTES = 1 << 20  # the first chunk small, so that the COPY starts early
CHUNK_BYTES = 8 << 20
LAST_ROW = 1_048_576

# The kinds of the C pass (the enum of _compiled_stores.c), per contract column after platform.
FREE, MEMBER, MOBILE_OR_MASKED, TIME, SKU, WHOLE, AMOUNT, HALL = range(8)
_RULES = {
    "order_no": (FREE, True),
    "buyer_account": (FREE, False),
    "phone": (MOBILE_OR_MASKED, False),
    "created_time": (TIME, True),
    "paid_time": (TIME, False),
    "item": (FREE, False),
    "sku": (SKU, True),
    "quantity": (WHOLE, False),
    "amount_yuan": (AMOUNT, True),
    "status": (MEMBER, True),
    "member_id": (FREE, False),
    "pickup_hall": (HALL, False),
}
_KINDS = np.array([_RULES[c][0] for c in COLUMNS[1:]], dtype=np.int64)
_REQUIRED = np.array([_RULES[c][1] for c in COLUMNS[1:]], dtype=np.uint8)
_ROW = re.compile(rb"<row[\s>/]")


def read(
    path: Path, platform: str, per_record: Callable[[], Iterator[Item]]
) -> Iterator[col.Batch]:
    """The workbook's batches (the per-record reader's items, ``per_record()``, where it must
    take over). Raises :class:`_Unsure` before reading a row when the per-record reader must read
    the whole workbook."""
    book = _Book.open(path)
    return _Reading(book, path.name, platform, per_record).batches()


class _Book:
    """The workbook's parts the pass needs: its one sheet (inflated as it is read), the shared
    strings (indexed), which cell styles are dates, and openpyxl's cell parser for the rows the
    pass doubts."""

    def __init__(self, zf: zipfile.ZipFile, sheet: str, styles: bytes | None, sst: str | None):
        self.zf, self.sheet = zf, sheet
        self._sheet_chunks: Generator[tuple[bytes, int, bool]] | None = None
        self.parser = WorkSheetParser(None, None, data_only=True)
        self.style_kind = np.zeros(1, dtype=np.uint8)
        if styles is not None:
            sheet_styles = Stylesheet.from_tree(fromstring(styles))
            dates, durations = sheet_styles.date_formats, sheet_styles.timedelta_formats
            self.parser.date_formats, self.parser.timedelta_formats = dates, durations
            kinds = np.zeros(max([len(sheet_styles.cell_styles), *dates, *durations]) + 1, np.uint8)
            kinds[list(dates)] = 1
            kinds[list(durations)] = 2
            self.style_kind = kinds
        self.parser.shared_strings = self
        # Indexed as the rows need them (a block at a time, inflated on a thread of their own),
        # the first block here, so that a table the pass cannot read is known before a row.
        self.strings = SharedStrings(zf, sst)
        try:
            self.strings.more()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """The inflating threads done (the sheet's and the strings'), then the archive closed."""
        try:
            if self._sheet_chunks is not None:
                self._sheet_chunks.close()
            self.strings.close()
        finally:
            self.zf.close()

    @classmethod
    def open(cls, path: Path) -> _Book:
        try:
            zf = zipfile.ZipFile(path)
        except Exception as exc:  # not a zip: the per-record reader says so
            raise _Unsure(f"the workbook: {exc!r}") from exc
        try:
            return cls(zf, *workbook_layout(zf))
        except _Unsure:
            zf.close()  # (the strings' thread is done: closed by __init__)
            raise
        except Exception as exc:  # zip, XML and style errors: the per-record reader says which
            zf.close()
            raise _Unsure(f"the workbook's parts: {exc!r}") from exc

    def __getitem__(self, index: int) -> str:
        """A shared string as openpyxl reads it (for its cell parser)."""
        element = self.strings[index]
        node = fromstring(b'<sst xmlns="%s">' % SHEET_MAIN_NS.encode() + element + b"</sst>")
        return Text.from_tree(node[0]).content.replace("x005F_", "")

    def chunks(self) -> Generator[tuple[bytes, int, bool]]:
        """The sheet's XML as (data, end, last): data[:end] holds whole rows (it is cut before
        the start of its last row, or after its last ``</row>``); the rest follows in the next
        chunk, and the last chunk is whole. The next chunk is inflated and cut ahead, on a
        thread of its own (:func:`ahead.read_ahead`)."""
        self._sheet_chunks = ahead.read_ahead(self._cut())
        return self._sheet_chunks

    def _cut(self) -> Iterator[tuple[bytes, int, bool]]:
        # The rest of a chunk goes in front of the next one's inflated pieces in one copy, here
        # on the inflating thread: joined after the pieces, in the thread of the C pass, it was
        # a second copy of every block there, a tenth of that thread's time (perf, 2026-12-05).
        carry = b""
        for parts in _zip_member.pieces(self.zf, self.sheet, CHUNK_BYTES, FIRST_CHUNK_BYTES):
            data = b"".join((carry, *parts)) if carry or len(parts) > 1 else parts[0]
            cut = data.rfind(b"<row ", len(carry) // 2)
            if cut <= 0:
                cut = data.rfind(b"</row>") + len(b"</row>")
            if cut <= len(b"</row>"):
                carry = data  # no row ends in it yet
                continue
            yield data, cut, False
            carry = data[cut:]
        yield carry, len(carry), True

    def row_values(self, root: bytes, element: bytes) -> tuple[int, tuple[Any, ...]]:
        """A ``<row>`` element's number and cell values, as openpyxl's read-only sheet gives
        them."""
        tree = fromstring(root + b"<sheetData>" + element + b"</sheetData></worksheet>")
        (row,) = tree[0]
        number, cells = self.parser.parse_row(row)
        if not cells:
            return number, ()
        width = cells[-1]["column"]
        values: list[Any] = [None] * width
        for cell in cells:
            if 1 <= cell["column"] <= width:
                values[cell["column"] - 1] = cell["value"]
        return number, tuple(values)


class _TakeOver(Exception):
    """The per-record reader reads on from ``line``."""

    def __init__(self, line: int, why: str) -> None:
        super().__init__(why)
        self.line = line


class _Reading:
    def __init__(
        self, book: _Book, name: str, platform: str, per_record: Callable[[], Iterator[Item]]
    ) -> None:
        self.book, self.name, self.platform, self.per_record = book, name, platform, per_record
        self.root = b""
        self.positions = np.zeros(0, dtype=np.int64)
        self.last = 0  # the last sheet row read
        statuses = [s.encode() for s in STATUSES[platform]]
        regions = [r.encode() for r in sorted(REGION_CODES)]
        self.set_bounds = np.array([0, len(statuses), len(statuses) + len(regions)], np.int64)
        self.match_off, self.match_bytes = compiled._packed(statuses + regions)
        self.platform_bytes = platform.encode()

    def batches(self) -> Iterator[col.Batch]:
        try:
            yield from self._read()
        except _TakeOver as over:
            yield from self._per_record(over.line, str(over))
        except FileRejected:
            raise
        except Exception as exc:  # the zip's checksum, a chunk that does not inflate, ...
            yield from self._per_record(self.last + 1, repr(exc))
        finally:
            self.book.close()

    def _per_record(self, line: int, why: str) -> Iterator[col.Batch]:
        log.info("%s: read row by row from sheet row %d on (%s)", self.name, line, why)
        items = (item for item in self.per_record() if item.line >= line)
        yield from col.batches_from_items(COLUMNS, items)

    def _read(self) -> Iterator[col.Batch]:
        started = False
        for data, end, last in self.book.chunks():
            pos = 0
            if not started:
                pos = self._head(data, end)
                started = True
            if not len(self.positions):
                pos = self._header(data, pos, end)
                if not len(self.positions):
                    if last or data[pos:end].strip():
                        raise _TakeOver(self.last + 1, "no header row where the pass looks")
                    continue
            while True:
                batch, pos, over = self._chunk(data, pos, end)
                if batch.num_rows or batch.rejections:
                    yield batch
                if over is not None:
                    raise over
                if pos == end or not data.startswith(b"<row", pos):
                    break
            if pos < end or last:
                if not last:
                    raise _TakeOver(self.last + 1, "something else than a row among the rows")
                self._tail(data[pos:end])
                self.book.strings.until(-1)  # what rows did not name, and the table's end
                return

    def _head(self, data: bytes, end: int) -> int:
        """Where the rows start, after ``<sheetData>``; the XML before it checked."""
        start = data.find(b"<sheetData>", 0, end)
        tag = data.find(b"<worksheet", 0, max(start, 0))
        if start < 0 or tag < 0:
            raise _TakeOver(1, "no <sheetData> where the pass looks for it")
        self.root = data[tag : data.find(b">", tag) + 1]
        if MAIN_NS not in self.root:  # openpyxl reads rows of this namespace only (not Strict)
            raise _TakeOver(1, "the sheet is not in the spreadsheet namespace openpyxl reads")
        try:
            fromstring(data[:start] + b"</worksheet>")
        except Exception as exc:
            raise _TakeOver(1, f"the sheet's start: {exc!r}") from exc
        return start + len(b"<sheetData>")

    def _header(self, data: bytes, pos: int, end: int) -> int:
        """The rows up to the header (the first that is not blank), read by openpyxl; where
        they end."""
        while True:
            found = _ROW.search(data, pos, end)
            if found is None or data[pos : found.start()].strip():
                return pos
            stop = data.find(b">", found.start(), end)
            if stop > 0 and data[stop - 1] != ord("/"):
                stop = data.find(b"</row>", stop, end) + len(b"</row>") - 1
            if stop < 0:
                return pos
            line, values = self._parse(data[found.start() : stop + 1], self.last + 1)
            if line <= self.last or line > LAST_ROW:
                raise _TakeOver(self.last + 1, f"row {line} after row {self.last}")
            self.last, pos = line, stop + 1
            if not _is_blank(values):
                header = _header_positions(values, self.platform, self.name, line)
                self.positions = np.asarray(header, dtype=np.int64)
                return pos

    def _parse(self, element: bytes, line: int) -> tuple[int, tuple[Any, ...]]:
        try:
            return self.book.row_values(self.root, element)
        except Exception as exc:
            raise _TakeOver(line, f"a row openpyxl's parser cannot read: {exc!r}") from exc

    def _chunk(self, data: bytes, pos: int, end: int) -> tuple[col.Batch, int, _TakeOver | None]:
        """The rows of data[pos:end] the pass reads in one call: their batch, where the pass
        ended, and whether the per-record reader takes over from a row."""
        before = self.last
        text, taken, slow, stop, consumed = self._pass(data, pos, end)
        items: list[Item] = []
        over = _TakeOver(stop, "a row the pass does not follow") if stop >= 0 else None
        for line, start, stop_at in slow.tolist():
            try:
                _, values = self._parse(data[start:stop_at], line)
            except _TakeOver as failed:
                # Before that row the rows are the per-record reader's: the pass again up to it.
                self.last = before
                text, taken, _, _, _ = self._pass(data, pos, start)
                over = failed
                break
            if not _is_blank(values):
                items.append(_item(line, values, self.platform, self.positions.tolist()))
        batch = col.batch_from_items(COLUMNS, items)
        batch.text, batch.text_rows = text, taken
        return batch, consumed, over

    def _pass(self, data: bytes, pos: int, end: int) -> tuple[bytes, int, np.ndarray, int, int]:
        """render_stores over data[pos:end]: the COPY text, the rows taken, the rows doubted
        (number, start and end in data), the row to take over from (-1: none), and where the
        pass ended in data."""
        source = np.frombuffer(data, dtype=np.uint8, count=end - pos, offset=pos)
        # Room for every row (a row is 12 bytes at least; only what is written is touched) and
        # for as much COPY text as the chunk holds XML (a row is written shorter than its XML
        # unless its strings are long: the pass then stops early and is called again).
        slow = np.empty((len(source) // 12 + 1, 3), dtype=np.int64)
        out = np.empty(len(source) + (1 << 16), dtype=np.uint8)
        taken, n_slow, last = ctypes.c_int64(), ctypes.c_int64(), ctypes.c_int64(self.last)
        stop, consumed, beyond = ctypes.c_int64(), ctypes.c_int64(), ctypes.c_int64()
        wanting = ctypes.c_int64()
        book, strings = self.book, self.book.strings
        size = compiled._library().render_stores(
            _pointer(source), len(source), _pointer(self.positions), _pointer(_KINDS),
            _pointer(_REQUIRED), _pointer(self.set_bounds), _pointer(self.match_off),
            _pointer(self.match_bytes), _pointer(strings.data), _pointer(strings.text),
            strings.count, strings.complete, _pointer(book.style_kind),
            len(book.style_kind), self.platform_bytes, len(self.platform_bytes), _pointer(out),
            len(out), _pointer(slow), ctypes.byref(taken), ctypes.byref(n_slow),
            ctypes.byref(last), ctypes.byref(stop), ctypes.byref(consumed), ctypes.byref(beyond),
            ctypes.byref(wanting),
        )  # fmt: skip
        if beyond.value:
            raise FileRejected(self.name, None, "unreadable", beyond_the_last_row(beyond.value))
        if wanting.value:  # a row names a string not indexed yet: the caller calls again there
            strings.more()
        self.last = last.value
        found = slow[: n_slow.value].copy()
        found[:, 1:] += pos
        return out[:size].tobytes(), taken.value, found, stop.value, consumed.value + pos

    def _tail(self, rest: bytes) -> None:
        """After the last row: the end of the rows and of the sheet, as XML."""
        try:
            fromstring(self.root + b"<sheetData>" + rest)
        except Exception as exc:
            raise _TakeOver(self.last + 1, f"the sheet's end: {exc!r}") from exc
        if _ROW.search(rest):
            raise _TakeOver(self.last + 1, "a row after the rows")
