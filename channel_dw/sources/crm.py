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

from channel_dw.sources import _delimited_fast as fast
from channel_dw.sources._compiled import DATE, DATETIME, FREE, HAS_AT, MEMBER, MOBILE, Rule
from channel_dw.sources._delimited import DelimitedLayout, Fields, RowChecks
from channel_dw.sources.base import REGIONS, Item, SourceSpec
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


# The rules of _check the fast paths apply, a subset of what it admits (see _delimited_fast).
RULES = fast.Rules(
    {
        "customer_id": Rule(FREE),
        "msisdn": Rule(MOBILE),
        "member_id": Rule(FREE, required=False),
        "email": Rule(HAS_AT, required=False),
        "region_code": Rule(MEMBER, values=REGIONS),
        "value_tier": Rule(MEMBER, values=VALUE_TIERS),
        "status": Rule(MEMBER, values=STATUSES),
        "open_date": Rule(DATE),
        "updated_at": Rule(DATETIME),
    }
)


LAYOUT = DelimitedLayout(header=COLUMNS, encoding="utf-8", check=_check)


def read_batches(path: Path) -> Iterator[Batch]:
    return fast.read_delimited_batches(path, LAYOUT, COLUMNS, RULES)


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
