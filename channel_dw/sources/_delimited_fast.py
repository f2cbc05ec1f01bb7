"""The fast paths of the delimited readers (hotline, halls, crm).

The header is read and judged by :mod:`_delimited` as before. The rest of the file is read in
chunks cut at a line end outside quotes. Each source declares its row rules once, as
:class:`Rules` (a subset of what :class:`_delimited.RowChecks` admits). A chunk with no quote
character (a record is then a line) that decodes goes through the compiled pass
(:mod:`_compiled`: split, checked and rendered as COPY text in one pass of C); the lines it does
not take go through the per-record path. Other chunks, and every chunk where no C compiler was
found, take the columnar path (:mod:`columnar`), which gives the same rows and rejections:

The chunk is transcoded to UTF-8 (GBK for the hotline: its values are split as bytes first and
decoded by distinct value, see :func:`_decoded`), parsed by pyarrow's CSV reader into text
columns, and :meth:`Rules.clear` gives vectorised masks of the records that certainly pass the
source's rules. Every other record, a chunk pyarrow cannot split, and a chunk that does not decode
go through the per-record path of :mod:`_delimited`, which decides rule, message and line.

A record the fast path takes has no quote character on its line (so a record is a line), no
value with white space at either end, and no NUL; an empty value is NULL, as ``strip() or None``
makes it. :meth:`Rules.clear` returns a mask per column it constrains (their patterns admit no
white space at either end) and cross-field masks under other keys; the other columns are checked
for white space.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from channel_dw.errors import FileRejected
from channel_dw.sources import _compiled as compiled
from channel_dw.sources import ahead
from channel_dw.sources import columnar as col
from channel_dw.sources._delimited import (
    UTF8_BOM,
    DelimitedLayout,
    _decoded_lines,
    _header_order,
    bounded_line,
    read_delimited,
    records_of,
)
from channel_dw.sources.columnar import items_from_batches

__all__ = ["items_from_batches", "read_delimited_batches"]

CHUNK_BYTES = 8 << 20
Mask = pa.Array | pa.ChunkedArray
Columns = dict[str, pa.Array]

# --- masks for the row checks of RowChecks: True where the value certainly passes -------------

LOCAL_DATETIME = rf"^{col.certain_date()} {col.certain_time()}$"
LOCAL_DATE = rf"^{col.certain_date()}$"
LANDLINE = r"^0[0-9]{2,3}-?[0-9]{7,8}$"
DECIMAL_YUAN = r"^-?[0-9]+(?:\.[0-9]{1,2})?$"


def required(values: Mask, test: Callable[[Mask], Mask] | None = None) -> Mask:
    """Present, and passing ``test`` when one is given."""
    if test is None:
        return pc.is_valid(values)
    return pc.and_(pc.is_valid(values), pc.fill_null(test(values), False))


def optional(values: Mask, test: Callable[[Mask], Mask]) -> Mask:
    """Empty, or passing ``test``."""
    return col.null_or(values, test(values))


def pattern(regex: str) -> Callable[[Mask], Mask]:
    return partial(col.matches, pattern=regex)


def member_of(allowed: Sequence[str]) -> Callable[[Mask], Mask]:
    return partial(col.one_of, values=allowed)


def local_datetime(values: Mask) -> Mask:
    """LOCAL_DATETIME, on the value bytes where they allow (:func:`columnar.certain_datetimes`)."""
    quick = col.certain_datetimes(values)
    return col.matches(values, LOCAL_DATETIME) if quick is None else quick


local_date = pattern(LOCAL_DATE)
mobile = pattern(col.MOBILE_SHAPES)
mobile_or_landline = pattern(f"{col.MOBILE_SHAPES}|{LANDLINE}")
decimal = pattern(DECIMAL_YUAN)


# --- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rules:
    """A source's row rules for its fast paths, a subset of what its ``RowChecks`` admit: a
    :class:`_compiled.Rule` per contract column and the cross-field rules. The compiled pass
    (:mod:`_compiled`) reads them as they are; the columnar path as masks (:meth:`clear`)."""

    columns: dict[str, compiled.Rule]
    same_prefix: tuple[compiled.SamePrefix, ...] = ()

    def plan(self, columns: Sequence[str], order: Sequence[int], encoding: str) -> compiled.Plan:
        return compiled.Plan(columns, self.columns, order, encoding, b",", self.same_prefix)

    def clear(self, c: Columns) -> dict[str, Mask]:
        """The records that certainly pass, in columns: a mask per column the rules constrain,
        one for each required free text (\"given\"; its text is checked as the others' is) and
        one per cross-field rule."""
        masks: dict[str, Mask] = {}
        for name, rule in self.columns.items():
            if rule.kind == compiled.FREE:
                if rule.required:
                    masks[f"{name} given"] = required(c[name])
                continue
            test = _mask_test(rule)
            key = f"{name} has @" if rule.kind == compiled.HAS_AT else name
            masks[key] = required(c[name], test) if rule.required else optional(c[name], test)
        for p in self.same_prefix:
            prefix = pc.utf8_slice_codeunits(c[p.whole], 0, p.length)
            masks[f"{p.whole} starts with {p.part}"] = pc.equal(prefix, c[p.part])
        return masks


def _mask_test(rule: compiled.Rule) -> Callable[[Mask], Mask]:
    if rule.kind == compiled.MEMBER:
        return member_of(rule.values)
    if rule.kind == compiled.HALL_CODE:
        return pattern(rf"^(?:{'|'.join(sorted(rule.values))})-[0-9]{{4}}$")
    if rule.kind == compiled.HAS_AT:
        return partial(pc.match_substring, pattern="@")
    return {
        compiled.MOBILE: mobile,
        compiled.MOBILE_OR_LANDLINE: mobile_or_landline,
        compiled.DATETIME: local_datetime,
        compiled.DATE: local_date,
        compiled.YUAN: decimal,
    }[rule.kind]


def read_delimited_batches(
    path: Path, layout: DelimitedLayout, columns: Sequence[str], rules: Rules
) -> Iterator[col.Batch]:
    """The batches of a delimited export under the source's row ``rules`` (by contract column
    name): the compiled pass reads every chunk it can, the columnar path the others."""
    name = path.name
    with path.open("rb") as binary:
        has_bom = binary.read(len(UTF8_BOM)) == UTF8_BOM
        if not has_bom:
            binary.seek(0)
        encoding = "utf-8" if has_bom else layout.encoding
        first_line = bounded_line(binary, name, 1)
        if first_line.count(b'"') % 2:  # a header over several lines: the per-record path
            binary.close()
            yield from col.batches_from_items(columns, read_delimited(path, layout))
            return
        consumed: list[str] = []
        header = csv.reader(_decoded_lines([first_line], encoding, name, consumed))
        order = _header_order(header, name, layout, encoding, has_bom, consumed)
        reader = _ChunkReader(name, layout, columns, order, rules, encoding)
        chunks = col.read_chunks(binary, CHUNK_BYTES, first=2, quote=b'"', name=name)
        # Each chunk's batches are read ahead on the reader threads (see ahead.py); only the
        # generator is made here, its body runs there.
        jobs = (partial(ahead.Collected, reader.batches(d, f, encoding)) for d, f in chunks)
        for batches in ahead.in_order(jobs):
            yield from batches.replay()


class _ChunkReader:
    def __init__(self, name, layout, columns, order, rules: Rules, encoding: str) -> None:
        self.name = name
        self.plan = rules.plan(columns, order, encoding)
        self.layout = layout
        self.columns = tuple(columns)
        self.order = order  # order[k]: the file position of contract column k
        self.clear = rules.clear
        names = [f"f{i}" for i in range(len(order))]
        self.read_options = pcsv.ReadOptions(column_names=names, block_size=1 << 20)
        self.convert_options = pcsv.ConvertOptions(  # an empty value is NULL
            column_types={n: pa.string() for n in names},
            null_values=[""],
            strings_can_be_null=True,
        )
        self.bytes_options = pcsv.ConvertOptions(
            column_types={n: pa.binary() for n in names},
            null_values=[""],
            strings_can_be_null=True,
        )
        self.decode_values = True  # chunks not in UTF-8 are parsed as bytes first (_decoded)

    def batches(self, data: bytes, first: int, encoding: str) -> Iterator[col.Batch]:
        if b'"' not in data and compiled.available() and _decodes(data, encoding):
            try:
                yield self._compiled(data, first, encoding)
                return
            except FileRejected:
                pass  # read again below, which passes on the rows before the line, then raises
        if encoding == "utf-8" or data.isascii():
            utf8, fast = data, self._fast
        else:
            if self.decode_values:
                batch = self._fast(col.Lines.of(data, first), encoding=encoding)
                if batch is not None:
                    yield batch
                    return
            try:
                utf8 = data.decode(encoding).encode("utf-8")
            except UnicodeDecodeError as exc:
                # The lines before the one that does not decode load as usual; from that line on
                # the per-record path reads, and names the line.
                cut = data.rfind(b"\n", 0, exc.start) + 1
                if data.count(b'"', 0, cut) % 2:
                    cut = 0
                if cut:
                    yield from self.batches(data[:cut], first, encoding)
                rest = col.Lines.of(data[cut:], first + data.count(b"\n", 0, cut))
                yield self._slow(rest, encoding)
                return
            fast = partial(self._fast, transcoded=True)
        lines = col.Lines.of(utf8, first)
        yield from col.bisect(
            lines, fast, partial(self._slow, encoding="utf-8"), split=_quote_safe_split
        )

    def _compiled(self, data: bytes, first: int, encoding: str) -> col.Batch:
        """The chunk through the compiled pass; the lines it does not take through the
        per-record path (a line with a quote character, the one thing that could make a record
        of two lines, is never in such a chunk)."""
        return compiled.batch_of(
            self.plan,
            data,
            first,
            self.columns,
            lambda number, line: records_of(
                [line], number, encoding, self.name, self.order, self.layout
            ),
        )

    def _slow(self, lines: col.Lines, encoding: str) -> col.Batch:
        physical = [lines.line(i) for i in range(len(lines))]
        items = records_of(physical, lines.first, encoding, self.name, self.order, self.layout)
        return col.batch_from_items(self.columns, items)

    def _fast(
        self, lines: col.Lines, transcoded: bool = False, encoding: str = "utf-8"
    ) -> col.Batch | None:
        """The chunk parsed by pyarrow; None when it cannot be (the caller halves it). ``lines``
        are UTF-8 (``transcoded``: made so by the caller), or with ``encoding`` in that encoding,
        whose characters never hold the bytes of a comma, quote or line end (GBK): then the
        values are split as bytes and each column is decoded by its distinct values."""
        data = lines.data
        if b"\x00" in data:
            return None
        arr = np.frombuffer(data, dtype=np.uint8)
        starts, ends = lines.starts, lines.ends
        ends = ends - ((ends > starts) & (arr[np.maximum(ends - 1, 0)] == 13))
        filled = ends > starts
        quoted = np.zeros(len(lines), dtype=bool)
        if b'"' in data:
            quotes = np.concatenate(([0], np.cumsum(arr == 0x22)))
            per_line = quotes[lines.ends] - quotes[lines.starts]
            if (per_line % 2).any():
                return None  # a record over several lines
            quoted = per_line > 0
        decode = encoding != "utf-8"
        if not (transcoded or decode or data.isascii()):
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                return None
        try:
            table = pcsv.read_csv(
                pa.py_buffer(data),
                read_options=self.read_options,
                convert_options=self.bytes_options if decode else self.convert_options,
            )
        except pa.ArrowInvalid:
            return None  # a record with another number of fields, ...
        index = np.flatnonzero(filled)
        if table.num_rows != len(index):
            return None
        values = {c: table.column(self.order[k]) for k, c in enumerate(self.columns)}
        if decode:
            for c, raw in values.items():
                text = _decoded(raw, encoding)
                if text is None:  # many distinct texts (or bytes that reject the file):
                    self.decode_values = False  # the chunks are transcoded whole from here on
                    return None
                values[c] = text
        rules = self.clear(values)
        masks = [
            *rules.values(),
            *(col.clean_text(v, nul_possible=False) for c, v in values.items() if c not in rules),
        ]
        good = col.and_all(masks, table.num_rows) & ~quoted[index]
        fast = pa.table({**values, col.LINE: pa.array(index + lines.first, pa.int64())})
        if not good.all():  # a filter copies every column even when it keeps every row: 5 ms
            fast = fast.filter(pa.array(good))
        slow = [lines.line(i) for i in index[~good]]
        slow_lines = index[~good] + lines.first
        items = (
            item
            for line, number in zip(slow, slow_lines, strict=True)
            for item in records_of(
                [line], int(number), encoding, self.name, self.order, self.layout
            )
        )
        return col.combine(self.columns, fast, items)


# A chunk's distinct non-ASCII values of a column are decoded one by one in Python: a hotline
# column holds two or three (人工, 放弃, IVR自助); past this many, transcoding the chunk is cheaper.
_MAX_DISTINCT = 1000


def _decoded(raw: pa.ChunkedArray, encoding: str) -> pa.ChunkedArray | None:
    """A column of bytes in ``encoding`` as text: ASCII as it is, other values decoded once per
    distinct value; None when one does not decode (the chunk is transcoded whole, which names the
    line) or there are more than _MAX_DISTINCT.

    Why: decoding the hotline's GBK chunk and encoding it in UTF-8 took 33 CPU-ms per 8 MB (0.56 s
    per 1M records) of which its three columns of Chinese need a few distinct values each. GBK
    stays splittable as bytes: its second bytes are 0x40-0xFE, never a comma, quote or line end,
    so each value is whole and decodes as it would within its line."""
    if not col.may_hold_bytes(raw, at_least=0x80):
        return pa.chunked_array([chunk.view(pa.string()) for chunk in raw.chunks], pa.string())
    encoded = raw.combine_chunks().dictionary_encode()  # a null stays a null index
    if len(encoded.dictionary) > _MAX_DISTINCT:
        return None
    try:
        texts = [v.decode(encoding) for v in encoded.dictionary.to_pylist()]
    except UnicodeDecodeError:
        return None
    return pa.chunked_array([pa.array(texts, pa.string()).take(encoded.indices)], pa.string())


def _decodes(data: bytes, encoding: str) -> bool:
    """Whether the compiled pass may read the chunk: in UTF-8 only when it all decodes (else the
    columnar path finds the line that does not); in another encoding always, as its values
    above ASCII are taken only when they are listed values, in that encoding."""
    return encoding != "utf-8" or col.is_utf8(data)


def _quote_safe_split(lines: col.Lines) -> int | None:
    """A line index near the middle where no quoted value is open, or None."""
    arr = np.frombuffer(lines.data, dtype=np.uint8)
    quotes = np.concatenate(([0], np.cumsum(arr == 0x22)))
    even = np.flatnonzero(quotes[lines.starts] % 2 == 0)
    even = even[(even > 0) & (even < len(lines))]
    if not len(even):
        return None
    return int(even[np.argmin(np.abs(even - len(lines) // 2))])
