"""A store workbook's shared string table, indexed for the C pass as it inflates.

The pass (:mod:`_stores_compiled`) writes a cell's shared string from this index
(``index_strings`` in ``_compiled_sst.c``): each element's bounds in ``at``, its text in
``text``. A million orders' table is some 48 MB, and the rows used to wait for all of it: 0.1 s
at the start of a load while PostgreSQL had nothing to do. xlsxwriter, as Excel, writes the
strings in the order the rows first use them, so the first rows need only the first strings.

So the table inflates in blocks on a thread of its own, and each block is indexed up to its last
``</si>`` when the pass asks for a string past those indexed so far (:meth:`SharedStrings.more`):
every element that starts before that point ends there or before it, so the index of such a part
is the whole table's, its offsets moved by where the part starts. ``count`` is how many the pass
may use.

Strings are released that way only while the table is plain: the usual elements
(``<si><t>TEXT</t></si>``) with white space between them, whose index no XML parser could read
otherwise, after a start that an XML parser read (in the namespace openpyxl reads). At the first
element or gap that is not plain, the rest of the table is inflated and the whole table goes to
an XML parser, which must count as many ``<si>`` elements as the index, before any further
string is released. The table's end goes to that parser too. A table that fails either check
raises :class:`Unsure`: before the first row, the per-record reader reads the workbook; later,
it reads on from the row the pass had reached (the rows before used strings already checked).
"""

from __future__ import annotations

import ctypes
import pyexpat
import zipfile
from collections.abc import Generator, Iterator

import numpy as np

from channel_dw.sources import _compiled as compiled
from channel_dw.sources import _zip_member
from channel_dw.sources._compiled import _pointer
from channel_dw.sources._stores_xml import MAIN_NS
from channel_dw.sources._stores_xml import _Unsure as Unsure
from channel_dw.sources.ahead import read_ahead

FIRST_BLOCK = 1 << 20  # the first block small: the first rows wait for it
BLOCK = 4 << 20  # inflated and indexed a block at a time
RESERVED = 1 << 24  # 384 MB of index reserved at most (an 80 MB string table)


class SharedStrings:
    """The table's bytes (``data``), its elements' bounds (``at``) and texts (``text``, the
    packed form ``render_stores`` reads), the ``count`` of them indexed and checked so far, and
    whether that is all of them (``complete``)."""

    def __init__(self, zf: zipfile.ZipFile, name: str | None):
        size = zf.getinfo(name).file_size if name else 0
        self._blocks: Iterator[list[bytes]] = iter(())
        self._reading: Generator[list[bytes]] | None = None  # the inflating thread, if any
        if name:
            self._blocks = self._reading = read_ahead(
                _zip_member.pieces(zf, name, BLOCK, FIRST_BLOCK)
            )
        self.data = np.empty(size, dtype=np.uint8)
        # Room for every element, reserved rather than counted (42 ms for 48 MB of strings; the
        # memory is used only as it is filled), but counted for a very large table.
        cap = size // len(b"<si/>") + 1
        if cap > RESERVED:  # not a table a day's orders make: read whole, then indexed
            whole = b"".join(b"".join(parts) for parts in self._blocks)
            self._blocks, cap = iter([[whole]]), whole.count(b"<si") + 1
            self.data = np.empty(len(whole), dtype=np.uint8)
        self._cap = cap
        self.at = np.empty((cap, 2), dtype=np.int64)
        self.text = np.empty(cap, dtype=np.uint64)
        self.count = 0
        self.complete = False
        self.plain = True  # every element so far the usual one, white space between them
        self._indexed = self._filled = 0  # the bytes indexed, and inflated
        self._start: pyexpat.XMLParserType | None = None  # read the table's start, if any

    def close(self) -> None:
        """The inflating thread done (before the archive can be closed)."""
        if self._reading is not None:
            self._reading.close()

    def until(self, index: int) -> None:
        """Indexed (and checked) up to the string ``index``, or to the end of the table (all of
        it for -1)."""
        while (index < 0 or index >= self.count) and not self.complete:
            self.more()

    def more(self) -> None:
        """The next block indexed (with the rest of the table when the table is not plain),
        or the table's end checked."""
        self._next()
        while not self.plain and not self.complete:  # no string past here until the whole
            self._next()  # table is read as XML

    def _next(self) -> None:
        if self.complete:
            return
        parts = next(self._blocks, None)
        if parts is None:
            self._index(self._filled)
            self.data = self.data[: self._filled]
            self._check_the_end()
            self.complete = True
            return
        ends = []  # where each piece ends
        for part in parts:
            self.data[self._filled : self._filled + len(part)] = np.frombuffer(part, np.uint8)
            self._filled += len(part)
            ends.append(self._filled)
        for part, end in zip(reversed(parts), reversed(ends), strict=True):
            close = part.rfind(b"</si>")  # one that spans two pieces: an earlier one does
            if close >= 0:
                self._index(end - len(part) + close + len(b"</si>"))
                break

    def _index(self, end: int) -> None:
        """data[indexed:end] indexed, as the whole table would index there."""
        k, indexed, part_plain = self.count, self._indexed, ctypes.c_int64()
        got = compiled._library().index_strings(
            ctypes.c_char_p(self.data.ctypes.data + indexed), end - indexed,
            _pointer(self.at[k:]), _pointer(self.text[k:]), self._cap - k,
            ctypes.byref(part_plain),
        )  # fmt: skip
        if got < 0:
            raise Unsure("the shared strings could not be indexed")
        if got:
            self.at[k : k + got] += indexed
            text = self.text[k : k + got]
            # The text's start in the top 32 bits; past them the text is not written as it is.
            text[(text >> np.uint64(32)) + np.uint64(indexed) > np.uint64(0xFFFFFFFF)] = 0
            text[text != 0] += np.uint64(indexed) << np.uint64(32)
            between = self.data[self.at[k - 1, 1] : self.at[k, 0]] if k else None
            if between is not None and between.tobytes().strip(b" \t\r\n"):
                self.plain = False  # something between two <si>
        self.plain = self.plain and bool(part_plain.value)
        if got and not k:
            self._check_the_start()
        self.count += got
        self._indexed = end

    def _check_the_start(self) -> None:
        """What comes before the first ``<si>``, read by an XML parser, which reads the end
        after the last one (:meth:`_check_the_end`)."""
        head = self.data[: self.at[0, 0]].tobytes()
        if MAIN_NS not in head:
            raise Unsure("the shared strings are not in the namespace openpyxl reads")
        self._start = pyexpat.ParserCreate()
        self._parse(self._start, head, False)

    def _check_the_end(self) -> None:
        """A plain table: what follows the last ``</si>``, after the start. Any other: the
        whole table, with as many ``<si>`` elements in it as the index has."""
        if self.plain and self.count:
            assert self._start is not None
            self._parse(self._start, self.data[self.at[self.count - 1, 1] :].tobytes(), True)
            return
        if self.plain and not len(self.data):
            return
        elements, depth = 0, 0

        def start(name: str, attributes: object) -> None:
            nonlocal elements, depth
            depth += 1
            elements += depth == 2 and name.rpartition(" ")[2] == "si"

        def end(name: str) -> None:
            nonlocal depth
            depth -= 1

        whole = pyexpat.ParserCreate(namespace_separator=" ")
        whole.StartElementHandler, whole.EndElementHandler = start, end
        self._parse(whole, self.data.tobytes(), True)
        if elements != self.count:
            raise Unsure(f"the shared strings hold {elements} elements, the index {self.count}")

    @staticmethod
    def _parse(parser: pyexpat.XMLParserType, data: bytes, final: bool) -> None:
        try:
            parser.Parse(data, final)
        except pyexpat.ExpatError as exc:
            raise Unsure(f"the shared strings are not well-formed XML: {exc}") from exc

    def __getitem__(self, index: int) -> bytes:
        """The element of the string ``index`` (its bytes)."""
        self.until(index)
        if not 0 <= index < self.count:
            raise IndexError(index)
        start, end = self.at[index].tolist()
        return self.data[start:end].tobytes()
