"""What the hotline, halls and crm readers share: streaming a delimited export, and the row checks.

:func:`read_delimited` streams a CSV export in bounded memory. It reads the file as bytes, line by
line, decodes each physical line itself (so that a decoding error names its line) and hands the
lines to :mod:`csv`, keeping the lines of the current record to quote them in a rejection. The
header is matched by name, in any order; values come out in the order of the raw columns, stripped
of surrounding spaces, empty as None.

:class:`RowChecks` collects the row-rule breaks of one record (all readers use it, the stores
reader too) so that every reader words its messages the same way and applies the same notion of a
valid time, phone, amount or hall code.

Whole-file rules (raise :class:`~channel_dw.errors.FileRejected`):

| rule | when it fires |
|---|---|
| `bad_encoding` | a line does not decode (GBK or UTF-8, as the source says; a BOM means UTF-8) |
| `bad_header` | line 1 is not the contract's header: columns missing, unexpected or repeated |
| `unreadable` | the CSV cannot be split into records (a field longer than csv's limit, ...) |
| `line_too_long` | a line (a quoted record) runs over 16 MiB without ending (`DW_MAX_LINE_BYTES`) |

Row rule common to the delimited readers: `wrong_column_count` when a record does not have as many
fields as the header. Blank lines are skipped; a record spanning several physical lines (a quoted
newline) is numbered by the line it starts on.
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from channel_dw.errors import FileRejected
from channel_dw.sources import limits
from channel_dw.sources.base import (
    REGION_CODES,
    Item,
    Rejection,
    Row,
    is_landline,
    is_masked_msisdn,
    normalise_msisdn,
)
from channel_dw.sources.columnar import too_long

log = logging.getLogger(__name__)

UTF8_BOM = b"\xef\xbb\xbf"

Fields = Mapping[str, str | None]  # one record's values by the file's column name


# --- row checks ------------------------------------------------------------------------------

_LOCAL_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", re.ASCII)
_LOCAL_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_HALL_CODE = re.compile(r"([A-Z]{2})-\d{4}", re.ASCII)
_DECIMAL_YUAN = re.compile(r"-?\d+(?:\.\d{1,2})?", re.ASCII)
_YUAN_SIGNS = ("¥", "￥")  # the half-width and the full-width yuan sign


def is_local_datetime(value: str) -> bool:
    """True for a real ``YYYY-MM-DD HH:MM:SS`` time (two-digit fields, no ``T``, no offset)."""
    if _LOCAL_DATETIME.fullmatch(value) is None:
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def is_local_date(value: str) -> bool:
    """True for a real ``YYYY-MM-DD`` date."""
    if _LOCAL_DATE.fullmatch(value) is None:
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def yuan_text_is_valid(value: str) -> bool:
    """True for a yuan amount as text: ``199``, ``199.5``, ``-12.00``, ``¥1,299.00``, ``￥199.00``.

    The yuan sign and thousands commas are allowed here; at most two decimals (fen).
    """
    text = value.strip()
    for sign in _YUAN_SIGNS:
        text = text.removeprefix(sign)
    return _DECIMAL_YUAN.fullmatch(text.replace(",", "").strip()) is not None


def decimal_text_is_valid(value: str) -> bool:
    """True for a plain decimal with at most two decimals: ``199``, ``199.50``, ``-12.5``."""
    return _DECIMAL_YUAN.fullmatch(value) is not None


def two_decimals(number: int | float | Decimal) -> str | None:
    """A number as plain text with two decimals (``199.0`` -> ``199.00``), None if it has fen
    fractions (``66.666``) or is not finite."""
    exact = Decimal(repr(number)) if isinstance(number, float) else Decimal(number)
    if not exact.is_finite():
        return None
    rounded = exact.quantize(Decimal("0.01"))
    if abs(exact - rounded) > Decimal("0.000001"):  # tolerates binary float noise only
        return None
    return f"{rounded:f}"


class RowChecks:
    """The row-rule breaks of one record. Each check names the field and the value it saw.

    ``required=True`` makes an empty value a ``missing_field``; otherwise empty passes. The first
    break decides the rejection's rule; its message lists every break, so a record with two
    problems is fixed in one go.
    """

    __slots__ = ("problems",)

    def __init__(self) -> None:
        self.problems: list[tuple[str, str]] = []

    def fail(self, rule: str, message: str) -> None:
        self.problems.append((rule, message))

    def present(self, field: str, value: str | None) -> bool:
        """True when the value is present; a ``missing_field`` otherwise."""
        if value is None:
            self.fail("missing_field", f"{field} is empty")
            return False
        return True

    def _given(self, field: str, value: str | None, required: bool) -> bool:
        if value is None:
            if required:
                self.fail("missing_field", f"{field} is empty")
            return False
        return True

    def timestamp(self, field: str, value: str | None, *, required: bool) -> None:
        if self._given(field, value, required) and not is_local_datetime(value):
            self.fail("bad_timestamp", f"{field} {value!r} is not a YYYY-MM-DD HH:MM:SS time")

    def calendar_date(self, field: str, value: str | None, *, required: bool) -> None:
        if self._given(field, value, required) and not is_local_date(value):
            self.fail("bad_timestamp", f"{field} {value!r} is not a YYYY-MM-DD date")

    def code(
        self, field: str, value: str | None, allowed: Collection[str], *, required: bool
    ) -> bool:
        """``unknown_code``: a value from a code list that classifies the record. True when the
        value is present and one of the codes."""
        if not self._given(field, value, required):
            return False
        if value not in allowed:
            self.fail("unknown_code", f"{field} {value!r} is not one of {_listing(allowed)}")
            return False
        return True

    def choice(
        self, field: str, value: str | None, allowed: Collection[str], *, required: bool
    ) -> None:
        """``bad_value``: a flag, result or score that is none of its allowed values."""
        if self._given(field, value, required) and value not in allowed:
            self.fail("bad_value", f"{field} {value!r} is not one of {_listing(allowed)}")

    def decimal(self, field: str, value: str | None, *, required: bool) -> None:
        """``bad_amount`` unless a plain decimal such as ``199.00`` or ``-5`` (no ¥, no commas)."""
        if self._given(field, value, required) and not decimal_text_is_valid(value):
            self.fail("bad_amount", f"{field} {value!r} is not an amount like 199.00")

    def yuan(self, field: str, value: str | None, *, required: bool) -> None:
        """``bad_amount`` unless yuan as text, a yuan sign and commas allowed (``¥1,299.00``)."""
        if self._given(field, value, required) and not yuan_text_is_valid(value):
            self.fail("bad_amount", f"{field} {value!r} is not an amount in yuan like ¥199.00")

    def region(self, field: str, value: str | None, *, required: bool) -> bool:
        """``unknown_code`` unless a region code; True when present and one."""
        return self.code(field, value, REGION_CODES, required=required)

    def mobile(self, field: str, value: str | None, *, required: bool) -> None:
        """``bad_phone`` unless a mainland mobile number in any of the delivered shapes."""
        if self._given(field, value, required) and normalise_msisdn(value) is None:
            self.fail("bad_phone", f"{field} {value!r} is not a mobile number")

    def mobile_or_landline(self, field: str, value: str | None, *, required: bool) -> None:
        if (
            self._given(field, value, required)
            and normalise_msisdn(value) is None
            and not is_landline(value)
        ):
            self.fail("bad_phone", f"{field} {value!r} is neither a mobile nor a landline number")

    def mobile_or_masked(self, field: str, value: str | None, *, required: bool) -> None:
        if (
            self._given(field, value, required)
            and normalise_msisdn(value) is None
            and not is_masked_msisdn(value)
        ):
            self.fail("bad_phone", f"{field} {value!r} is neither a mobile number nor a masked one")

    def hall_code(self, field: str, value: str | None, *, required: bool) -> str | None:
        """Checks a hall code such as ``TY-0012``; returns its region when the code is good."""
        if not self._given(field, value, required):
            return None
        m = _HALL_CODE.fullmatch(value)
        if m is None:
            self.fail("bad_value", f"{field} {value!r} is not a hall code like 'TY-0012'")
            return None
        if m.group(1) not in REGION_CODES:
            self.fail("unknown_code", f"{field} {value!r} does not start with a region code")
            return None
        return m.group(1)

    def rejection(self, line: int, text: str) -> Rejection:
        """The rejection of a record that broke at least one rule."""
        return Rejection(line, self.problems[0][0], "; ".join(m for _, m in self.problems), text)


def _listing(allowed: Collection[str]) -> str:
    """The allowed values for a message: a tuple in its (contract) order, a set sorted."""
    return ", ".join(allowed if isinstance(allowed, tuple) else sorted(allowed))


# --- delimited files -------------------------------------------------------------------------


@dataclass(frozen=True)
class DelimitedLayout:
    """The shape of one source's CSV export."""

    header: tuple[str, ...]  # the contract's column names, in the order of the raw columns
    encoding: str  # the file's encoding when it has no UTF-8 BOM ("gbk", "utf-8")
    check: Callable[[Fields, RowChecks], None]  # applies the source's row rules to one record


def read_delimited(path: Path, layout: DelimitedLayout) -> Iterator[Item]:
    """Stream a CSV export: a :class:`Row` per good record, a :class:`Rejection` per bad one."""
    with path.open("rb") as binary:
        has_bom = binary.read(len(UTF8_BOM)) == UTF8_BOM
        if not has_bom:
            binary.seek(0)
        encoding = "utf-8" if has_bom else layout.encoding
        consumed: list[str] = []  # the physical lines of the record being read
        lines = bounded_lines(binary, path.name)
        header = csv.reader(_decoded_lines(lines, encoding, path.name, consumed))
        order = _header_order(header, path.name, layout, encoding, has_bom, consumed)
        yield from records_of(lines, header.line_num + 1, encoding, path.name, order, layout)


def bounded_line(binary, file_name: str, number: int) -> bytes:
    """The next physical line; one longer than ``DW_MAX_LINE_BYTES`` rejects the file
    (``line_too_long``) once that much of it has been read."""
    limit = limits.max_line_bytes()
    line = binary.readline(limit + 1)
    if len(line) > limit and not line.endswith(b"\n"):
        raise too_long(file_name, number, limit, line, None)
    return line


def bounded_lines(binary, file_name: str) -> Iterator[bytes]:
    """The physical lines, each read by :func:`bounded_line`."""
    number = 1
    while line := bounded_line(binary, file_name, number):
        yield line
        number += 1


def records_of(
    binary: Iterable[bytes],
    first: int,
    encoding: str,
    file_name: str,
    order: list[int],
    layout: DelimitedLayout,
) -> Iterator[Item]:
    """The items of the records on these physical lines, the first of which is line ``first``;
    ``order`` gives each contract column's position in the file."""
    consumed: list[str] = []  # the physical lines of the record being read
    records = csv.reader(_decoded_lines(binary, encoding, file_name, consumed, first))
    width = len(order)
    columns = layout.header
    rows = rejected = 0
    while True:
        line = first + records.line_num
        consumed.clear()
        try:
            record = next(records)
        except StopIteration:
            break
        except csv.Error as exc:
            text = _joined(consumed)
            raise FileRejected(
                file_name,
                line,
                "unreadable",
                f"the CSV cannot be split here: {_csv_problem(exc, text)}",
                text[:1000],
            ) from exc
        if not record or (len(record) == 1 and not record[0].strip()):
            continue  # a blank line holds no record
        if len(record) != width:
            rejected += 1
            yield Rejection(
                line,
                "wrong_column_count",
                _count_message(width, len(record)),
                _joined(consumed),
            )
            continue
        values = tuple([record[i].strip() or None for i in order])
        checks = RowChecks()
        layout.check(dict(zip(columns, values, strict=True)), checks)
        if checks.problems:
            rejected += 1
            yield checks.rejection(line, _joined(consumed))
        else:
            rows += 1
            yield Row(line, values)
    log.debug("%s: %d rows, %d rejected (%s)", file_name, rows, rejected, encoding)


def _decoded_lines(
    binary: Iterable[bytes], encoding: str, file_name: str, consumed: list[str], first: int = 1
) -> Iterator[str]:
    """The file's physical lines as text; a line that does not decode rejects the file."""
    for number, raw in enumerate(binary, start=first):
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as exc:
            message, shown = _encoding_problem(raw, encoding, exc)
            raise FileRejected(file_name, number, "bad_encoding", message, shown) from exc
        consumed.append(text)
        yield text


def _encoding_problem(raw: bytes, encoding: str, exc: UnicodeDecodeError) -> tuple[str, str]:
    """What is wrong with a line that does not decode, and the line as best it can be shown."""
    bad = raw[exc.start : exc.end]
    what = f"byte {bad.hex()}" if len(bad) == 1 else f"bytes {bad.hex(' ')}"
    message = f"the line is not valid {encoding.upper()} ({what} at offset {exc.start})"
    shown = raw.decode(encoding, errors="replace")
    if encoding != "utf-8":
        try:
            shown = raw.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            message += "; it reads as UTF-8: is the file UTF-8 without a BOM?"
    return message, shown.rstrip("\r\n")


def _csv_problem(exc: csv.Error, text: str) -> str:
    """What csv could not split, in the words of the export rather than of Python's csv."""
    if "new-line" in str(exc) and "\r" in text.rstrip("\r\n"):
        return (
            "a carriage return (\\r) stands inside the line, not at its end, outside quotes "
            "(line endings mixed up, or a stray byte?)"
        )
    return str(exc)


def _header_order(
    records: Iterator[list[str]],
    file_name: str,
    layout: DelimitedLayout,
    encoding: str,
    has_bom: bool,
    consumed: list[str],
) -> list[int]:
    """For each contract column, its position in the file; rejects a header that is not the
    contract's."""
    try:
        header = [name.strip() for name in next(records)]
    except StopIteration:
        raise FileRejected(
            file_name, 1, "bad_header", "the file is empty: there is no header line"
        ) from None
    except csv.Error as exc:  # e.g. a carriage return inside the header line
        text = _joined(consumed)
        raise FileRejected(
            file_name,
            1,
            "unreadable",
            f"the header line cannot be split into columns: {_csv_problem(exc, text)}",
            text[:1000],
        ) from exc
    problems = header_problems(layout.header, header, extra_columns_allowed=False)
    if not problems:
        return [header.index(name) for name in layout.header]
    message = f"the header is not the contract's: {problems}"
    known = set(layout.header) & set(header)
    as_utf8 = None if has_bom or known else _misread_utf8(header, encoding)
    if as_utf8 is not None:
        message = (
            "the header is not the contract's; is the file UTF-8 without a BOM? "
            f"(read as {encoding.upper()} it says {_names(header[:3])}, "
            f"read as UTF-8 {_names(as_utf8[:3])})"
        )
    raise FileRejected(file_name, 1, "bad_header", message, _joined(consumed))


def header_problems(
    expected: Sequence[str], header: Sequence[str], *, extra_columns_allowed: bool
) -> str:
    """What keeps a header from being the contract's ("missing 'x'; repeated 'y'"), or ""."""
    parts = []
    missing = [name for name in expected if name not in header]
    if missing:
        parts.append(f"missing {_names(missing)}")
    if not extra_columns_allowed:
        unexpected = [name for name in header if name not in expected]
        if unexpected:
            parts.append(f"unexpected {_names(unexpected)}")
    considered = expected if extra_columns_allowed else header
    repeated = sorted({name for name in considered if header.count(name) > 1})
    if repeated:
        parts.append(f"repeated {_names(repeated)}")
    return "; ".join(parts)


def _misread_utf8(header: list[str], encoding: str) -> list[str] | None:
    """The header as it reads in UTF-8 when it was decoded in another encoding and is mojibake."""
    if encoding == "utf-8" or all(name.isascii() for name in header):
        return None
    try:
        return [name.encode(encoding).decode("utf-8") for name in header]
    except UnicodeError:
        return None


def _names(names: Iterable[str]) -> str:
    return ", ".join(repr(name) for name in names)


def _count_message(expected: int, found: int) -> str:
    message = f"expected {expected} fields, found {found}"
    if found > expected:
        message += " (a value with an unquoted comma?)"
    return message


def _joined(lines: list[str]) -> str:
    return "".join(lines).rstrip("\r\n")
