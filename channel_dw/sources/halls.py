"""Physical business hall transactions: ``halls/hall_txn_YYYYMMDD.csv``.

UTF-8 (a BOM is tolerated), comma separated, the contract's English header (any column order).
Values are kept as delivered; staging normalises phones and casts amounts.

| rule | when it fires |
|---|---|
| `bad_encoding` | (file) a line is not UTF-8 |
| `bad_header` | (file) line 1 is not the 10 contract columns |
| `unreadable` | (file) the CSV cannot be split into records |
| `wrong_column_count` | a record has not 10 fields |
| `missing_field` | txn_id, hall_code, region_code, txn_time, biz_code or result is empty |
| `bad_timestamp` | txn_time is not a ``YYYY-MM-DD HH:MM:SS`` time |
| `unknown_code` | biz_code is not a BOSS code |
| `unknown_code` | region_code, or hall_code's prefix, is not a region code |
| `bad_value` | hall_code is not like ``TY-0012`` |
| `bad_value` | hall_code's region is not region_code (``TY-0012`` with ``DT``) |
| `bad_value` | result is not OK/FAIL |
| `bad_amount` | amount present but not a plain decimal (``-50.00`` yes; ``¥50``, ``1,299`` no) |
| `bad_phone` | msisdn present but not a mobile number |

An empty msisdn is accepted: an anonymous hall visit (a query at the counter) is still a visit.
A ``B_PICKUP`` without ref_order_no is accepted too: the visit happened, it only cannot be linked to
its store order (a data-quality finding, not a reason to quarantine). staff_id is not checked.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from channel_dw.sources import _delimited_fast as fast
from channel_dw.sources._compiled import (
    DATETIME,
    FREE,
    HALL_CODE,
    MEMBER,
    MOBILE,
    YUAN,
    Rule,
    SamePrefix,
)
from channel_dw.sources._delimited import DelimitedLayout, Fields, RowChecks
from channel_dw.sources.base import REGIONS, Item, SourceSpec
from channel_dw.sources.columnar import Batch

COLUMNS = (
    "txn_id",
    "hall_code",
    "region_code",
    "msisdn",
    "txn_time",
    "biz_code",
    "amount",
    "result",
    "staff_id",
    "ref_order_no",
)

# Allowed values in the contract's order (the order a rejection lists them in).
BIZ_CODES = (
    "B_QRY",
    "B_PAY",
    "B_PLAN",
    "B_CAMP",
    "B_VAS",
    "B_DATA",
    "B_OPEN",
    "B_BB",
    "B_PWD",
    "B_DEV",
    "B_CMP",
    "B_PICKUP",
)
RESULTS = ("OK", "FAIL")


def _check(f: Fields, checks: RowChecks) -> None:
    checks.present("txn_id", f["txn_id"])
    hall_region = checks.hall_code("hall_code", f["hall_code"], required=True)
    region = f["region_code"]
    if checks.region("region_code", region, required=True) and hall_region not in (None, region):
        checks.fail(
            "bad_value",
            f"hall_code {f['hall_code']!r} is a {hall_region} hall but region_code is {region!r}",
        )
    checks.mobile("msisdn", f["msisdn"], required=False)
    checks.timestamp("txn_time", f["txn_time"], required=True)
    checks.code("biz_code", f["biz_code"], BIZ_CODES, required=True)
    checks.decimal("amount", f["amount"], required=False)
    checks.choice("result", f["result"], RESULTS, required=True)


# The rules of _check the fast paths apply, a subset of what it admits (see _delimited_fast).
RULES = fast.Rules(
    {
        "txn_id": Rule(FREE),
        "hall_code": Rule(HALL_CODE, values=REGIONS),
        "region_code": Rule(MEMBER, values=REGIONS),
        "msisdn": Rule(MOBILE, required=False),
        "txn_time": Rule(DATETIME),
        "biz_code": Rule(MEMBER, values=BIZ_CODES),
        "amount": Rule(YUAN, required=False),
        "result": Rule(MEMBER, values=RESULTS),
        "staff_id": Rule(FREE, required=False),
        "ref_order_no": Rule(FREE, required=False),
    },
    same_prefix=(SamePrefix("hall_code", "region_code", 2),),
)


LAYOUT = DelimitedLayout(header=COLUMNS, encoding="utf-8", check=_check)


def read_batches(path: Path) -> Iterator[Batch]:
    return fast.read_delimited_batches(path, LAYOUT, COLUMNS, RULES)


def read(path: Path) -> Iterator[Item]:
    return fast.items_from_batches(COLUMNS, read_batches(path))


SPEC = SourceSpec(
    name="halls",
    raw_table="hall_txn",
    file_pattern=re.compile(r"hall_txn_(?P<date>\d{8})\.csv"),
    columns=COLUMNS,
    read=read,
    read_batches=read_batches,
    description="physical business hall transactions (UTF-8 CSV)",
)
