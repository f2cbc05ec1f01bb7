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
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import ijson

from channel_dw.errors import FileRejected
from channel_dw.sources import columnar as col
from channel_dw.sources._app_event import (
    _NOT_A_SCALAR,
    COLUMNS,
    _as_int,
    _describe,
    _event_item,
    _parse_event_kind,
    _text,
)
from channel_dw.sources._app_lines import (
    _HEAD_LIMIT,
    _is_line_header,
    _line_events,
    _Progress,
    _Resume,
)
from channel_dw.sources.base import Item, Rejection, SourceSpec

logger = logging.getLogger(__name__)

_BOM = b"\xef\xbb\xbf"
_SCALAR_EVENTS = frozenset({"string", "number", "boolean", "null"})


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

_STREAM_BATCH = 50_000


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
