"""Reader for the mobile app export: ``app/app_events_YYYYMMDD.json``.

One UTF-8 JSON document, ``{"export_date": ..., "app": ..., "count": n, "events": [...]}``, that
may be hundreds of MB. It is parsed incrementally with ijson, one event at a time, so memory
stays flat. The top-level keys may come in any order: ``export_date`` is looked up before the
events (a second, early-stopping scan when it is written after them) and goes into every row;
``count`` is checked against the number of events once the document has been read to its end
(a second scan finds it when it is written after the events).
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

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import ijson
import orjson

from channel_dw.errors import FileRejected
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


def read(path: Path) -> Iterator[Item]:
    """Yield one Row or Rejection per event of an app export document."""
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
        position = 0
        rejected = 0
        try:
            for position, event in enumerate(ijson.items(f, "events.item", use_float=True), 1):
                item = _event_item(position, event, export_date_text)
                if item.__class__ is Rejection:
                    rejected += 1
                yield item
        except ijson.JSONError as exc:
            raise _not_json(name, exc, after=position) from exc

        if expected is None:  # written after the events: a second scan, in C, finds it
            f.seek(start)
            expected = _expected_count(name, _first_top_level_value(f, name, "count"))
    if expected != position:
        raise FileRejected(
            file=name,
            line=None,
            rule="count_mismatch",
            message=f"count says {expected:,} events but the document holds {position:,}: "
            "the export is truncated or padded; ask the vendor to deliver it again",
        )
    logger.debug("%s: %d events, %d quarantined", name, position, rejected)


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
    except ijson.JSONError as exc:
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
    except ijson.JSONError as exc:
        raise _not_json(name, exc, after=None) from exc
    return None


def _not_json(name: str, exc: ijson.JSONError, after: int | None) -> FileRejected:
    """The rejection for a parse error; ``after`` is the number of events read before it."""
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
    description="Mobile app (掌上营业厅) export, one JSON document with an events array.",
    json_columns=("extra",),
)
