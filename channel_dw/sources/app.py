"""Reader for the mobile app export: ``app/app_events_YYYYMMDD.json``.

One UTF-8 JSON document, ``{"export_date": ..., "app": ..., "count": n, "events": [...]}``, that
may be hundreds of MB, so it is never held whole: in the usual layout (the header on the first
line, ending with ``"events":[``, then one event a line) chunks of a few MB of event lines are
parsed in columns by pyarrow, and the events that vectorised masks cannot clear go through the
per-event rules below (:mod:`channel_dw.sources.columnar`); any other layout, and whatever in a
chunk the line reading cannot vouch for, is parsed incrementally with ijson, one event at a time,
from there on. Both give the same items. The top-level keys may come in any order:
``export_date`` is looked up before the events (a second, early-stopping scan when it is written
after them) and goes into every row; ``count`` is checked against the number of events once the
document has been read to its end (a second scan finds it when it is written after the events).
Other top-level keys (``app``, vendor additions) are not loaded.

Each event gives one raw row of ``raw.app_events``. ``line`` is the event's 1-based position in
the ``events`` array (not a physical line: the document may be a single line). Values are the
delivered text: strings stripped (empty -> None), JSON numbers as their decimal text
(``time_ms`` 1759277702123 -> ``"1759277702123"``), booleans as ``true``/``false``. Keys the
contract does not name, at the top of an event or inside ``user``, ``device``, ``biz`` or
``rating``, go to ``extra`` nested under their parent key, e.g. ``{"ab": "x", "user": {"vip": 1}}``.
A field the contract types as an integer (``time_ms``, ``biz.status``, ``biz.amount_fen``,
``rating.score``) may be a JSON integer or a string holding one; ``5000.0`` is not an integer.

Row rules (the event is quarantined, re-serialised as JSON, and the file goes on):

============== ================================================================================
rule           fires when
============== ================================================================================
invalid_json   the event is not a JSON object; user/device/biz/rating is neither object nor null
missing_field  id, time_ms or type is absent, null or empty; biz.code or biz.status on a biz
               event; rating.score on a rate event
bad_timestamp  time_ms is not an integer, or is outside 2000-01-01..2100-01-01 (seconds given
               for milliseconds, say)
unknown_code   type is not launch/view/register/biz/rate; biz.code on a biz event is not an app
               business code
bad_phone      user.msisdn is given but is no mainland mobile number (masked, landline...)
bad_value      biz.status on a biz event is not 0 or 1; rating.score on a rate event is not 1..5
bad_amount     biz.amount_fen is given but is not an integer
too_deep       the event nests JSON more than 128 levels deep (DW_MAX_JSON_DEPTH, see
               :mod:`~channel_dw.sources.limits`); shown with its nested parts left out
============== ================================================================================

File rules (:class:`~channel_dw.errors.FileRejected`, the whole file is kept aside):

============== ================================================================================
unreadable     not valid JSON (including a document cut short mid-way), or not the expected
               shape: the top level is not an object, there is no ``events`` array, or ``count``
               is missing or not an integer
bad_encoding   the document is not valid UTF-8 (the error names the event being read)
count_mismatch ``count`` differs from the number of events: the export is truncated
empty_file     the file holds nothing but white space
============== ================================================================================

An export with ``"count": 0, "events": []`` is a valid empty day: it yields nothing. A missing
``export_date`` is not an error (the business date comes from the file name); the column is then
None.
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO

import ijson
import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from channel_dw.errors import FileRejected
from channel_dw.sources import ahead, limits
from channel_dw.sources import columnar as col
from channel_dw.sources.base import (
    Item,
    Rejection,
    Row,
    SourceSpec,
    is_masked_msisdn,
    normalise_msisdn,
)

logger = logging.getLogger(__name__)

COLUMNS: tuple[str, ...] = (
    "event_id",
    "time_ms",
    "uid",
    "msisdn",
    "os",
    "app_version",
    "event_type",
    "biz_code",
    "amount_fen",
    "biz_status",
    "biz_err",
    "rating_score",
    "export_date",
    "extra",
)

EVENT_TYPES = frozenset({"launch", "view", "register", "biz", "rate"})
BIZ_CODES = frozenset(
    {"BILLQ01", "PAY01", "PLAN01", "CAMP01", "VAS01", "DATA01", "NUM01", "BB01", "PWD01", "CMP01"}
)
_EVENT_KEYS = frozenset({"id", "time_ms", "type", "user", "device", "biz", "rating"})
_NESTED_KEYS: dict[str, frozenset[str]] = {
    "user": frozenset({"uid", "msisdn"}),
    "device": frozenset({"os", "app_version"}),
    "biz": frozenset({"code", "amount_fen", "status", "err"}),
    "rating": frozenset({"score"}),
}
# Plausible event times: 2000-01-01T00:00:00Z .. 2100-01-01T00:00:00Z in epoch milliseconds.
_MIN_TIME_MS = 946_684_800_000
_MAX_TIME_MS = 4_102_444_800_000

_BOM = b"\xef\xbb\xbf"
_SCALAR_EVENTS = frozenset({"string", "number", "boolean", "null"})
_NOT_A_SCALAR = object()  # a header key whose value is an object or array


def read_batches(path: Path) -> Iterator[col.Batch]:
    """The events of an app export in batches (see :mod:`channel_dw.sources.columnar`).

    The usual layout, the header on the first line ending with ``"events":[``, then one event a
    line, then the rest of the document, is read in chunks of lines that pyarrow parses as
    newline-delimited JSON. Any other layout, and whatever in the usual one the line-by-line
    reading cannot vouch for (two events on a line, a blank line, a missing comma, bytes that are
    not UTF-8...), is read by the streaming parser from where the chunks stopped, so rules,
    messages and positions are those of the whole-document parse.
    """
    name = path.name
    with path.open("rb") as f:
        start = _content_start(f, name)
        header = _scan_header(f, name)
        if "export_date" in header:
            export_date = header["export_date"]
        else:  # written after the events, or not at all
            f.seek(start)
            export_date = _first_top_level_value(f, name, "export_date")
        export_date_text = _text(export_date) if export_date is not _NOT_A_SCALAR else None

        # A count written before the events is checked for shape before any row is yielded.
        expected = _expected_count(name, header["count"]) if "count" in header else None

        f.seek(start)
        head = f.readline(_HEAD_LIMIT)
        progress = _Progress()
        tail: bytes | None = None
        resume_at = 1
        if _is_line_header(head):
            try:
                tail = yield from _line_events(f, head, export_date_text, progress)
            except _Resume as stop:
                resume_at = stop.position
        if tail is None:
            f.seek(start)
            yield from _streamed_events(f, name, export_date_text, progress, resume_at)
            if expected is None:  # written after the events: a second scan, in C, finds it
                f.seek(start)
                expected = _expected_count(name, _first_top_level_value(f, name, "count"))
        elif expected is None:  # in the rest of the document, read whole
            expected = _expected_count(
                name, _first_top_level_value(io.BytesIO(head + tail), name, "count")
            )
    position = progress.events
    if expected != position:
        raise FileRejected(
            file=name,
            line=None,
            rule="count_mismatch",
            message=f"count says {expected:,} events but the document holds {position:,}: "
            "the export is truncated or padded; ask the vendor to deliver it again",
        )
    logger.debug("%s: %d events, %d quarantined", name, position, progress.rejected)


def read(path: Path) -> Iterator[Item]:
    """Yield one Row or Rejection per event of an app export document."""
    return col.items_from_batches(COLUMNS, read_batches(path))


# --- the whole document, streamed ------------------------------------------------------------


@dataclass
class _Progress:
    events: int = 0  # the position of the last event yielded
    rejected: int = 0


def _streamed_events(
    f: BinaryIO, name: str, export_date: str | None, progress: _Progress, first: int = 1
) -> Iterator[col.Batch]:
    """The events from position ``first`` on, by the streaming parser over the whole document
    (those before are parsed again, and passed over). A file rejection ends the stream after the
    events read before it, in a last batch."""
    items: list[Item] = []
    position = 0
    try:
        for position, event in enumerate(ijson.items(f, "events.item", use_float=True), 1):
            if position < first:
                continue
            item = _event_item(position, event, export_date)
            if item.__class__ is Rejection:
                progress.rejected += 1
            items.append(item)
            progress.events = position
            if len(items) >= _STREAM_BATCH:
                yield col.batch_from_items(COLUMNS, items)
                items = []
    except (ijson.JSONError, UnicodeDecodeError) as exc:  # the latter: see _not_json
        error: ijson.JSONError | UnicodeDecodeError | None = exc
    else:
        error = None
    if items:
        yield col.batch_from_items(COLUMNS, items)
    if error is not None:
        raise _not_json(name, error, after=position) from error


# --- one event a line, in columns -----------------------------------------------------------

CHUNK_BYTES = 8 << 20
_STREAM_BATCH = 50_000
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


# --- the document around the events ---------------------------------------------------------


def _content_start(f: BinaryIO, name: str) -> int:
    """The offset where the JSON text starts (after a UTF-8 byte-order mark, if any)."""
    head = f.read(len(_BOM))
    start = len(_BOM) if head == _BOM else 0
    f.seek(start)
    if not f.read(65536).strip() and not f.read(1):
        raise FileRejected(
            file=name,
            line=None,
            rule="empty_file",
            message="the file is empty; the app export always holds a JSON document, "
            "so the export probably failed: ask the vendor to deliver it again",
        )
    f.seek(start)
    return start


def _scan_header(f: BinaryIO, name: str) -> dict[str, Any]:
    """The top-level scalars written before ``events`` (export_date, app, count).

    Stops at the start of the events array, so in the usual layout it reads a few bytes only.
    Rejects the file when the top level is not an object or there is no events array.
    """
    header: dict[str, Any] = {}
    parser = ijson.parse(f, use_float=True)
    try:
        _, event, _ = next(parser)
        if event != "start_map":
            raise FileRejected(
                file=name,
                line=None,
                rule="unreadable",
                message=f"the document is a JSON {_parse_event_kind(event)}, "
                "not an object with an events array",
            )
        for prefix, event, value in parser:
            if prefix == "events":
                if event == "start_array":
                    return header
                raise FileRejected(
                    file=name,
                    line=None,
                    rule="unreadable",
                    message=f"events is a JSON {_parse_event_kind(event)}, not an array",
                )
            if prefix in ("export_date", "app", "count") and prefix not in header:
                header[prefix] = value if event in _SCALAR_EVENTS else _NOT_A_SCALAR
    except (ijson.JSONError, UnicodeDecodeError) as exc:
        raise _not_json(name, exc, after=None) from exc
    except StopIteration:
        pass
    raise FileRejected(
        file=name,
        line=None,
        rule="unreadable",
        message="the document has no events array",
    )


def _expected_count(name: str, count: Any) -> int:
    """The document's count as an int; rejects the file when it is missing or not an integer."""
    expected = _as_int(count) if count is not _NOT_A_SCALAR else None
    if expected is None:
        what = "no count" if count is None else f"count {_describe(count)}, not an integer,"
        raise FileRejected(
            file=name,
            line=None,
            rule="unreadable",
            message=f"the document has {what} so it cannot be checked for truncation",
        )
    return expected


def _first_top_level_value(f: BinaryIO, name: str, key: str) -> Any:
    """The value of a top-level key, or None when the document has none (ijson, in C)."""
    try:
        for value in ijson.items(f, key, use_float=True):
            return _NOT_A_SCALAR if isinstance(value, dict | list) else value
    except (ijson.JSONError, UnicodeDecodeError) as exc:
        raise _not_json(name, exc, after=None) from exc
    return None


def _not_json(
    name: str, exc: ijson.JSONError | UnicodeDecodeError, after: int | None
) -> FileRejected:
    """The rejection for a parse error; ``after`` is the number of events read before it.

    The C parser checks UTF-8 itself (a JSONError), but lets through some byte sequences that
    Python then refuses to decode, such as ``c0 80`` (an overlong NUL): a UnicodeDecodeError."""
    if isinstance(exc, UnicodeDecodeError):
        bad = exc.object[exc.start : exc.end]
        what = f"byte {bad.hex()} in a string is" if len(bad) == 1 else f"bytes {bad.hex(' ')} are"
        detail = f"{what} not UTF-8 ({exc.reason})"
    else:
        detail = exc.args[0] if exc.args else exc
        if isinstance(detail, bytes):
            detail = detail.decode("utf-8", errors="replace")
        detail = " ".join(str(detail).split())
    where = f" after event {after:,}" if after else ""
    position = after + 1 if after is not None else None
    if "UTF8" in detail or "UTF-8" in detail:
        return FileRejected(
            file=name,
            line=position,
            rule="bad_encoding",
            message=f"the document is not valid UTF-8{where}; the export must be UTF-8",
            text=detail,
        )
    hint = " (the file looks cut short)" if "premature EOF" in detail else ""
    return FileRejected(
        file=name,
        line=position,
        rule="unreadable",
        message=f"the document is not valid JSON{where}{hint}",
        text=detail,
    )


# --- one event ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Problem:
    rule: str
    message: str


def _event_item(position: int, event: Any, export_date: str | None) -> Item:
    if isinstance(event, dict | list) and limits.nests_deeper(event, limits.max_json_depth()):
        return Rejection(
            position,
            "too_deep",
            limits.too_deep_message(f"event {position:,}"),
            _shallow_text(event),
        )
    if not isinstance(event, dict):
        return Rejection(
            position,
            "invalid_json",
            f"event {position:,} is a JSON {_kind(event)}, not an object",
            _dumps(event),
        )
    result = _event_values(event, export_date)
    if isinstance(result, _Problem):
        return Rejection(position, result.rule, result.message, _dumps(event))
    return Row(position, result)


def _event_values(
    event: dict[str, Any], export_date: str | None
) -> tuple[str | None, ...] | _Problem:
    """The raw values of one event, or the first row rule it breaks."""
    extra: dict[str, Any] = {k: v for k, v in event.items() if k not in _EVENT_KEYS}
    parts: dict[str, dict[str, Any]] = {}
    for parent, known in _NESTED_KEYS.items():
        part = event.get(parent)
        if part is None:
            part = {}
        elif not isinstance(part, dict):
            return _Problem("invalid_json", f"{parent} is a JSON {_kind(part)}, not an object")
        unknown = {k: v for k, v in part.items() if k not in known}
        if unknown:
            extra[parent] = unknown
        parts[parent] = part
    user, device, biz, rating = parts["user"], parts["device"], parts["biz"], parts["rating"]

    event_id = _text(event.get("id"))
    time_ms = _text(event.get("time_ms"))
    event_type = _text(event.get("type"))
    msisdn = _text(user.get("msisdn"))
    biz_code = _text(biz.get("code"))
    amount_fen = _text(biz.get("amount_fen"))
    status = _text(biz.get("status"))
    score = _text(rating.get("score"))

    missing = [
        key
        for key, value in (("id", event_id), ("time_ms", time_ms), ("type", event_type))
        if value is None
    ]
    if missing:
        verb = "is" if len(missing) == 1 else "are"
        return _Problem(
            "missing_field",
            f"{' and '.join(missing)} {verb} missing (every event needs id, time_ms and type)",
        )
    ms = _as_int(event["time_ms"])
    if ms is None:
        return _Problem(
            "bad_timestamp", f"time_ms {time_ms!r} is not an integer number of epoch milliseconds"
        )
    if not _MIN_TIME_MS <= ms < _MAX_TIME_MS:
        return _Problem(
            "bad_timestamp",
            f"time_ms {time_ms!r} is not between 2000 and 2100 in epoch milliseconds "
            "(seconds instead of milliseconds?)",
        )
    if event_type not in EVENT_TYPES:
        return _Problem(
            "unknown_code", f"type {event_type!r} is not one of launch, view, register, biz, rate"
        )
    if msisdn is not None and normalise_msisdn(msisdn) is None:
        why = "masked" if is_masked_msisdn(msisdn) else "not a mainland mobile number"
        return _Problem("bad_phone", f"user.msisdn {msisdn!r} is {why}")
    if event_type == "biz":
        if biz_code is None:
            return _Problem("missing_field", "biz.code is missing on a biz event")
        if biz_code not in BIZ_CODES:
            return _Problem(
                "unknown_code", f"biz.code {biz_code!r} on a biz event is not an app business code"
            )
        if status is None:
            return _Problem("missing_field", "biz.status is missing on a biz event")
        if _as_int(biz["status"]) not in (0, 1):
            return _Problem("bad_value", f"biz.status {status!r} is not 0 (failure) or 1 (success)")
    if amount_fen is not None and _as_int(biz["amount_fen"]) is None:
        return _Problem("bad_amount", f"biz.amount_fen {amount_fen!r} is not an integer of fen")
    if event_type == "rate":
        if score is None:
            return _Problem("missing_field", "rating.score is missing on a rate event")
        if _as_int(rating["score"]) not in (1, 2, 3, 4, 5):
            return _Problem("bad_value", f"rating.score {score!r} is not a score from 1 to 5")

    return (
        event_id,
        time_ms,
        _text(user.get("uid")),
        msisdn,
        _text(device.get("os")),
        _text(device.get("app_version")),
        event_type,
        biz_code,
        amount_fen,
        status,
        _text(biz.get("err")),
        score,
        export_date,
        _dumps(extra) if extra else None,
    )


# --- small helpers --------------------------------------------------------------------------


def _text(value: Any) -> str | None:
    """A JSON value as raw text: strings stripped (empty -> None), others as JSON writes them."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return _dumps(value)


def _as_int(value: Any) -> int | None:
    """A JSON integer, or a string holding one (``"5000"``, ``"-100"``), as int; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        digits = text[1:] if text[:1] == "-" else text
        if digits.isascii() and digits.isdigit():
            return int(text)
    return None


def _dumps(value: Any) -> str:
    """Compact JSON; falls back to the standard library for what orjson refuses (huge ints)."""
    try:
        return orjson.dumps(value).decode()
    except (TypeError, orjson.JSONEncodeError):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _shallow_text(event: Any) -> str:
    """An event too deep to write out: its top-level scalars, the nested parts left out."""
    if isinstance(event, dict):
        top = {k: v for k, v in event.items() if not isinstance(v, dict | list)}
        return f"{_dumps(top)[:1000]} (nested parts left out)"
    return "[...] (an array, nested parts left out)"


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    return "number"


def _describe(value: Any) -> str:
    return "an object or array" if value is _NOT_A_SCALAR else repr(value)


def _parse_event_kind(event: str) -> str:
    """The JSON kind behind an ijson.parse event name ("start_map" -> "object")."""
    return {"start_map": "object", "start_array": "array"}.get(event, event)


SPEC = SourceSpec(
    name="app",
    raw_table="app_events",
    file_pattern=re.compile(r"app_events_(?P<date>\d{8})\.json"),
    columns=COLUMNS,
    read=read,
    read_batches=read_batches,
    description="Mobile app (掌上营业厅) export, one JSON document with an events array.",
    json_columns=("extra",),
)
