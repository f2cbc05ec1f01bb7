"""Reader for the website event log: ``web/web_events_YYYYMMDD.jsonl`` (or ``.jsonl.gz``).

One JSON object a line, UTF-8; a name ending in ``.gz`` is inflated by ISA-L (``isal.igzip``, the
``gzip`` module's reader with ISA-L's inflate: 0.10 CPU-s for 1M lines' 316 MB, against 0.35 s, and
0.4-0.6 s behind the buffer this reader used to put in front of it). The file is read in
chunks of a few MB (:mod:`channel_dw.sources.columnar`: pyarrow parses a chunk, vectorised masks
clear the lines that pass every row rule, the others go through :func:`_parse_line`), so memory
stays flat whatever its size. Each line gives one raw row of ``raw.web_events``: the contract's
keys as delivered text (stripped; empty or null -> None; a number or boolean as its JSON text),
plus ``extra``, the keys the contract does not name that carry a value, as a compact JSON object
(None when there are none; a vendor key given as null is dropped like a contract key given as
null). Duplicate events (the collector retries) are all
yielded: de-duplication is staging's job. ``line`` is the physical line, 1-based. Blank lines
carry no record and are skipped; a UTF-8 byte-order mark on line 1 is ignored.

Row rules (the row is quarantined, the file goes on):

============== ================================================================================
rule           fires when
============== ================================================================================
invalid_json   the line is not JSON, or is JSON but not an object
missing_field  event_id, ts, visitor_id or event is absent, null or empty; biz_code on a
               biz_submit/biz_result; result on a biz_result
bad_timestamp  ts is not ``YYYY-MM-DDTHH:MM[:SS[.fff]]`` with an offset (``+08:00``, ``Z``)
unknown_code   event is not one of the five; biz_code on biz_submit/biz_result is not a web code
bad_value      result on a biz_result is not ``success`` or ``fail``
bad_phone      msisdn is given but is no mainland mobile number in any shape (masked, landline...)
bad_amount     amount is given but is not a decimal number (``-``? digits, optionally ``.`` digits)
too_deep       the line nests JSON more than 128 levels deep (DW_MAX_JSON_DEPTH, see
               :mod:`~channel_dw.sources.limits`)
============== ================================================================================

File rules (:class:`~channel_dw.errors.FileRejected`, the whole file is kept aside):

============== ================================================================================
unreadable     a ``.gz`` file that is not gzip, or is corrupt or cut short
bad_encoding   a line that is not valid UTF-8 (the error names the line)
empty_file     no record at all: a website never has a day without a single event, so an empty
               file is a failed export, not a quiet day
line_too_long  a line runs over 16 MiB without a line break (DW_MAX_LINE_BYTES)
too_large      a ``.gz`` file inflates to more than 32 GiB (DW_MAX_GZIP_INFLATED_BYTES)
============== ================================================================================

Checks on ``biz_code`` and ``result`` apply to the events that carry them by contract; on other
events whatever is there is stored as delivered.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from channel_dw.errors import FileRejected
from channel_dw.sources import _compiled as compiled
from channel_dw.sources import _zip_member, ahead, limits
from channel_dw.sources import columnar as col
from channel_dw.sources._compiled import DECIMAL, FREE, ISO_TS, MEMBER, MOBILE, Rule
from channel_dw.sources._web_extra import extra_column
from channel_dw.sources.base import (
    Item,
    Rejection,
    Row,
    SourceSpec,
    is_masked_msisdn,
    normalise_msisdn,
)

try:  # the gzip module's reader with ISA-L's inflate (the isal package); gzip's is the same, slower
    from isal import igzip as _gzip
except ImportError:  # pragma: no cover - isal is a dependency; a build without it still reads
    import gzip as _gzip

logger = logging.getLogger(__name__)

COLUMNS: tuple[str, ...] = (
    "event_id",
    "ts",
    "session_id",
    "visitor_id",
    "member_id",
    "msisdn",
    "event",
    "biz_code",
    "order_id",
    "amount",
    "result",
    "fail_reason",
    "page",
    "extra",
)
_KEYS = COLUMNS[:-1]  # the keys the contract names, in raw column order
_KNOWN_KEYS = frozenset(_KEYS)

EVENTS = frozenset({"page_view", "login", "register", "biz_submit", "biz_result"})
BIZ_EVENTS = frozenset({"biz_submit", "biz_result"})
BIZ_CODES = frozenset(
    {
        "WEB_BILLQ",
        "WEB_PAY",
        "WEB_PLAN",
        "WEB_CAMP",
        "WEB_VAS",
        "WEB_DATA",
        "WEB_NUMOPEN",
        "WEB_BB",
        "WEB_PWD",
        "WEB_COMPLAIN",
    }
)
RESULTS = frozenset({"success", "fail"})

_BOM = b"\xef\xbb\xbf"


def read_batches(path: Path) -> Iterator[col.Batch]:
    """The file in batches: a chunk of lines parsed in columns, see :mod:`columnar`."""
    name = path.name
    records = inflated = 0
    gz_limit = limits.max_gzip_inflated_bytes() if name.endswith(".gz") else None
    with _open(path) as fh:
        try:
            jobs = (
                partial(_chunk, data, first, name)
                for data, first in col.read_chunks(fh, CHUNK_BYTES, name=name)
            )
            for size, batches in ahead.in_order(jobs):
                inflated += size
                if gz_limit is not None and inflated > gz_limit:
                    raise FileRejected(
                        file=name,
                        line=None,
                        rule="too_large",
                        message=f"{name} inflates to more than {limits.size_text(gz_limit)} "
                        f"({limits.stated('MAX_GZIP_INFLATED_BYTES')}) from "
                        f"{limits.size_text(path.stat().st_size)} compressed; a day's events "
                        "are far smaller, so it is damaged or a zip bomb (read up to record "
                        f"{records:,}): ask the vendor to deliver it again",
                    )
                for batch in batches.replay():
                    records += batch.num_rows + len(batch.rejections)
                    yield batch
        except (OSError, EOFError, *_zip_member.ERRORS) as exc:  # ISA-L's is not a zlib.error
            if not name.endswith(".gz"):
                raise  # a plain file that cannot be read is a system problem, not bad input
            raise FileRejected(
                file=name,
                line=None,
                rule="unreadable",
                message=f"{name} is not a readable gzip file ({exc}); "
                f"it was read up to record {records:,}",
            ) from exc
    if records == 0:
        raise FileRejected(
            file=name,
            line=None,
            rule="empty_file",
            message="the file holds no event at all; a website day always has events, "
            "so the export probably failed: ask the vendor to deliver it again",
        )
    logger.debug("%s: %d records", name, records)


def read(path: Path) -> Iterator[Item]:
    """Yield one Row or Rejection per non-blank line of a web export file, in line order."""
    return col.items_from_batches(COLUMNS, read_batches(path))


CHUNK_BYTES = 8 << 20
_SCHEMA = pa.schema([(key, pa.string()) for key in _KEYS])
_PARSE = pj.ParseOptions(explicit_schema=_SCHEMA, unexpected_field_behavior="infer")
# One thread per chunk: the reader threads parse chunks side by side (ahead.py), and pyarrow's JSON
# reader spends a third more CPU time on two threads than on one (measured on 8 MB chunks).
_READ = pj.ReadOptions(use_threads=False)
_TS = (
    rf"^{col.certain_date()}T{col.certain_time()}(?:\.[0-9]{{1,6}})?"
    r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])$"
)
_FREE_TEXT = tuple(k for k in _KEYS if k not in ("ts", "event", "msisdn", "amount"))


# The row rules the compiled pass applies (_compiled.c, render_json), a subset of _parse_line's.
_PLAN = compiled.JsonPlan(
    _KEYS,
    {
        **{key: Rule(FREE, required=False) for key in _KEYS},
        **{key: Rule(FREE) for key in ("event_id", "visitor_id")},
        "ts": Rule(ISO_TS),
        "msisdn": Rule(MOBILE, required=False),
        "event": Rule(MEMBER, values=tuple(sorted(EVENTS))),
        "amount": Rule(DECIMAL, required=False),
    },
    event="event",
    needs={"biz_submit": 1, "biz_result": 2},
    biz_code=("biz_code", tuple(sorted(BIZ_CODES))),
    result=("result", tuple(sorted(RESULTS))),
)


def _chunk(data: bytes, first: int, name: str) -> tuple[int, ahead.Collected[col.Batch]]:
    """One chunk's batches (run ahead on a reader thread, see :mod:`ahead`) and its size: the
    compiled pass where it can run (it takes only valid UTF-8), else the columnar path, which also
    passes on the rows before a line that rejects the file."""
    if compiled.available():
        try:
            batch = compiled.batch_of(
                _PLAN, data, first, COLUMNS, lambda number, line: [_parse_line(number, line, name)]
            )
            return len(data), ahead.Collected([batch])
        except FileRejected:
            pass
    lines = col.Lines.of(data, first)
    fast = partial(_fast_batch, name=name)
    return len(data), ahead.Collected(col.bisect(lines, fast, partial(_slow_batch, name=name)))


def _slow_batch(lines: col.Lines, name: str) -> col.Batch:
    return col.batch_from_items(
        COLUMNS, (_parse_line(lines.number(i), lines.line(i), name) for i in range(len(lines)))
    )


def _fast_batch(lines: col.Lines, name: str) -> col.Batch | None:
    """The chunk parsed by pyarrow; None when it cannot be (the caller halves it)."""
    data = lines.data
    arr = np.frombuffer(data, dtype=np.uint8)
    starts, ends = lines.starts, lines.ends
    ends = ends - ((ends > starts) & (arr[np.maximum(ends - 1, 0)] == 13))  # a \r before \n
    filled = ends > starts
    if not filled.any():
        return col.Batch(col.rows_table(COLUMNS, []))
    # Every non-empty line must look like one object: then a parsed row is a line.
    if not ((arr[starts[filled]] == 0x7B).all() and (arr[ends[filled] - 1] == 0x7D).all()):
        return None
    if col.may_nest_deeper(lines, ends, col.PYARROW_SAFE_DEPTH):
        return None  # pyarrow's time grows with the square of the depth: the slow path judges
    try:
        table = pj.read_json(pa.py_buffer(data), read_options=_READ, parse_options=_PARSE)
        if not data.isascii():  # pyarrow does not check UTF-8 while it parses
            for column in table.columns:
                column.validate(full=True)
        extras = [k for k in table.column_names if k not in _KNOWN_KEYS]
    except (pa.ArrowInvalid, UnicodeDecodeError):
        return None  # the slow path says which line is not JSON or not UTF-8
    index = np.flatnonzero(filled)
    n = table.num_rows
    if n != len(index):
        return None
    c = {key: table.column(key) for key in _KEYS}
    # A NUL comes as the byte or as the escape \u0000. The escape is looked for only when the
    # chunk has a backslash at all: finding that one byte (memchr) costs 0.01 CPU-s per 1M lines,
    # finding the six-byte escape 0.21 s.
    nul = b"\x00" in data or (b"\\" in data and b"\\u0000" in data)
    # ts, event, msisdn and amount are held to patterns that admit no white space.
    masks = [col.clean_text(c[key], nul) for key in _FREE_TEXT]
    masks += [col.present(c[k]) for k in ("event_id", "ts", "visitor_id", "event")]
    masks.append(col.matches(c["ts"], _TS))
    masks.append(col.one_of(c["event"], EVENTS))
    is_biz = col.one_of(c["event"], BIZ_EVENTS)
    biz_ok = col.one_of(c["biz_code"], BIZ_CODES)
    result_ok = pc.or_(pc.not_equal(c["event"], "biz_result"), col.one_of(c["result"], RESULTS))
    masks.append(pc.or_(pc.invert(is_biz), pc.and_(biz_ok, result_ok)))
    masks.append(col.null_or(c["msisdn"], col.matches(c["msisdn"], col.MOBILE_SHAPES)))
    masks.append(col.null_or(c["amount"], col.matches(c["amount"], col.DECIMAL)))
    extra, extra_masks = extra_column(table, extras)
    if extra is None:
        return None
    good = col.and_all(masks + extra_masks, n)
    fast = pa.table(
        {
            **{key: c[key] for key in _KEYS},
            "extra": extra,
            col.LINE: pa.array(index + lines.first, pa.int64()),
        }
    )
    if not good.all():
        fast = fast.filter(pa.array(good))
    slow = (_parse_line(lines.first + i, lines.line(i), name) for i in index[~good].tolist())
    return col.combine(COLUMNS, fast, slow)


def _open(path: Path) -> BinaryIO:
    if path.name.endswith(".gz"):
        # read in 8 MB chunks: GzipFile buffers itself, another buffer would only copy them
        return _gzip.GzipFile(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def _parse_line(number: int, raw: bytes, name: str) -> Item | None:
    """The item of one line; None for a blank line. The row rules, in the order they are tried."""
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if not raw.strip():
            return None
        text = _decode(number, raw, name)
        if number == 1 and raw.startswith(_BOM):
            return _parse_line(number, raw[len(_BOM) :], name)
        if "depth limit exceeded" in str(exc):  # orjson's own limit, 1024
            return Rejection(number, "too_deep", limits.too_deep_message("the line"), text)
        return Rejection(number, "invalid_json", f"the line is not valid JSON ({exc})", text)
    opens = raw.count(b"{") + raw.count(b"[")
    if opens > 1 and opens > (depth := limits.max_json_depth()) and limits.nests_deeper(obj, depth):
        return _reject(number, raw, name, "too_deep", limits.too_deep_message("the line"))
    if obj.__class__ is not dict:
        return _reject(
            number, raw, name, "invalid_json", f"the line is a JSON {_kind(obj)}, not an object"
        )
    values = [
        v if v is None else (v.strip() or None) if v.__class__ is str else _json_text(v)
        for v in map(obj.get, _KEYS)
    ]
    (event_id, ts, _, visitor_id, _, msisdn, event, biz_code, _, amount, result, _, _) = values
    if event_id is None or ts is None or visitor_id is None or event is None:
        missing = _missing_required(values)
        verb = "is" if len(missing) == 1 else "are"
        return _reject(
            number,
            raw,
            name,
            "missing_field",
            f"{' and '.join(missing)} {verb} missing "
            "(every event needs event_id, ts, visitor_id and event)",
        )
    # Extended form only (YYYY-MM-DDTHH:MM...), the one PostgreSQL reads too: fromisoformat
    # alone would also take the basic and week-date forms.
    if ts[4:14:3] != "--T:" or not _has_offset(ts):
        return _reject(
            number,
            raw,
            name,
            "bad_timestamp",
            f"ts {ts!r} is not an ISO 8601 timestamp with an offset",
        )
    if event not in EVENTS:
        return _reject(
            number,
            raw,
            name,
            "unknown_code",
            f"event {event!r} is not one of page_view, login, register, biz_submit, biz_result",
        )
    if event in BIZ_EVENTS:
        if biz_code is None:
            return _reject(
                number, raw, name, "missing_field", f"biz_code is missing on a {event} event"
            )
        if biz_code not in BIZ_CODES:
            return _reject(
                number,
                raw,
                name,
                "unknown_code",
                f"biz_code {biz_code!r} on a {event} event is not a web business code",
            )
        if event == "biz_result" and result not in RESULTS:
            if result is None:
                return _reject(
                    number, raw, name, "missing_field", "result is missing on a biz_result event"
                )
            return _reject(
                number,
                raw,
                name,
                "bad_value",
                f"result {result!r} on a biz_result event is not success or fail",
            )
    if msisdn is not None and not _is_mobile(msisdn):
        why = "masked" if is_masked_msisdn(msisdn) else "not a mainland mobile number"
        return _reject(number, raw, name, "bad_phone", f"msisdn {msisdn!r} is {why}")
    if amount is not None and not _is_decimal(amount):
        return _reject(
            number, raw, name, "bad_amount", f"amount {amount!r} is not a decimal number of yuan"
        )
    # A vendor key given as null is no more kept than a contract key given as null.
    extra = {k: v for k, v in obj.items() if v is not None and k not in _KNOWN_KEYS}
    values.append(orjson.dumps(extra).decode() if extra else None)
    return Row(number, tuple(values))


def _reject(number: int, raw: bytes, name: str, rule: str, message: str) -> Rejection:
    return Rejection(number, rule, message, _decode(number, raw, name))


def _missing_required(values: list[str | None]) -> list[str]:
    """The names of the required keys that are missing, in contract order."""
    required = {"event_id": values[0], "ts": values[1], "visitor_id": values[3], "event": values[6]}
    return [key for key, value in required.items() if value is None]


def _has_offset(ts: str) -> bool:
    """True when ts parses as an ISO 8601 date-time that carries a UTC offset."""
    try:
        parsed = datetime.fromisoformat(ts)
    except ValueError:
        return False
    return parsed.tzinfo is not None


def _is_mobile(msisdn: str) -> bool:
    """normalise_msisdn(msisdn) is not None, with a fast path for the shapes the contract lists.

    The fast path only ever accepts numbers the shared rule accepts too; anything it does not
    recognise is decided by ``normalise_msisdn``.
    """
    digits = msisdn.replace(" ", "").replace("-", "")
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    elif len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    if len(digits) == 11 and digits[0] == "1" and digits.isdigit() and digits.isascii():
        return True
    return normalise_msisdn(msisdn) is not None


def _is_decimal(text: str) -> bool:
    if text[0] in "+-":
        text = text[1:]
    whole, dot, fraction = text.partition(".")
    return text.isascii() and whole.isdigit() and (not dot or fraction.isdigit())


def _json_text(value: Any) -> str:
    """A non-string JSON value as text: numbers and booleans as JSON writes them."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int | float):
        return str(value)
    return orjson.dumps(value).decode()


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    return "number"


def _decode(number: int, raw: bytes, name: str) -> str:
    try:
        return raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError as exc:
        raise FileRejected(
            file=name,
            line=number,
            rule="bad_encoding",
            message=f"line {number:,} is not valid UTF-8 (byte {exc.start + 1} of the line); "
            "the export must be UTF-8",
            text=raw.decode("utf-8", errors="replace").rstrip("\r\n"),
        ) from exc


SPEC = SourceSpec(
    name="web",
    raw_table="web_events",
    file_pattern=re.compile(r"web_events_(?P<date>\d{8})\.jsonl(\.gz)?"),
    columns=COLUMNS,
    read=read,
    read_batches=read_batches,
    description="Website (网上营业厅) event log, one JSON object a line, plain or gzip.",
    json_columns=("extra",),
)
