"""The small interface every source reader implements, and the helpers they share.

A reader turns one export file into a stream of items, each either a :class:`Row` (the values of
the source's raw columns, as delivered, as text) or a :class:`Rejection` (a row that breaks a row
rule and goes to quarantine). A file that breaks a whole-file rule raises
:class:`channel_dw.errors.FileRejected`, possibly after it has yielded rows: the loading core then
throws every row of that file away. Readers never touch the database; the loading core in
:mod:`channel_dw.ingest.core` does the ledger, COPY, quarantine and retries for all of them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from channel_dw.sources.columnar import Batch

# One raw row: values in the order of ``SourceSpec.columns``; None is SQL NULL.
Values = tuple[str | None, ...]


@dataclass(slots=True)
class Row:  # not frozen: built once per record, and frozen dataclasses are slower to create
    line: int
    values: Values


@dataclass(frozen=True, slots=True)
class Rejection:
    """A row that breaks a row rule: it is quarantined with this reason, the file goes on."""

    line: int
    rule: str
    message: str
    text: str


Item = Row | Rejection


@dataclass(frozen=True)
class SourceSpec:
    """What the loading core needs to know about one source."""

    name: str  # folder under the landing root, e.g. "web"
    raw_table: str  # table in schema raw, e.g. "web_events"
    file_pattern: re.Pattern[str]  # full match on the file name; group "date" is YYYYMMDD
    columns: tuple[str, ...]  # raw columns, in the order of Row.values; all text except "extra"
    read: Callable[[Path], Iterator[Item]]
    description: str = ""
    json_columns: tuple[str, ...] = ()  # columns holding a JSON document (typed jsonb in raw)
    # The columnar form of ``read`` (channel_dw.sources.columnar), when the source has one.
    read_batches: Callable[[Path], Iterator[Batch]] | None = None

    def batches(self, path: Path) -> Iterator[Batch]:
        """The file as batches of rows and rejections: what the loading core reads."""
        if self.read_batches is not None:
            return self.read_batches(path)
        from channel_dw.sources.columnar import batches_from_items

        return batches_from_items(self.columns, self.read(path))

    def match(self, file_name: str) -> re.Match[str] | None:
        """A full match (a name ending in a newline does not match), ASCII only: ``\\d`` would
        also match other scripts' digits, and an export name is plain ASCII."""
        if not file_name.isascii():
            return None
        return self.file_pattern.fullmatch(file_name)

    def business_date(self, file_name: str) -> date:
        m = self.match(file_name)
        if m is None:
            raise ValueError(f"{file_name} is not a {self.name} export file name")
        return datetime.strptime(m.group("date"), "%Y%m%d").date()


# --- shared vocabulary of the contract -------------------------------------------------------

REGION_CODES = frozenset({"TY", "DT", "YQ", "CZ", "JC", "SZ", "JZ", "YC", "XZ", "LF", "LL"})
REGIONS = tuple(sorted(REGION_CODES))

_PHONE_JUNK = re.compile(r"[\s\-().]")
_MOBILE = re.compile(r"1\d{10}")
_MASKED = re.compile(r"1\d{2}\*{4}\d{4}")
_LANDLINE = re.compile(r"0\d{2,3}-?\d{7,8}")


def normalise_msisdn(value: str | None) -> str | None:
    """The 11-digit mainland mobile number in any of the delivered shapes, or None.

    ``13812345678``, ``+86 138-1234-5678``, ``0086 13812345678``, ``86 13812345678`` and
    ``138 1234 5678`` all give ``13812345678``. A masked, landline or impossible number gives None.
    """
    if value is None:
        return None
    digits = _PHONE_JUNK.sub("", value)
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits if _MOBILE.fullmatch(digits) else None


def is_masked_msisdn(value: str | None) -> bool:
    """True for a masked mobile number such as ``138****5678`` (identifies nobody on its own)."""
    return value is not None and _MASKED.fullmatch(value.strip()) is not None


def is_landline(value: str | None) -> bool:
    return value is not None and _LANDLINE.fullmatch(value.strip()) is not None


def blank_to_none(value: str | None) -> str | None:
    """Empty or all-space text is NULL in raw."""
    if value is None:
        return None
    return value if value.strip() else None


def parse_local_datetime(value: str, fmt: str = "%Y-%m-%d %H:%M:%S") -> datetime | None:
    """A naive local (Asia/Shanghai) timestamp, or None when it does not parse."""
    try:
        return datetime.strptime(value, fmt)
    except (TypeError, ValueError):
        return None
