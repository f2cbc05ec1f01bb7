"""The app's event lines read in pyarrow's columns: the path of :mod:`_app_lines` where the
compiled pass cannot run (no C compiler, or an export date it does not write).

pyarrow parses a chunk of event lines as newline-delimited JSON with the contract's schema,
vectorised masks clear the events that certainly pass every rule, and the others go through the
per-record rules (:func:`_app_lines._line_item`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from channel_dw.sources import columnar as col
from channel_dw.sources._app_event import (
    _EVENT_KEYS,
    _MAX_TIME_MS,
    _MIN_TIME_MS,
    _NESTED_KEYS,
    BIZ_CODES,
    COLUMNS,
    EVENT_TYPES,
)
from channel_dw.sources.base import Item

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


def _parse(buf: bytearray) -> pa.Table | None:
    try:
        return pj.read_json(pa.py_buffer(buf), read_options=_READ, parse_options=_PARSE)
    except pa.ArrowInvalid:
        return None


@dataclass
class Hint:
    screen: bool = False  # look for suspect lines before parsing


def batch(
    lines: col.Lines,
    export_date: str | None,
    hint: Hint,
    per_line: Callable[[int, bytes, str | None], Item],
) -> col.Batch | None:
    """The chunk of event lines parsed by pyarrow; None when it cannot be (the caller halves it).
    The lines the columns cannot vouch for go through ``per_line(number, line, export_date)``."""
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
        per_line(lines.number(i), lines.line(i), export_date)
        for i in np.flatnonzero(~good).tolist()
    )
    return col.combine(COLUMNS, fast, slow)


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
