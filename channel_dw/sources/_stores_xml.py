"""The store workbook's sheet XML, read for the columnar path of :mod:`channel_dw.sources.stores`.

Before fastexcel (calamine) reads a sheet, the XML is checked for what the columnar path relies
on: one worksheet, no 1904 dates, number formats both readers read alike, nothing unusual in the
cells (:data:`_UNUSUAL`), and no row beyond a sheet's last (calamine aborts the process there: the
workbook is rejected). The rows the columnar path cannot clear are read back from the XML exactly
as openpyxl reads them (:meth:`_SheetXml.rows`). :class:`_Unsure` sends the workbook to the
per-record reader.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from openpyxl.cell.text import Text
from openpyxl.styles.stylesheet import Stylesheet
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._reader import WorkSheetParser
from openpyxl.xml.constants import SHEET_MAIN_NS
from openpyxl.xml.functions import fromstring

from channel_dw.sources import _zip_member

# The spreadsheet namespace openpyxl reads (not Strict OOXML's), as a part's root declares it.
MAIN_NS = b'xmlns="%s"' % SHEET_MAIN_NS.encode()


class _Unsure(Exception):
    """The columnar path cannot vouch for this workbook: the per-record reader reads it."""


def workbook_parts(zf: zipfile.ZipFile) -> tuple[str, bytes | None, bytes]:
    """The name of the workbook's one worksheet, its styles (None if it has none) and its shared
    strings (empty if none); :class:`_Unsure` for several sheets or 1904 dates."""
    sheet, styles, strings = workbook_layout(zf)
    return sheet, styles, _zip_member.read(zf, strings) if strings else b""


def workbook_layout(zf: zipfile.ZipFile) -> tuple[str, bytes | None, str | None]:
    """:func:`workbook_parts`, the shared strings by the name of their part (None if none), for
    a reader that inflates them itself."""
    names = zf.namelist()
    workbook = zf.read("xl/workbook.xml")
    sheets = [n for n in names if re.fullmatch(r"xl/worksheets/[^/]+\.xml", n)]
    if len(sheets) != 1 or workbook.count(b"<sheet ") != 1:
        raise _Unsure("not exactly one worksheet")
    if b"date1904" in workbook:
        raise _Unsure("1904 dates")
    styles = zf.read("xl/styles.xml") if "xl/styles.xml" in names else None
    strings = "xl/sharedStrings.xml" if "xl/sharedStrings.xml" in names else None
    return sheets[0], styles, strings


# Number formats both readers certainly read as numbers, or certainly as datetimes.
_PLAIN_BUILTINS = frozenset([*range(0, 14), *range(37, 45), 48, 49])
_DATE_BUILTINS = frozenset([*range(14, 23), 45, 47])
_DATE_LETTERS = re.compile(r"[dDmMyYhHsSeEgGbB年月日时分秒]")
_QUOTED = re.compile(r'"[^"]*"|\\.')


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
                sheet, styles, strings = workbook_parts(zf)
                data = _zip_member.read(zf, sheet)
        except (zipfile.BadZipFile, KeyError, OSError, EOFError, *_zip_member.ERRORS) as exc:
            raise _Unsure(f"zip: {exc!r}") from exc
        start = data.find(b"<worksheet")
        end = data.find(b">", start) + 1
        if start < 0 or b"<sheetData" not in data:
            raise _Unsure("an unusual sheet XML")
        found = _first_unusual(data) or _first_unusual(strings)
        if found and _BEYOND_LAST_ROW.fullmatch(found):
            row = int(re.sub("[^0-9]", "", found))
            raise _Damaged(beyond_the_last_row(row))
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

    def inexact_rows(self, columns: list[int]) -> np.ndarray:
        """The sheet rows with a number that is not an integer literal in one of these columns
        (the text and quantity columns): fastexcel renders such numbers with at most 9 decimals,
        openpyxl as they are."""
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


def beyond_the_last_row(row: int) -> str:
    """Why a workbook whose sheet holds that row is rejected (both fast paths say it)."""
    return (
        f"the sheet holds row {row:,}, beyond the last row a sheet can have (1,048,576): "
        "the workbook is damaged"
    )


class _Damaged(Exception):
    """The workbook is damaged in a way neither reader can be trusted to survive."""


_SLICE = 1 << 20


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
