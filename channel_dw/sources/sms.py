"""Reader for the SMS service hall log: ``sms/sms_hall_YYYYMMDD.txt``.

UTF-8, pipe separated, no header, one record a line:
``msg_id|msisdn|recv_time|command|reply_code|amount_fen|region``, and a last line
``#TRAILER|<record_count>|<sum_of_amount_fen>``. The file is read in chunks of a few MB, each
on a reader thread (:mod:`ahead`): one pass of C (:mod:`_compiled`, under :data:`RULES`) splits
the lines, checks them, writes those that pass every row rule as COPY text and adds up their
``amount_fen``; where no C compiler is found, one expression over whole lines clears them and
pyarrow splits them into columns (:mod:`columnar`). The other lines go through :func:`_record`,
in line order, holding the last non-blank line back so that it can be told apart as the trailer.
Each record gives one raw row of ``raw.sms_hall`` with its fields stripped (empty -> None) and
otherwise as delivered. ``line`` is the physical line, 1-based. Blank lines carry no record: they
are skipped and not counted; a UTF-8 byte-order mark on line 1 is ignored.

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
line_too_long       a line runs over 16 MiB without a line break (``DW_MAX_LINE_BYTES``)
=================== ===========================================================================

A file holding only ``#TRAILER|0|0`` is a valid day without messages. A ``<plan>`` of
``BLTC_<plan>`` is letters, digits, ``_`` or ``-``. Commands are matched exactly (upper case, as
the contract writes them).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from channel_dw.errors import FileRejected
from channel_dw.sources import _compiled as compiled
from channel_dw.sources import ahead
from channel_dw.sources import columnar as col
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


def read_batches(path: Path) -> Iterator[col.Batch]:
    """The file in batches, one a chunk of lines, then the trailer check.

    A reader thread passes each chunk (:func:`_pass`): the lines before its last non-blank one
    that certainly pass every row rule and keep their text through ``strip()`` are taken (as
    COPY text by the compiled pass, else as columns by pyarrow) and counted for the trailer in
    bulk. Then, in file order, every other line (blank lines, line 1 with its BOM, anything odd)
    goes through the per-line rules, holding back the last non-blank line as the per-line reader
    always did; a chunk that is not valid UTF-8 goes through them whole, so the file is rejected
    naming the first bad line.
    """
    name = path.name
    state = _State()
    with path.open("rb") as fh:
        chunks = col.read_chunks(fh, CHUNK_BYTES, name=name)
        for passed in ahead.in_order(partial(_pass, data, first) for data, first in chunks):
            yield from _chunk_batches(passed, name, state)
    if state.held is None:
        raise FileRejected(
            file=name,
            line=None,
            rule="empty_file",
            message="the file is empty; even a day without messages ends with #TRAILER|0|0, "
            "so the export probably failed: ask the vendor to deliver it again",
        )
    _check_trailer(*state.held, name, state.tally)
    logger.debug("%s: %d records, %d quarantined", name, state.tally.records, state.tally.rejected)


def read(path: Path) -> Iterator[Item]:
    """Yield one Row or Rejection per record line, in line order, then check the trailer."""
    return col.items_from_batches(COLUMNS, read_batches(path))


@dataclass
class _State:
    """What reading a file carries from one chunk to the next."""

    tally: _Tally = field(default_factory=_Tally)
    held: tuple[int, str] | None = None  # the last non-blank line seen, not yet handled


CHUNK_BYTES = 2 << 20  # small enough that COPY starts soon, big enough to amortise the calls

# The row rules the compiled pass applies, a subset of what _record admits.
RULES = {
    "msg_id": compiled.Rule(compiled.RECORD_ID),  # no "#TRAILER" there, nor a BOM
    "msisdn": compiled.Rule(compiled.MOBILE),
    "recv_time": compiled.Rule(compiled.COMPACT_DATETIME),
    "command": compiled.Rule(compiled.COMMAND, values=tuple(sorted(COMMANDS))),
    "reply_code": compiled.Rule(compiled.FREE),
    "amount_fen": compiled.Rule(compiled.FEN, required=False),
    "region_code": compiled.Rule(compiled.MEMBER, required=False, values=tuple(REGION_CODES)),
}
_COMPILED = compiled.Plan(COLUMNS, RULES, range(len(COLUMNS)), "utf-8", b"|")

# Printable ASCII but |, with no space at either end: text strip() leaves alone.
_TEXT = r"[!-{}~](?:[ -{}~]*[!-{}~])?"
# recv_time: a year from 1000 (strptime has no year 0), a date that exists, a time of day.
_RECV_TIME = col.certain_date("") + col.certain_time("")
_PLAN = "[A-Za-z0-9_-]*[A-Za-z0-9][A-Za-z0-9_-]*"  # not only "_" and "-"
# A record line that certainly passes every row rule, with fields that strip() leaves alone.
_CLEAR = "".join(
    [
        rf"^[0-9A-Za-z]{_TEXT[len('[!-{}~]') :]}",  # msg_id, not "#...": no trailer there
        r"\|(?:(?:\+86|0086|86)[ -]?)?1[0-9]{2}[ -]?[0-9]{4}[ -]?[0-9]{4}",  # msisdn
        rf"\|{_RECV_TIME}",
        rf"\|(?:{'|'.join(sorted(COMMANDS))}|{PLAN_CHANGE_PREFIX}{_PLAN})",
        rf"\|{_TEXT}",  # reply_code
        r"\|(?:-?[0-9]{1,12})?",  # amount_fen: few enough digits to sum a chunk in int64
        rf"\|(?:{'|'.join(sorted(REGION_CODES))})?",
        r"\r?\n$",  # only lines followed by another (never the held one) are tried
    ]
)
_READ = pcsv.ReadOptions(column_names=list(COLUMNS), block_size=1 << 22)
_PARSE = pcsv.ParseOptions(delimiter="|", quote_char=False)
_CONVERT = pcsv.ConvertOptions(
    column_types={c: pa.string() for c in COLUMNS},
    strings_can_be_null=True,
    null_values=[""],
    check_utf8=False,  # the chunk is checked first
)


@dataclass
class _Passed:
    """What a reader thread made of a chunk: the records it took (COPY text, or a table of the
    raw columns and ``_line``), their count and sum of ``amount_fen``, and the indices of the
    lines left to the per-line rules."""

    lines: col.Lines
    slow: np.ndarray
    text: bytes = b""
    table: pa.Table | None = None
    taken: int = 0
    amount_fen: int = 0


def _pass(data: bytes, first: int, use_compiled: bool = True) -> _Passed:
    """Takes a chunk's records that certainly pass, before its last non-blank line (which may be
    the trailer): by the compiled pass where there is one, else by the expression and pyarrow.
    Runs on a reader thread; the per-line rules run later, in file order."""
    lines = col.Lines.of(data, first)
    every = np.arange(len(lines))
    if not lines.is_utf8():  # the per-line rules name the line
        return _Passed(lines, every)
    last = _last_non_blank(lines)
    if last is None:  # only blank lines: nothing to do
        return _Passed(lines, every[:0])
    if use_compiled and compiled.available():
        text, taken, slow, amount = _COMPILED.run_adding(data[: lines.starts[last]], first)
        left = np.concatenate((slow[:, 0], every[last:]))
        return _Passed(lines, left, text=text, taken=taken, amount_fen=amount)
    fast = _fast_rows(lines, last)
    if fast is None:  # beyond the fast path
        return _Passed(lines, every)
    others = np.ones(len(lines), dtype=bool)
    others[fast.column(col.LINE).to_numpy() - lines.first] = False
    amount = pc.sum(pc.cast(fast.column("amount_fen"), pa.int64())).as_py() or 0
    return _Passed(
        lines, np.flatnonzero(others), table=fast, taken=fast.num_rows, amount_fen=amount
    )


def _chunk_batches(passed: _Passed, name: str, state: _State) -> Iterator[col.Batch]:
    """The batch of one chunk (none when it holds only blank lines): its taken records and the
    items of its other lines. When the per-line rules reject the file, what the per-line reader
    yielded before is yielded first."""
    lines = passed.lines
    before = (state.held, replace(state.tally))
    items: list[Item] = []
    try:
        # Line order: the line held from the last chunk goes first, with the first of these.
        _per_line(lines, passed.slow.tolist(), name, state, items)
    except FileRejected as exc:
        assert exc.line is not None
        if passed.table is None and passed.taken:  # read again, as columns, to cut at the line
            state.held, state.tally = before
            yield from _chunk_batches(_pass(lines.data, lines.first, False), name, state)
            raise AssertionError("the columnar pass did not reject the file") from exc
        fast = passed.table if passed.table is not None else col.rows_table(COLUMNS, [])
        yield col.combine(COLUMNS, fast.filter(pc.less(fast.column(col.LINE), exc.line)), items)
        raise
    state.tally.records += passed.taken
    state.tally.amount_fen += passed.amount_fen
    if not (passed.taken or items):
        return
    if passed.table is not None:
        yield col.combine(COLUMNS, passed.table, items)
        return
    batch = col.batch_from_items(COLUMNS, items)
    batch.text, batch.text_rows = passed.text, passed.taken
    yield batch


def _fast_rows(lines: col.Lines, last: int) -> pa.Table | None:
    """The lines before ``last`` (the chunk's last non-blank one, which may be the trailer) that
    the expression clears, as a table of the raw columns and ``_line`` split by pyarrow."""
    data = lines.data
    if len(data) >= 1 << 31:  # beyond 32-bit string offsets (one giant line)
        return None
    starts = lines.starts[: last + 1]
    offsets = pa.py_buffer(starts.astype(np.int32))
    texts = pa.StringArray.from_buffers(last, offsets, pa.py_buffer(data))
    good = pc.match_substring_regex(texts, _CLEAR).to_numpy(zero_copy_only=False)
    clear = np.flatnonzero(good)
    if len(clear) == 0:
        return col.rows_table(COLUMNS, [])
    end = int(starts[-1])
    if len(clear) == last:
        text = pa.py_buffer(data).slice(0, end)
    else:
        keep = np.repeat(good, np.diff(starts))
        text = pa.py_buffer(np.frombuffer(data, dtype=np.uint8, count=end)[keep])
    try:
        table = pcsv.read_csv(
            text, read_options=_READ, parse_options=_PARSE, convert_options=_CONVERT
        )
    except pa.ArrowInvalid:  # cannot happen to lines the expression cleared; be safe anyway
        return None
    if table.num_rows != len(clear):
        return None
    return table.append_column(col.LINE, pa.array(clear + lines.first, pa.int64()))


def _last_non_blank(lines: col.Lines) -> int | None:
    """The index of the chunk's last non-blank line (a valid UTF-8 chunk), or None."""
    for i in range(len(lines) - 1, -1, -1):
        text = lines.line(i).decode("utf-8")
        if lines.number(i) == 1:
            text = text.removeprefix("\ufeff")
        if text.strip():
            return i
    return None


def _per_line(
    lines: col.Lines, indices: Iterable[int], name: str, state: _State, items: list[Item]
) -> None:
    """Adds the items of some lines of a chunk to ``items``, in line order, as the per-line
    reader made them: blank lines skipped, the last non-blank line held back (it may be the
    trailer)."""
    tally = state.tally
    for i in indices:
        number = lines.first + i
        text = _decode(number, lines.line(i), name)
        if number == 1:
            text = text.removeprefix("\ufeff")
        if not text.strip():
            continue
        if state.held is not None:
            item = _record(*state.held, name, tally)
            if item.__class__ is Rejection:
                tally.rejected += 1
            items.append(item)
        state.held = (number, text)


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
    read_batches=read_batches,
    description="SMS service hall (短信营业厅) log, pipe separated, with a #TRAILER line.",
)
