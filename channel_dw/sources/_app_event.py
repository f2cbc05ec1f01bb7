"""One app event as the contract reads it: its row, or the rule it breaks (the per-record path).

:mod:`channel_dw.sources.app` reads the document; this is what both its paths agree on: the raw
table's columns, the event types and business codes, and the rules of one event, which the
streaming parser applies to every event it reads and the line path of :mod:`_app_lines` to the
lines its columns cannot vouch for.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import orjson

from channel_dw.sources import limits
from channel_dw.sources.base import Item, Rejection, Row, is_masked_msisdn, normalise_msisdn

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
_NOT_A_SCALAR = object()  # a header key whose value is an object or array


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
