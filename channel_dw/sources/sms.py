"""Reader for the SMS service hall log: ``sms/sms_hall_YYYYMMDD.txt``.

UTF-8, pipe separated, no header, one record a line:
``msg_id|msisdn|recv_time|command|reply_code|amount_fen|region``, and a last line
``#TRAILER|<record_count>|<sum_of_amount_fen>``. The file is streamed line by line, holding one
line back so that the last one can be told apart as the trailer. Each record gives one raw row of
``raw.sms_hall`` with its fields stripped (empty -> None) and otherwise as delivered. ``line`` is
the physical line, 1-based. Blank lines carry no record: they are skipped and not counted; a
UTF-8 byte-order mark on line 1 is ignored.

The trailer is checked against every record line, quarantined ones included (the vendor counted
what it wrote, good or bad): the record count is the number of non-blank lines before the
trailer, and the sum adds ``amount_fen`` of every seven-field line where it is an integer. A
trailer that does not match means lines were lost or added in transit.

Row rules (the record is quarantined, the file goes on):

=================== ===========================================================================
rule                fires when
=================== ===========================================================================
wrong_column_count  the line does not have exactly 7 fields
missing_field       msg_id, msisdn, recv_time, command or reply_code is empty
bad_phone           msisdn is no mainland mobile number in any shape (masked, landline...)
bad_timestamp       recv_time is not a real ``YYYYMMDDHHMMSS`` time
unknown_code        command is not CXHF, CXYE, JF, KTLL10, KTLL30, KTLL100, KTLDXS, TD,
                    BLTC_<plan> or MYD1..MYD5; region is given but not one of the 11 codes
bad_amount          amount_fen is given but is not an integer
=================== ===========================================================================

File rules (:class:`~channel_dw.errors.FileRejected`, the whole file is kept aside):

=================== ===========================================================================
missing_trailer     the last non-blank line is a record, not a ``#TRAILER`` line
bad_trailer         the trailer is malformed, is not the last line, or its count or sum does not
                    match the records
bad_encoding        a line is not valid UTF-8 (the error names the line)
empty_file          the file has no line at all: even a day without messages has its trailer
=================== ===========================================================================

A file holding only ``#TRAILER|0|0`` is a valid day without messages. A ``<plan>`` of
``BLTC_<plan>`` is letters, digits, ``_`` or ``-``. Commands are matched exactly (upper case, as
the contract writes them).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from channel_dw.errors import FileRejected
from channel_dw.sources.base import (
    REGION_CODES,
    Item,
    Rejection,
    Row,
    SourceSpec,
    is_masked_msisdn,
    normalise_msisdn,
    parse_local_datetime,
)

logger = logging.getLogger(__name__)

COLUMNS: tuple[str, ...] = (
    "msg_id",
    "msisdn",
    "recv_time",
    "command",
    "reply_code",
    "amount_fen",
    "region_code",
)

COMMANDS = frozenset(
    {"CXHF", "CXYE", "JF", "KTLL10", "KTLL30", "KTLL100", "KTLDXS", "TD"}
    | {f"MYD{score}" for score in range(1, 6)}
)
PLAN_CHANGE_PREFIX = "BLTC_"
TRAILER_MARK = "#TRAILER"
_REQUIRED = ("msg_id", "msisdn", "recv_time", "command", "reply_code")


@dataclass
class _Tally:
    """What the records add up to, for the trailer check."""

    records: int = 0
    amount_fen: int = 0
    rejected: int = 0


def read(path: Path) -> Iterator[Item]:
    """Yield one Row or Rejection per record line, then check the trailer."""
    name = path.name
    tally = _Tally()
    held: tuple[int, str] | None = None  # the last non-blank line seen, not yet handled
    with path.open("rb") as f:
        for number, raw in enumerate(f, 1):
            text = _decode(number, raw, name)
            if number == 1:
                text = text.removeprefix("\ufeff")
            if not text.strip():
                continue
            if held is not None:
                item = _record(*held, name, tally)
                if item.__class__ is Rejection:
                    tally.rejected += 1
                yield item
            held = (number, text)
    if held is None:
        raise FileRejected(
            file=name,
            line=None,
            rule="empty_file",
            message="the file is empty; even a day without messages ends with #TRAILER|0|0, "
            "so the export probably failed: ask the vendor to deliver it again",
        )
    _check_trailer(*held, name, tally)
    logger.debug("%s: %d records, %d quarantined", name, tally.records, tally.rejected)


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


def _record(number: int, text: str, name: str, tally: _Tally) -> Item:
    """The item of one record line (any line before the last); counts it for the trailer."""
    if text.startswith(TRAILER_MARK):
        raise FileRejected(
            file=name,
            line=number,
            rule="bad_trailer",
            message=f"a trailer on line {number:,} is followed by more lines; the trailer must "
            "be the last line (two exports joined together?)",
            text=text,
        )
    tally.records += 1
    fields = text.split("|")
    if len(fields) != len(COLUMNS):
        return Rejection(
            number,
            "wrong_column_count",
            f"the line has {len(fields)} fields, a record has {len(COLUMNS)}: "
            "msg_id|msisdn|recv_time|command|reply_code|amount_fen|region",
            text,
        )
    values = tuple(field.strip() or None for field in fields)
    _, msisdn, recv_time, command, _, amount_fen, region = values
    if amount_fen is not None and _is_integer(amount_fen):
        tally.amount_fen += int(amount_fen)

    missing = [key for key, value in zip(_REQUIRED, values[:5], strict=True) if value is None]
    if missing:
        verb = "is" if len(missing) == 1 else "are"
        return Rejection(number, "missing_field", f"{' and '.join(missing)} {verb} empty", text)
    if normalise_msisdn(msisdn) is None:
        why = "masked" if is_masked_msisdn(msisdn) else "not a mainland mobile number"
        return Rejection(number, "bad_phone", f"msisdn {msisdn!r} is {why}", text)
    if not _is_recv_time(recv_time):
        return Rejection(
            number, "bad_timestamp", f"recv_time {recv_time!r} is not a YYYYMMDDHHMMSS time", text
        )
    if not _is_command(command):
        return Rejection(
            number,
            "unknown_code",
            f"command {command!r} is not an SMS hall command (CXHF, CXYE, JF, KTLL10, KTLL30, "
            "KTLL100, KTLDXS, TD, BLTC_<plan>, MYD1 to MYD5)",
            text,
        )
    if amount_fen is not None and not _is_integer(amount_fen):
        return Rejection(
            number, "bad_amount", f"amount_fen {amount_fen!r} is not an integer of fen", text
        )
    if region is not None and region not in REGION_CODES:
        return Rejection(
            number, "unknown_code", f"region {region!r} is not one of the 11 region codes", text
        )
    return Row(number, values)


def _check_trailer(number: int, text: str, name: str, tally: _Tally) -> None:
    """Raise unless the last line is a trailer that matches the records."""
    if not text.lstrip().startswith("#"):
        raise FileRejected(
            file=name,
            line=number,
            rule="missing_trailer",
            message=f"the last line (line {number:,}) is a record, not a #TRAILER line: "
            "the file is incomplete",
            text=text,
        )
    parts = [part.strip() for part in text.split("|")]
    if len(parts) != 3 or parts[0] != TRAILER_MARK or not all(map(_is_integer, parts[1:])):
        raise FileRejected(
            file=name,
            line=number,
            rule="bad_trailer",
            message="the trailer is not #TRAILER|<record_count>|<sum_of_amount_fen>",
            text=text,
        )
    count, total = int(parts[1]), int(parts[2])
    if (count, total) != (tally.records, tally.amount_fen):
        raise FileRejected(
            file=name,
            line=number,
            rule="bad_trailer",
            message=f"trailer says {count:,} records summing {total:,} fen, the file has "
            f"{tally.records:,} records summing {tally.amount_fen:,} fen",
            text=text,
        )


def _is_integer(text: str) -> bool:
    """An optionally negative run of ASCII digits (what PostgreSQL casts to bigint)."""
    digits = text[1:] if text[:1] == "-" else text
    return digits.isascii() and digits.isdigit()


def _is_recv_time(text: str | None) -> bool:
    return (
        text is not None
        and len(text) == 14
        and text.isascii()
        and text.isdigit()
        and parse_local_datetime(text, "%Y%m%d%H%M%S") is not None
    )


def _is_command(command: str | None) -> bool:
    if command is None:
        return False
    if command in COMMANDS:
        return True
    plan = command.removeprefix(PLAN_CHANGE_PREFIX)
    return (
        plan != command
        and plan != ""
        and plan.isascii()
        and plan.replace("_", "").replace("-", "").isalnum()
    )


SPEC = SourceSpec(
    name="sms",
    raw_table="sms_hall",
    file_pattern=re.compile(r"sms_hall_(?P<date>\d{8})\.txt"),
    columns=COLUMNS,
    read=read,
    description="SMS service hall (短信营业厅) log, pipe separated, with a #TRAILER line.",
)
