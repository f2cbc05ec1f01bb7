"""The app export's usual layout read in columns: one event a line after the header line.

:func:`channel_dw.sources.app.read_batches` hands the document here when its first line is the
whole header. The lines are cut in chunks, their layout checked in order, and each chunk's events
parsed by pyarrow on the reader threads (:mod:`~channel_dw.sources.ahead`), with vectorised masks
for the rules; what the columns cannot vouch for goes through the per-record path
(:func:`_app_event._event_item`), and where the layout is not the usual one :class:`_Resume` hands
the rest to the streaming parser.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import BinaryIO

import ijson
import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from channel_dw.sources import ahead
from channel_dw.sources import columnar as col
from channel_dw.sources._app_event import (
    _EVENT_KEYS,
    _MAX_TIME_MS,
    _MIN_TIME_MS,
    _NESTED_KEYS,
    BIZ_CODES,
    COLUMNS,
    EVENT_TYPES,
    _event_item,
)
from channel_dw.sources.base import Item


@dataclass
class _Progress:
    events: int = 0  # the position of the last event yielded
    rejected: int = 0


# --- one event a line, in columns -----------------------------------------------------------

CHUNK_BYTES = 8 << 20
_HEAD_LIMIT = 1 << 16  # a header line longer than this is not the usual layout
_TAIL_LIMIT = 1 << 20  # nor is more than this after the events
_WHITE = b" \t\r\n"  # JSON white space
_BRACE, _CLOSE, _COMMA, _CR = 0x7B, 0x7D, 0x2C, 0x0D

_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("time_ms", pa.int64()),
        ("type", pa.string()),
        ("user", pa.struct([("uid", pa.string()), ("msisdn", pa.string())])),
        ("device", pa.struct([("os", pa.string()), ("app_version", pa.string())])),
        (
            "biz",
            pa.struct(
                [
                    ("code", pa.string()),
                    ("amount_fen", pa.int64()),
                    ("status", pa.int64()),
                    ("err", pa.string()),
                ]
            ),
        ),
        ("rating", pa.struct([("score", pa.int64())])),
    ]
)
_PARSE = pj.ParseOptions(explicit_schema=_SCHEMA, unexpected_field_behavior="infer")
_READ = pj.ReadOptions(use_threads=False)  # one thread per chunk: see web.py
# Lines whose contract keys hold what the schema above does not expect (an integer as a string
# or a float, text as a number, a part that is not an object): pyarrow would refuse the chunk.
_SUSPECT = (
    r'"(?:time_ms|amount_fen|status|score)"\s*:\s*(?:[^-0-9n\s]|-?[0-9]+[.eE]|-?[0-9]{19})'
    r'|"(?:id|type|uid|msisdn|os|app_version|code|err)"\s*:\s*[^"n\s]'
    r'|"(?:user|device|biz|rating)"\s*:\s*[^{n\s]'
)
_JSON_SAFE = r'^[^"\\\x00-\x1f]*$'  # text that compact JSON writes as it is
_INT_FIELDS = (("biz", "amount_fen"), ("biz", "status"), ("rating", "score"))
_INT64_MIN = -(2**63)
_TEXT_FIELDS = (("user", "uid"), ("device", "os"), ("device", "app_version"), ("biz", "err"))


class _Resume(Exception):
    """The line-by-line reading cannot go on: the streaming parser takes over from an event."""

    def __init__(self, position: int) -> None:
        super().__init__(position)
        self.position = position


def _is_line_header(head: bytes) -> bool:
    """True when the first line is the whole header and ends by opening the events array."""
    if not head.endswith(b"\n") or b"\\" in head or head.count(b'"events"') != 1:
        return False
    text = head.rstrip(_WHITE)
    if not text.endswith(b"["):
        return False
    try:
        doc = orjson.loads(text + b"]}")
    except orjson.JSONDecodeError:
        return False
    return isinstance(doc, dict) and next(reversed(doc)) == "events" and doc["events"] == []


def _line_events(
    f: BinaryIO, head: bytes, export_date: str | None, progress: _Progress
) -> Iterator[col.Batch]:
    """The events of a document in the usual layout, one a line after the header line; returns
    the rest of the document (from the line that closes the events array). Raises _Resume where
    the layout is not the usual one or a line is not one JSON value.

    The layout of each chunk is read here, in order; its events are parsed ahead, on the reader
    threads (:mod:`~channel_dw.sources.ahead`)."""
    found: list[bytes] = []  # the rest of the document, once the jobs reach it
    for last, batches in ahead.in_order(_event_jobs(f, head, export_date, found)):
        for batch in batches.replay():  # raises _Resume where the per-line path found one
            progress.rejected += len(batch.rejections)
            yield batch
        progress.events = last
    return found[0]


def _event_jobs(
    f: BinaryIO, head: bytes, export_date: str | None, found: list[bytes]
) -> Iterator[Callable[[], tuple[int, ahead.Collected[col.Batch]]]]:
    """One job per chunk: its event lines' batches and the position of its last event. The rest
    of the document goes in ``found``."""
    after_comma: bool | None = None  # the last event line ended with a comma (None: no event)
    fast = partial(_fast_batch, export_date=export_date, hint=_Hint())
    slow = partial(_slow_batch, export_date=export_date)
    last = 0  # the position of the last event line so far
    chunks = _or_resume(col.read_chunks(f, CHUNK_BYTES), lambda: last)
    for data, first in chunks:
        lines = col.Lines.of(data, first)
        if not lines.is_utf8():
            raise _Resume(first)
        events, tail_at, last_comma = _layout(lines, after_comma)
        last = first + events - 1
        yield partial(_chunk, lines.slice(0, events), fast, slow, last)
        if events:
            after_comma = last_comma
        if tail_at is None:
            continue
        parts = [data[int(lines.starts[tail_at]) :]]
        size = len(parts[0])
        for rest, _ in chunks:
            parts.append(rest)
            size += len(rest)
            if size > _TAIL_LIMIT:
                raise _Resume(last + 1)
        tail = b"".join(parts)
        _check_tail(head, tail, last + 1)
        found.append(tail)
        return
    raise _Resume(last + 1)  # the events array is never closed


def _chunk(
    lines: col.Lines,
    fast: Callable[[col.Lines], col.Batch | None],
    slow: Callable[[col.Lines], col.Batch],
    last: int,
) -> tuple[int, ahead.Collected[col.Batch]]:
    """One chunk's event lines as batches (on a reader thread), with the position of its last."""
    return last, ahead.Collected(col.bisect(lines, fast, slow))


def _or_resume(chunks: Iterator[tuple[bytes, int]], last: Callable[[], int]):
    """The chunks; a line too long for them (a document on a few long lines) is no event line:
    the streaming parser reads on from the event after ``last()``."""
    try:
        yield from chunks
    except col.LineTooLong:
        raise _Resume(last() + 1) from None


def _layout(lines: col.Lines, after_comma: bool | None) -> tuple[int, int | None, bool]:
    """How many lines of a chunk are events, the line where the rest of the document starts
    (None: not in this chunk), and whether the last event line ends with a comma. Raises _Resume
    (at the chunk) when the events are not one a line, separated by commas."""
    arr = np.frombuffer(lines.data, dtype=np.uint8)
    starts, ends = lines.starts, lines.ends
    ends = ends - ((ends > starts) & (arr[np.maximum(ends - 1, 0)] == _CR))
    usual = (
        (ends - starts > 2)
        & (arr[starts] == _BRACE)
        & (arr[np.maximum(ends - 1, 0)] == _COMMA)
        & (arr[np.maximum(ends - 2, 0)] == _CLOSE)
    )
    comma = usual.copy()
    events, tail_at = len(lines), None
    for i in np.flatnonzero(~usual).tolist():
        text = lines.line(i).strip(_WHITE)
        if text.startswith(b"]"):
            events, tail_at = i, i
            break
        if not text:  # a blank line: positions would no longer be line numbers
            raise _Resume(lines.first)
        comma[i] = text.endswith(b",")
    comma = comma[:events]
    if events:
        # Every event but the last of the document is followed by a comma.
        if after_comma is False or not comma[:-1].all():
            raise _Resume(lines.first)
        if tail_at is not None and comma[-1]:
            raise _Resume(lines.first)
    elif tail_at is not None and after_comma:
        raise _Resume(lines.first)
    return events, tail_at, bool(comma[-1]) if events else False


def _check_tail(head: bytes, tail: bytes, position: int) -> None:
    """The rest of the document must close it: the header line and it, with no event between,
    must be a valid document, whose events the header line alone opens."""
    if b"\\" in tail or b'"events"' in tail:
        raise _Resume(position)
    try:
        for _ in ijson.parse(io.BytesIO(head + tail), use_float=True):
            pass
    except (ijson.JSONError, UnicodeDecodeError):
        raise _Resume(position) from None


def _slow_batch(lines: col.Lines, export_date: str | None) -> col.Batch:
    items = (_line_item(lines.number(i), lines.line(i), export_date) for i in range(len(lines)))
    try:
        return col.batch_from_items(COLUMNS, items)
    except _Resume:  # nothing of these lines has been yielded
        raise _Resume(lines.first) from None


def _line_item(position: int, raw: bytes, export_date: str | None) -> Item:
    """The item of one event line, parsed as the streaming parser parses it in the document."""
    text = raw.strip(_WHITE)
    if text.endswith(b","):
        text = text[:-1]
    try:
        values = list(ijson.items(io.BytesIO(text), "", use_float=True))
    except (ijson.JSONError, UnicodeDecodeError):
        raise _Resume(position) from None
    if len(values) != 1:
        raise _Resume(position)
    return _event_item(position, values[0], export_date)


def _parse(buf: bytearray) -> pa.Table | None:
    try:
        return pj.read_json(pa.py_buffer(buf), read_options=_READ, parse_options=_PARSE)
    except pa.ArrowInvalid:
        return None


@dataclass
class _Hint:
    screen: bool = False  # look for suspect lines before parsing


def _fast_batch(lines: col.Lines, export_date: str | None, hint: _Hint) -> col.Batch | None:
    """The chunk of event lines parsed by pyarrow; None when it cannot be (the caller halves it)."""
    data = lines.data
    n = len(lines)
    arr = np.frombuffer(data, dtype=np.uint8)
    starts, ends = lines.starts, lines.ends
    ends = ends - ((ends > starts) & (arr[np.maximum(ends - 1, 0)] == _CR))
    if not (ends - starts > 1).all():
        return None
    if col.may_nest_deeper(lines, ends, col.PYARROW_SAFE_DEPTH):
        return None  # pyarrow's time grows with the square of the depth: the slow path judges
    last = arr[ends - 1]
    comma = last == _COMMA
    # Every line one object, followed by a comma or not: the comma becomes a space.
    if not (
        (arr[starts] == _BRACE).all()
        and (arr[ends[comma] - 2] == _CLOSE).all()
        and (last[~comma] == _CLOSE).all()
    ):
        return None
    buf = bytearray(data)
    view = np.frombuffer(buf, dtype=np.uint8)
    view[ends[comma] - 1] = 0x20
    screened = hint.screen
    table = None if screened else _parse(buf)
    suspect = None
    if table is None:
        # Set aside the lines that hold a type the schema does not expect, and try (again).
        # Once a chunk needed it the next ones are screened first: a failed parse costs more.
        suspect = col.and_all([col.matches(_line_texts(lines), _SUSPECT)], n)
        hint.screen = bool(suspect.any())
        if not (hint.screen or screened):
            return None
        for i in np.flatnonzero(suspect).tolist():
            view[starts[i] : ends[i]] = 0x20
            view[starts[i] : starts[i] + 2] = (_BRACE, _CLOSE)
        table = _parse(buf)
        if table is None:
            return None
    if table.num_rows != n:
        return None

    c = {key: table.column(key) for key in ("id", "time_ms", "type")}
    parts = {parent: table.column(parent) for parent in _NESTED_KEYS}
    sub = {
        (parent, key): pc.struct_field(parts[parent], key)
        for parent, known in _NESTED_KEYS.items()
        for key in known
    }
    clean, plain = _text_check(data, arr, starts)
    event_type = c["type"]
    is_biz = pc.equal(event_type, "biz")
    is_rate = pc.equal(event_type, "rate")
    status, score = sub["biz", "status"], sub["rating", "score"]
    masks = [
        col.present(c["id"]),
        clean(c["id"]),
        pc.greater_equal(c["time_ms"], _MIN_TIME_MS),
        pc.less(c["time_ms"], _MAX_TIME_MS),
        col.one_of(event_type, EVENT_TYPES),
        *(clean(sub[key]) for key in _TEXT_FIELDS),
        col.null_or(sub["user", "msisdn"], col.matches(sub["user", "msisdn"], col.MOBILE_SHAPES)),
        clean(sub["biz", "code"]),
        pc.or_kleene(
            pc.invert(is_biz),
            pc.and_kleene(
                col.one_of(sub["biz", "code"], BIZ_CODES),
                pc.is_in(status, value_set=pa.array([0, 1], pa.int64())),
            ),
        ),
        pc.or_kleene(
            pc.invert(is_rate),
            pc.and_kleene(pc.greater_equal(score, 1), pc.less_equal(score, 5)),
        ),
    ]
    # The streaming parser refuses -2**63 (it reads the magnitude first), pyarrow does not.
    masks += [col.null_or(sub[k], pc.not_equal(sub[k], _INT64_MIN)) for k in _INT_FIELDS]
    if suspect is not None:
        masks.append(pa.array(~suspect))
    if plain is not None:
        masks.append(pa.array(plain))
    extra, extra_masks = _extra_column(table, buf, lambda: _line_texts(lines))
    good = col.and_all(masks + extra_masks, n)

    def as_text(values: pa.ChunkedArray) -> pa.ChunkedArray:
        return pc.cast(values, pa.string())

    date = None if export_date is None else export_date.replace("\x00", "")
    fast = pa.table(
        {
            "event_id": c["id"],
            "time_ms": as_text(c["time_ms"]),
            "uid": sub["user", "uid"],
            "msisdn": sub["user", "msisdn"],
            "os": sub["device", "os"],
            "app_version": sub["device", "app_version"],
            "event_type": event_type,
            "biz_code": sub["biz", "code"],
            "amount_fen": as_text(sub["biz", "amount_fen"]),
            "biz_status": as_text(status),
            "biz_err": sub["biz", "err"],
            "rating_score": as_text(score),
            "export_date": pa.repeat(pa.scalar(date, pa.string()), n),
            "extra": extra,
            col.LINE: pa.array(np.arange(lines.first, lines.first + n), pa.int64()),
        }
    )
    if not good.all():  # a filter copies every column even when it keeps every row: 5 ms a chunk
        fast = fast.filter(pa.array(good))
    slow = (
        _line_item(lines.number(i), lines.line(i), export_date)
        for i in np.flatnonzero(~good).tolist()
    )
    try:
        return col.combine(COLUMNS, fast, slow)
    except _Resume:  # nothing of these lines has been yielded
        raise _Resume(lines.first) from None


def _text_check(
    data: bytes, arr: np.ndarray, starts: np.ndarray
) -> tuple[Callable[[pa.ChunkedArray], pa.Array], np.ndarray | None]:
    """A mask for a text column: null, or text that strip() leaves alone and is not empty; and
    the lines it leaves to the per-record path (None: no line).

    In a chunk of ASCII without escapes, a string can only start or end with a space (other white
    space must be escaped, and a NUL too), whose byte is then next to a quote: the lines with such
    a space (if few) go to the per-record path, and in the others the non-empty check is all it
    takes."""
    if data.isascii() and b"\\" not in data:
        spaces = np.flatnonzero(arr == 0x20)
        quoted = spaces[
            (arr[spaces - 1] == 0x22) | (arr[np.minimum(spaces + 1, len(arr) - 1)] == 0x22)
        ]
        if len(quoted) * 100 <= len(starts):
            plain = np.ones(len(starts), dtype=bool)
            plain[np.searchsorted(starts, quoted, side="right") - 1] = False
            return _non_empty, None if plain.all() else plain
    # The escape \u0000 is looked for only in a chunk with a backslash (memchr): the six-byte
    # search alone took 5.2 CPU-ms per 8 MB of events with Chinese text (0.1 s per 1M events).
    nul = b"\x00" in data or (b"\\" in data and b"\\u0000" in data)
    return partial(col.clean_text, nul_possible=nul), None


def _non_empty(values: pa.ChunkedArray) -> pa.Array:
    return col.null_or(values, pc.greater(pc.binary_length(values), 0))


def _line_texts(lines: col.Lines) -> pa.Array:
    """The lines of a chunk as an Arrow string array (no copy)."""
    # A line ends after its \n, except the last line of a file cut short, which has none.
    end = min(int(lines.ends[-1]) + 1, len(lines.data)) if len(lines) else 0
    offsets = np.append(lines.starts, end)
    return pa.StringArray.from_buffers(
        len(lines), pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(lines.data)
    )


def _extra_column(
    table: pa.Table, data: bytes | bytearray, texts: Callable[[], pa.Array]
) -> tuple[pa.Array, list]:
    """The ``extra`` column where this path can build it, and masks that leave the other events
    to the per-record path: a vendor key given as null (kept in ``extra``, but read as absent
    here), a nested vendor key, a vendor value that is not text or needs escaping, and more than
    one vendor key (their order is the event's)."""
    n = table.num_rows
    masks: list = []
    parts: list = []
    given = np.zeros(n, dtype=np.int32)
    texts_cache: list[pa.Array] = []

    def line_texts() -> pa.Array:
        if not texts_cache:
            texts_cache.append(texts())
        return texts_cache[0]

    def absent_where_null(key: str, values: pa.ChunkedArray | pa.Array) -> None:
        literal = orjson.dumps(key)
        if literal != b'"' + key.encode() + b'"':  # needs escaping: on its line with a backslash
            masks.append(pc.or_(pc.is_valid(values), pc.invert(_contains(line_texts(), "\\"))))
            return
        escapes = b"\\" in data
        if not escapes and data.count(literal) == n - values.null_count:
            return  # every mention of the key is one of its values
        mentioned = _contains(line_texts(), literal.decode())
        if escapes:
            mentioned = pc.or_(mentioned, _contains(line_texts(), "\\"))
        masks.append(pc.or_(pc.is_valid(values), pc.invert(mentioned)))

    for name in table.column_names:
        if name in _EVENT_KEYS:
            continue
        values = table.column(name)
        absent_where_null(name, values)
        if pa.types.is_string(values.type) and orjson.dumps(name).decode() == f'"{name}"':
            if col.may_hold_bytes(values, below=0x20, among=b'"\\'):  # what _JSON_SAFE refuses
                masks.append(col.null_or(values, col.matches(values, _JSON_SAFE)))
            given += col.and_all([pc.is_valid(values)], n)
            parts.append(pc.binary_join_element_wise(f'{{"{name}":"', values, '"}', ""))
        else:
            masks.append(pc.is_null(values))
    for parent, known in _NESTED_KEYS.items():
        for field in table.schema.field(parent).type:
            if field.name not in known:
                values = pc.struct_field(table.column(parent), field.name)
                masks.append(pc.is_null(values))
                absent_where_null(field.name, values)
    if not parts:
        return pa.nulls(n, pa.string()), masks
    masks.append(pa.array(given <= 1))
    # Each part is a whole object, null where its key has no value; a row this path keeps has at
    # most one, so the first that is not null is its extra. (Joining comma-ended parts, wrapping
    # them and nulling the empty ones took 5.8 ms a chunk for one vendor key, this 1.4.)
    extra = pc.coalesce(*parts) if len(parts) > 1 else parts[0]
    return extra, masks


def _contains(texts: pa.Array, pattern: str) -> pa.Array:
    return pc.match_substring(texts, pattern)
