"""The app export's usual layout read a chunk at a time: one event a line after the header line.

:func:`channel_dw.sources.app.read_batches` hands the document here when its first line is the
whole header. The lines are cut in chunks, their layout checked in order, and each chunk's events
read on the reader threads (:mod:`~channel_dw.sources.ahead`) by the compiled pass
(``_compiled_app.c``: parse, check and render as COPY text in one pass), or where it cannot run
in pyarrow's columns (:mod:`_app_columns`). What either cannot vouch for goes through the
per-record path (:func:`_app_event._event_item`), and where the layout is not the usual one
:class:`_Resume` hands the rest to the streaming parser.
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

from channel_dw.sources import _app_columns as columns
from channel_dw.sources import _compiled as compiled
from channel_dw.sources import ahead
from channel_dw.sources import columnar as col
from channel_dw.sources._app_columns import _BRACE, _CLOSE, _COMMA, _CR
from channel_dw.sources._app_event import (
    _MAX_TIME_MS,
    _MIN_TIME_MS,
    BIZ_CODES,
    COLUMNS,
    EVENT_TYPES,
    _event_item,
)
from channel_dw.sources._compiled import FREE, INTEGER, MEMBER, MOBILE, Rule
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


# The event's rules as the compiled pass reads them (``_compiled_app.c``): a key of a part is
# ``part.key``; the columns in the order of COLUMNS, up to the export date.
_PLAN = compiled.NestedPlan(
    {
        "id": Rule(FREE),
        "time_ms": Rule(INTEGER, bounds=(_MIN_TIME_MS, _MAX_TIME_MS - 1)),
        "user.uid": Rule(FREE, required=False),
        "user.msisdn": Rule(MOBILE, required=False),
        "device.os": Rule(FREE, required=False),
        "device.app_version": Rule(FREE, required=False),
        "type": Rule(MEMBER, values=tuple(sorted(EVENT_TYPES))),
        "biz.code": Rule(FREE, required=False),
        "biz.amount_fen": Rule(INTEGER, required=False),
        "biz.status": Rule(INTEGER, required=False),
        "biz.err": Rule(FREE, required=False),
        "rating.score": Rule(INTEGER, required=False),
    },
    event="type",
    when={
        "biz": {
            "biz.code": Rule(MEMBER, values=tuple(sorted(BIZ_CODES))),
            "biz.status": Rule(INTEGER, bounds=(0, 1)),
        },
        "rate": {"rating.score": Rule(INTEGER, bounds=(1, 5))},
    },
)


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
    fast = partial(_fast_batch, export_date=export_date, hint=columns.Hint())
    slow = partial(_slow_batch, export_date=export_date)
    plan = _plan_for(export_date)
    last = 0  # the position of the last event line so far
    chunks = _or_resume(col.read_chunks(f, CHUNK_BYTES), lambda: last)
    for data, first in chunks:
        lines = col.Lines.of(data, first)
        if not lines.is_utf8():
            raise _Resume(first)
        events, tail_at, last_comma = _layout(lines, after_comma)
        last = first + events - 1
        yield partial(_chunk, lines.slice(0, events), fast, slow, last, plan, export_date)
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
    plan: compiled.NestedPlan | None,
    export_date: str | None,
) -> tuple[int, ahead.Collected[col.Batch]]:
    """One chunk's event lines as batches (on a reader thread), with the position of its last:
    by the compiled pass where it can run, else in columns."""
    if plan is not None:
        return last, ahead.Collected(_compiled_batch(lines, plan, export_date))
    return last, ahead.Collected(col.bisect(lines, fast, slow))


def _plan_for(export_date: str | None) -> compiled.NestedPlan | None:
    """The compiled pass's plan for a file of this export date, or None where it cannot run (no
    C compiler; an export date COPY text would have to escape, which the pass does not write)."""
    if export_date is not None and any(c in export_date for c in "\\\t\n\r\x00"):
        return None
    if not compiled.available():
        return None
    try:
        tail = b"\\N" if export_date is None else export_date.encode()
    except UnicodeEncodeError:  # a lone surrogate: the columnar path writes it as PostgreSQL can
        return None
    return _PLAN.with_tail(tail + b"\t")


def _compiled_batch(
    lines: col.Lines, plan: compiled.NestedPlan, export_date: str | None
) -> Iterator[col.Batch]:
    """The chunk's batch by the compiled pass; the lines it doubts go through the per-record path
    (:func:`_line_item`), which raises _Resume (from the chunk's first line: nothing of it has
    been yielded) where one is not an event."""
    try:
        yield compiled.batch_of(
            plan,
            lines.data,
            lines.first,
            COLUMNS,
            lambda number, raw: (_line_item(number, raw, export_date),),
        )
    except _Resume:
        raise _Resume(lines.first) from None


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


def _fast_batch(lines: col.Lines, export_date: str | None, hint: columns.Hint) -> col.Batch | None:
    """The chunk of event lines in pyarrow's columns (:mod:`_app_columns`); None when pyarrow
    cannot parse it (the caller halves it)."""
    try:
        return columns.batch(lines, export_date, hint, _line_item)
    except _Resume:  # nothing of these lines has been yielded
        raise _Resume(lines.first) from None
