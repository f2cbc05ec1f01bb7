"""Reading a source in columns: what every fast reader shares.

A reader's row rules are written once, in Python, per record (``_parse_line``, ``RowChecks``):
they decide the rule and word the message. Running them on every one of ten million records is
what made the loader slow, so the readers take a second, compiled path first:

1. a chunk of the file (a few MB, cut at a line end) is parsed in C++ by pyarrow into columns;
2. vectorised *conservative* masks (regular expressions in RE2, set look-ups, date round trips)
   mark the records that certainly pass every row rule — a mask may send a good record to the
   slow path, never a bad one to the fast path;
3. the records the masks did not clear, and whole chunks that pyarrow cannot parse, go through the
   reader's per-record rules as before, which give a row or a rejection with its rule and message.

So the contract's rules and messages live in one place, and the compiled path only decides how
much of a file never needs them. A :class:`Batch` carries one chunk's result to the loading core:
the good rows as an Arrow table of text columns plus ``_line`` (and, from the C pass of
:mod:`_compiled`, as COPY text), and the rejections.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from channel_dw.errors import FileRejected
from channel_dw.sources import limits
from channel_dw.sources.base import Item, Rejection, Row

LINE = "_line"

# Mobile numbers in the delivered shapes that normalise_msisdn() certainly accepts.
MOBILE_SHAPES = r"^(?:(?:\+86|0086|86)[ -]?)?1[0-9]{2}[ -]?[0-9]{4}[ -]?[0-9]{4}$"
DECIMAL = r"^[+-]?[0-9]+(?:\.[0-9]+)?$"


YEAR_FROM_1000 = r"[1-9][0-9]{3}"  # strptime has no year 0


def certain_date(sep: str = "-", year: str = YEAR_FROM_1000) -> str:
    """A regular expression (no anchors) for ``YYYY-MM-DD`` dates that certainly exist: the 29th
    of February (leap years) is left to the slow path, which asks the calendar. ``year``: the
    years a source's fast path may clear (a pattern of four digits)."""
    return (
        rf"(?:{year}){sep}(?:(?:0[1-9]|1[0-2]){sep}(?:0[1-9]|1[0-9]|2[0-8])"
        rf"|(?:0[13-9]|1[0-2]){sep}(?:29|30)|(?:0[13578]|1[02]){sep}31)"
    )


def certain_time(sep: str = ":") -> str:
    """``HH:MM:SS`` from 00:00:00 to 23:59:59 (no anchors)."""
    return rf"(?:[01][0-9]|2[0-3]){sep}[0-5][0-9]{sep}[0-5][0-9]"


# certain_date() and certain_time() for ``YYYY-MM-DD HH:MM:SS`` on the bytes of a 19-byte value:
# the positions of its digits, and the months with a 31st.
_DATETIME_DIGITS = np.array([0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18])
_DATETIME_SEPARATORS = (
    (4, ord("-")),
    (7, ord("-")),
    (10, ord(" ")),
    (13, ord(":")),
    (16, ord(":")),
)
_HAS_31 = np.isin(np.arange(13), [1, 3, 5, 7, 8, 10, 12])


def certain_datetimes(col: pa.Array | pa.ChunkedArray) -> pa.Array | None:
    """Where ``^{certain_date()} {certain_time()}$`` (the default years) matches, tested on
    the value bytes with numpy when every value is 19 bytes or empty; None when not (the caller
    uses the regular expression). False at a null, where the regular expression gives null: the
    callers decide nulls themselves (``required``, ``optional``). The regular expression took 3.3
    CPU-ms per 60,000 values (a column of a hotline chunk), this 1.2."""
    chunks = col.chunks if isinstance(col, pa.ChunkedArray) else [col]
    out = []
    for chunk in chunks:
        if not pa.types.is_string(chunk.type):
            return None
        n = len(chunk)
        if n == 0:
            continue
        _, offsets_buf, data_buf = chunk.buffers()
        offsets = np.frombuffer(offsets_buf, dtype=np.int32, count=n + 1, offset=chunk.offset * 4)
        lengths = np.diff(offsets)
        full = lengths == 19
        if not (full | (lengths == 0)).all():
            return None
        ok = np.zeros(n, dtype=bool)
        if full.any():
            # The values that are not empty lie end to end: one row of 19 bytes each.
            raw = np.frombuffer(data_buf, dtype=np.uint8)[offsets[0] : offsets[-1]].reshape(-1, 19)
            digits = raw[:, _DATETIME_DIGITS] - np.uint8(ord("0"))  # a byte below "0" wraps high
            good = (digits <= 9).all(axis=1)
            for at, byte in _DATETIME_SEPARATORS:
                good &= raw[:, at] == byte
            d = digits.astype(np.int16)
            month, day = d[:, 4] * 10 + d[:, 5], d[:, 6] * 10 + d[:, 7]
            good &= (d[:, 0] >= 1) & (month >= 1) & (month <= 12) & (day >= 1)
            good &= (day <= 28) | ((day <= 30) & (month != 2)) | ((day == 31) & _HAS_31[month % 13])
            good &= (d[:, 8] * 10 + d[:, 9] <= 23) & (d[:, 10] <= 5) & (d[:, 12] <= 5)
            ok[full] = good
        out.append(ok)
    return pa.array(np.concatenate(out) if out else np.zeros(0, dtype=bool))


@dataclass
class Batch:
    """One chunk of a file: its good rows (text columns + ``_line``) and its rejections. Rows a
    compiled reader has already written as COPY text (:mod:`_compiled`: the columns, then the
    line, tab-separated) are in ``text``, ``text_rows`` of them, beside those in ``rows``."""

    rows: pa.Table
    rejections: list[Rejection] = field(default_factory=list)
    text: bytes = b""
    text_rows: int = 0

    @property
    def num_rows(self) -> int:
        return self.rows.num_rows + self.text_rows


def schema_for(columns: Sequence[str]) -> pa.Schema:
    return pa.schema([*((c, pa.string()) for c in columns), (LINE, pa.int64())])


def rows_table(columns: Sequence[str], rows: Sequence[Row]) -> pa.Table:
    """Rows from the per-record path as a table of the batch schema (NUL characters removed:
    PostgreSQL text cannot hold them)."""
    data = {
        name: pa.array(
            [_no_nul(r.values[i]) for r in rows],
            pa.string(),
        )
        for i, name in enumerate(columns)
    }
    data[LINE] = pa.array([r.line for r in rows], pa.int64())
    return pa.table(data, schema=schema_for(columns))


def _no_nul(value: str | None) -> str | None:
    return value.replace("\x00", "") if value is not None and "\x00" in value else value


def batch_from_items(columns: Sequence[str], items: Iterable[Item | None]) -> Batch:
    """A batch of per-record items (None, a blank line, is passed over)."""
    rows: list[Row] = []
    rejections: list[Rejection] = []
    for item in items:
        if item is None:
            continue
        if type(item) is Row:
            rows.append(item)
        else:
            rejections.append(item)  # type: ignore[arg-type]
    return Batch(rows_table(columns, rows), rejections)


def batches_from_items(
    columns: Sequence[str], items: Iterable[Item], size: int = 50_000
) -> Iterator[Batch]:
    """The batch form of a per-record reader (for sources without a columnar path)."""
    chunk: list[Item] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield batch_from_items(columns, chunk)
            chunk = []
    if chunk:
        yield batch_from_items(columns, chunk)


def items_from_batches(columns: Sequence[str], batches: Iterable[Batch]) -> Iterator[Item]:
    """The per-record form of a columnar reader, in line order (what the unit tests read)."""
    for batch in batches:
        lines = batch.rows.column(LINE).to_pylist()
        values = [batch.rows.column(c).to_pylist() for c in columns]
        rows = [Row(line, tuple(v[i] for v in values)) for i, line in enumerate(lines)]
        rows += rows_of_text(batch.text)
        yield from sorted([*rows, *batch.rejections], key=lambda item: item.line)


def rows_of_text(text: bytes) -> list[Row]:
    """The rows of a batch's COPY text (which holds no escapes: see :mod:`_compiled`)."""
    rows = []
    for line in text.decode("utf-8").split("\n")[:-1]:  # not splitlines(): a value may hold U+2028
        *values, number = line.split("\t")
        rows.append(Row(int(number), tuple(None if v == "\\N" else v for v in values)))
    return rows


def combine(columns: Sequence[str], fast: pa.Table, slow_items: Iterable[Item | None]) -> Batch:
    """A batch of the fast rows and whatever the per-record path made of the others."""
    slow = batch_from_items(columns, slow_items)
    if slow.num_rows:
        rows = pa.concat_tables([fast.cast(slow.rows.schema), slow.rows])
    else:
        rows = fast
    return Batch(rows, slow.rejections)


# --- masks: True where a record certainly passes the rule ------------------------------------


def and_all(masks: Iterable[pa.Array | pa.ChunkedArray], n: int) -> np.ndarray:
    """The conjunction of masks as a numpy bool array (a null counts as False)."""
    out = np.ones(n, dtype=bool)
    for m in masks:
        out &= pc.fill_null(m, False).to_numpy(zero_copy_only=False)
    return out


# str.strip() removes the characters for which str.isspace() is true. In UTF-8 each of them starts
# with one of _FIRST_BYTES and ends with one of _LAST_BYTES, so a value whose first and last bytes
# are in neither set certainly has none at either end. A CJK character may end in one of those
# bytes too (误 is E8 AF AF, U+202F is E2 80 AF): the values the byte test doubts are judged again
# on their first and last characters.
_SPACE_CHARS = [chr(c) for c in range(0x3001) if chr(c).isspace()]  # U+3000 is the last
_FIRST_BYTES = np.zeros(256, dtype=bool)
_FIRST_BYTES[[c.encode()[0] for c in _SPACE_CHARS]] = True
_LAST_BYTES = np.zeros(256, dtype=bool)
_LAST_BYTES[[c.encode()[-1] for c in _SPACE_CHARS]] = True
_SPACES = pa.array(_SPACE_CHARS, pa.string())


def clean_text(col: pa.Array | pa.ChunkedArray, nul_possible: bool = True) -> pa.Array:
    """Null, or text that strip() leaves alone and that is not empty; with ``nul_possible``
    also free of NUL (False when the caller knows the chunk has none)."""
    chunks = col.chunks if isinstance(col, pa.ChunkedArray) else [col]
    dirty = [_dirty_ends(chunk) for chunk in chunks]
    out = np.concatenate(dirty) if dirty else np.zeros(0, dtype=bool)
    if col.null_count:
        out &= pc.is_valid(col).to_numpy(zero_copy_only=False)
    doubted = np.flatnonzero(out)
    if len(doubted) and (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        # Each value the per-record path judges costs a hundred times what this costs: a web
        # day's 验证码错误 sent 2,300 rows per 1M there, and its table through a filter.
        sub = col.take(pa.array(doubted))
        first = pc.utf8_slice_codeunits(sub, 0, 1)
        last = pc.utf8_slice_codeunits(sub, -1, None)
        still = pc.or_(
            pc.or_(pc.is_in(first, value_set=_SPACES), pc.is_in(last, value_set=_SPACES)),
            pc.equal(first, ""),
        )
        out[doubted] = still.to_numpy(zero_copy_only=False)
    if nul_possible:
        out |= pc.fill_null(pc.match_substring(col, "\x00"), False).to_numpy(zero_copy_only=False)
    return pa.array(~out)


def _dirty_ends(values: pa.Array) -> np.ndarray:
    """True where a value is empty or its first or last byte may belong to a space, read off the
    array's offsets and bytes with numpy (the same test in pyarrow kernels, two binary slices, two
    set look-ups and a length, made clean_text cost 0.23 CPU-s per 1M web lines; with this and
    the second look at the doubted values it costs 0.13, measured on the 8 MB chunks of a
    generated day). A null's slot is judged too, on whatever it holds: the caller clears it."""
    n = len(values)
    if pa.types.is_null(values.type):
        return np.ones(n, dtype=bool)  # all null
    if pa.types.is_string(values.type) or pa.types.is_binary(values.type):
        width = np.int32
    elif pa.types.is_large_string(values.type) or pa.types.is_large_binary(values.type):
        width = np.int64
    else:
        raise TypeError(f"clean_text needs text, not {values.type}")
    _, offsets_buf, data_buf = values.buffers()
    if n == 0:
        return np.zeros(0, dtype=bool)
    offsets = np.frombuffer(
        offsets_buf, dtype=width, count=n + 1, offset=values.offset * width().itemsize
    )
    starts, ends = offsets[:-1], offsets[1:]
    dirty = ends <= starts
    if data_buf is None or data_buf.size == 0:
        return np.ones(n, dtype=bool)
    data = np.frombuffer(data_buf, dtype=np.uint8)
    # An empty value is dirty already, so the byte read for it is moot; it only has to be in the
    # buffer. Offsets never decrease: only empty values at the end start at the buffer's end, and
    # only empty values at the start end at 0 (-1 reads the last byte).
    if starts[-1] >= len(data):
        starts = np.minimum(starts, len(data) - 1)
    dirty |= _FIRST_BYTES[data[starts]]
    dirty |= _LAST_BYTES[data[ends - 1]]
    return dirty


def may_hold_bytes(
    col: pa.ChunkedArray, below: int = 0, at_least: int = 256, among: bytes = b""
) -> bool:
    """Whether a value of the text column may hold a byte under ``below``, from ``at_least`` on,
    or in ``among``: one look at each chunk's value bytes (a min, a max, a comparison per byte
    of ``among``: 0.1 ms per MB, where a 256-entry table look-up per byte took 2), which lets a
    mask that is only ever False for such a value be skipped for the whole column. A byte of the
    buffer outside the chunk's slice can only make it answer True needlessly."""
    for chunk in col.chunks:
        data = chunk.buffers()[2]
        if data is None or data.size == 0:
            continue
        raw = np.frombuffer(data, dtype=np.uint8)
        if raw.min() < below or raw.max() >= at_least or any((raw == b).any() for b in among):
            return True
    return False


def present(col: pa.Array | pa.ChunkedArray) -> pa.Array:
    return pc.is_valid(col)


def null_or(col: pa.Array | pa.ChunkedArray, mask: pa.Array | pa.ChunkedArray) -> pa.Array:
    return pc.or_kleene(pc.is_null(col), pc.fill_null(mask, False))


def matches(col: pa.Array | pa.ChunkedArray, pattern: str) -> pa.Array:
    return pc.match_substring_regex(col, pattern)


def one_of(col: pa.Array | pa.ChunkedArray, values: Iterable[str]) -> pa.Array:
    return pc.is_in(col, value_set=pa.array(sorted(values), pa.string()))


# --- line-oriented chunks --------------------------------------------------------------------


def is_utf8(data: bytes) -> bool:
    if data.isascii():
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@dataclass
class Lines:
    """The physical lines of a chunk of bytes: offsets into it, numbered from ``first``."""

    data: bytes
    starts: np.ndarray
    ends: np.ndarray  # exclusive, without the line's \n (a trailing \r is kept)
    first: int

    @classmethod
    def of(cls, data: bytes, first: int) -> Lines:
        from channel_dw.sources import _compiled  # which imports this module

        # memchr finds the line breaks in a quarter of numpy's time (6 ms per 8 MB chunk).
        nl = _compiled.find_byte(data, b"\n")
        ends = nl if data.endswith(b"\n") else np.append(nl, len(data))
        starts = np.concatenate(([0], nl[: len(ends) - 1] + 1)) if len(ends) else nl
        return cls(data, starts.astype(np.int64), ends.astype(np.int64), first)

    def __len__(self) -> int:
        return len(self.starts)

    def is_utf8(self) -> bool:
        return is_utf8(self.data)

    def line(self, i: int) -> bytes:
        return self.data[self.starts[i] : self.ends[i] + 1]

    def number(self, i: int) -> int:
        return self.first + i

    def slice(self, lo: int, hi: int) -> Lines:
        """Lines lo..hi-1 as a chunk of their own."""
        a = int(self.starts[lo])
        b = int(self.ends[hi - 1]) + 1 if hi > lo else a
        data = self.data[a:b]
        return Lines(data, self.starts[lo:hi] - a, self.ends[lo:hi] - a, self.first + lo)


class LineTooLong(FileRejected):
    """A line (or a quoted record) longer than :func:`limits.max_line_bytes`."""


FIRST_CHUNK_BYTES = 1 << 20


def read_chunks(
    fh, size: int, first: int = 1, quote: bytes | None = None, name: str = "the file"
) -> Iterator[tuple[bytes, int]]:
    """The file in chunks of about ``size`` bytes cut after a ``\\n``, each with the number of
    its first line. With ``quote``, a chunk is cut only where an even number of quote characters
    came before it (a CSV record with a quoted line break stays whole).

    A line (with ``quote``, a record) that runs over :func:`limits.max_line_bytes` without an end
    raises :class:`LineTooLong` (rule ``line_too_long``, named ``name``) as soon as that many bytes
    of it have been read: it is never held whole."""
    limit = limits.max_line_bytes()
    rest = b""
    # The first chunk is small and each next one twice the one before, up to ``size``, so that
    # COPY starts while the next ones are read and has the next chunk before it is done with
    # one: PostgreSQL's parse of the COPY is the slower side of a load, and it waits for the
    # first chunks (docs/ingestion.md, "The first chunks doubling").
    want = min(size, FIRST_CHUNK_BYTES)
    while True:
        block = fh.read(want)
        want = min(size, 2 * want)
        if not block:
            break
        end = block.rfind(b"\n") + 1  # after the block's last line
        if end == 0:
            rest += block  # no line ends in it (nor, with quote, where the quotes are even)
        elif quote is None or (count_byte(rest, quote) + count_byte(block, quote, end)) % 2 == 0:
            # One copy of the chunk's bytes (rest + block[:end] would make two).
            chunk, rest = b"".join((rest, memoryview(block)[:end])), block[end:]
            yield chunk, first
            first += count_byte(chunk, b"\n")
        else:  # an odd number of quotes before the last line break: a record goes on
            data = rest + block
            cut = _even_cut(data, len(rest) + end, quote)
            if cut == 0:
                rest = data
            else:
                chunk, rest = data[:cut], data[cut:]
                yield chunk, first
                first += count_byte(chunk, b"\n")
        if len(rest) > limit:
            raise too_long(name, first, limit, rest, quote)
    if rest:
        yield rest, first


def count_byte(data: bytes, byte: bytes, end: int | None = None) -> int:
    """How many of ``data[:end]`` are ``byte``: by the compiled library's memchr loop where it is
    built (a fifth of the time of ``bytes.count``, which counted a chunk's lines in 3.4 ms per
    8 MB), else by ``bytes.count``."""
    from channel_dw.sources import _compiled  # which imports this module

    return _compiled.count_byte(data, byte, len(data) if end is None else end)


def _even_cut(data: bytes, cut: int, quote: bytes) -> int:
    """The end of the last line before ``cut`` after which the quotes are even (0: none), in one
    pass (searching back line by line, counting the quotes each time, took minutes on a chunk
    with a quote that is never closed)."""
    arr = np.frombuffer(data, dtype=np.uint8, count=cut)
    newlines = np.flatnonzero(arr == 10)
    quotes = np.cumsum(arr == quote[0], dtype=np.int64)
    even = newlines[quotes[newlines] % 2 == 0]
    return int(even[-1]) + 1 if len(even) else 0


def too_long(name: str, line: int, limit: int, rest: bytes, quote: bytes | None) -> LineTooLong:
    what = f"line {line:,}"
    if quote is not None and rest.count(quote) % 2:
        what = f"the record that starts on line {line:,} (a quote that is never closed?)"
    return LineTooLong(
        file=name,
        line=line,
        rule="line_too_long",
        message=f"{what} runs over {limits.size_text(limit)} without a line break, the most a "
        f"line may hold ({limits.stated('MAX_LINE_BYTES')}); a real record is under 1 KB, so "
        "the file is damaged or not this source's export: ask the sender to check it and "
        "deliver it again",
        text=rest[:200].decode("utf-8", errors="replace"),
    )


def bisect(
    lines: Lines,
    fast: Callable[[Lines], Batch | None],
    slow: Callable[[Lines], Batch],
    smallest: int = 256,
    split: Callable[[Lines], int | None] = lambda lines: len(lines) // 2,
) -> Iterator[Batch]:
    """The batches of a chunk: the fast path where it can parse, halving the chunk around what it
    cannot (at ``split``, None when it cannot be split), and the per-record path for pieces of
    ``smallest`` lines or fewer."""
    if len(lines) == 0:
        return
    batch = fast(lines)
    if batch is not None:
        yield batch
        return
    mid = split(lines) if len(lines) > smallest else None
    if mid is None:
        yield slow(lines)
        return
    yield from bisect(lines.slice(0, mid), fast, slow, smallest, split)
    yield from bisect(lines.slice(mid, len(lines)), fast, slow, smallest, split)


# pyarrow's JSON reader infers nested types in a time that grows with the square of the nesting
# depth (12 s for one line 10,000 arrays deep; 30 ms at 512), so the fast paths give a chunk that
# may nest deeper than this to the per-record path. It only bounds pyarrow's time: a nested value
# never passes the fast path's masks, so the depth rule (limits.max_json_depth) is always applied
# per record.
PYARROW_SAFE_DEPTH = 512


def may_nest_deeper(lines: Lines, ends: np.ndarray, depth: int) -> bool:
    """True when a line of the chunk opens more than ``depth`` JSON objects or arrays, so may
    nest deeper than that (``ends`` exclude a trailing ``\\r``). The usual chunk is settled
    cheaply: a line of at most ``depth`` bytes cannot open more, and when the chunk's openings
    beyond one a line are fewer than ``depth``, no line can either; only then are the openings
    counted line by line."""
    starts = lines.starts
    if not len(starts) or int((ends - starts).max()) <= depth:
        return False
    arr = np.frombuffer(lines.data, dtype=np.uint8)
    opening = (arr == 0x7B) | (arr == 0x5B)
    if int(np.count_nonzero(opening)) - len(starts) < depth:
        return False
    at = np.flatnonzero(opening)
    per_line = np.searchsorted(at, ends) - np.searchsorted(at, starts)
    return bool((per_line > depth).any())
