"""CRM customer master: ``crm/crm_customers_YYYYMMDD.csv``, a full snapshot first, deltas after.

UTF-8 (a BOM is tolerated), comma separated, the contract's English header (any column order).
Snapshot and delta files have the same shape; the reader does not tell them apart (staging does).

| rule | when it fires |
|---|---|
| `bad_encoding` | (file) a line is not UTF-8 |
| `bad_header` | (file) line 1 is not the 9 contract columns |
| `unreadable` | (file) the CSV cannot be split into records |
| `wrong_column_count` | a record has not 9 fields |
| `missing_field` | customer_id, msisdn, region_code, value_tier or status is empty |
| `missing_field` | open_date or updated_at is empty |
| `bad_phone` | msisdn is not a mobile number (in any shape) |
| `unknown_code` | region_code, value_tier or status is not in the contract's set |
| `bad_timestamp` | open_date is not ``YYYY-MM-DD`` |
| `bad_timestamp` | updated_at is not ``YYYY-MM-DD HH:MM:SS`` |
| `bad_value` | email present without an ``@`` |

member_id is not checked and may be empty; email may be empty.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pyarrow.compute as pc

from channel_dw.sources import _delimited_fast as fast
from channel_dw.sources import columnar as col
from channel_dw.sources._delimited import DelimitedLayout, Fields, RowChecks
from channel_dw.sources.base import Item, SourceSpec
from channel_dw.sources.columnar import Batch

COLUMNS = (
    "customer_id",
    "msisdn",
    "member_id",
    "email",
    "region_code",
    "value_tier",
    "status",
    "open_date",
    "updated_at",
)

# Allowed values in the contract's order (the order a rejection lists them in).
VALUE_TIERS = ("DIAMOND", "GOLD", "SILVER", "STANDARD")
STATUSES = ("ACTIVE", "SUSPENDED", "CLOSED")


def _check(f: Fields, checks: RowChecks) -> None:
    checks.present("customer_id", f["customer_id"])
    checks.mobile("msisdn", f["msisdn"], required=True)
    email = f["email"]
    if email is not None and "@" not in email:
        checks.fail("bad_value", f"email {email!r} has no '@'")
    checks.region("region_code", f["region_code"], required=True)
    checks.code("value_tier", f["value_tier"], VALUE_TIERS, required=True)
    checks.code("status", f["status"], STATUSES, required=True)
    checks.calendar_date("open_date", f["open_date"], required=True)
    checks.timestamp("updated_at", f["updated_at"], required=True)


def _clear(c: fast.Columns) -> dict[str, fast.Mask]:
    """The records that certainly pass :func:`_check`, in columns (a mask per column)."""
    return {
        "customer_id given": fast.required(c["customer_id"]),  # its text is checked too
        "msisdn": fast.required(c["msisdn"], fast.mobile),
        "email has @": col.null_or(c["email"], pc.match_substring(c["email"], "@")),
        "region_code": fast.required(c["region_code"], fast.region),
        "value_tier": fast.required(c["value_tier"], fast.member_of(VALUE_TIERS)),
        "status": fast.required(c["status"], fast.member_of(STATUSES)),
        "open_date": fast.required(c["open_date"], fast.local_date),
        "updated_at": fast.required(c["updated_at"], fast.local_datetime),
    }


LAYOUT = DelimitedLayout(header=COLUMNS, encoding="utf-8", check=_check)


def read_batches(path: Path) -> Iterator[Batch]:
    return fast.read_delimited_batches(path, LAYOUT, COLUMNS, _clear)


def read(path: Path) -> Iterator[Item]:
    return fast.items_from_batches(COLUMNS, read_batches(path))


SPEC = SourceSpec(
    name="crm",
    raw_table="crm_customers",
    file_pattern=re.compile(r"crm_customers_(?P<date>\d{8})\.csv"),
    columns=COLUMNS,
    read=read,
    read_batches=read_batches,
    description="CRM customer master (UTF-8 CSV; a full snapshot first, daily deltas after)",
)
