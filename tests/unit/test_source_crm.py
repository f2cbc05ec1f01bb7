"""The crm reader: UTF-8 customer snapshots and deltas in, raw rows or rejections out."""

from __future__ import annotations

from pathlib import Path

import pytest

from channel_dw.errors import FileRejected
from channel_dw.sources.base import Rejection, Row
from channel_dw.sources.crm import SPEC

HEADER = "customer_id,msisdn,member_id,email,region_code,value_tier,status,open_date,updated_at"
GOLD = (
    "C000001,13812345678,M00012345,Li.Wei@Example.com,TY,GOLD,ACTIVE,2019-03-15,2026-09-30 23:10:00"
)
STANDARD = "C000002,0086 139 0000 1111,,,LL,STANDARD,SUSPENDED,2024-12-01,2026-09-30 23:10:00"


def write(tmp_path: Path, lines: list[str], *, bom: bool = False) -> Path:
    path = tmp_path / "crm_customers_20261001.csv"
    data = "".join(line + "\r\n" for line in lines).encode("utf-8")
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    return path


def read(path: Path) -> list[Row | Rejection]:
    return list(SPEC.read(path))


def the_rejection(tmp_path: Path, record: str) -> Rejection:
    (item,) = read(write(tmp_path, [HEADER, record]))
    assert isinstance(item, Rejection)
    return item


def test_spec_names_the_raw_table_and_its_columns():
    assert SPEC.raw_table == "crm_customers"
    assert SPEC.columns == tuple(HEADER.split(","))
    assert SPEC.match("crm_customers_20261001.csv") is not None


def test_snapshot_rows_are_read_as_delivered(tmp_path):
    assert read(write(tmp_path, [HEADER, GOLD, STANDARD], bom=True)) == [
        Row(
            2,
            (
                "C000001",
                "13812345678",
                "M00012345",
                "Li.Wei@Example.com",
                "TY",
                "GOLD",
                "ACTIVE",
                "2019-03-15",
                "2026-09-30 23:10:00",
            ),
        ),
        Row(
            3,
            (
                "C000002",
                "0086 139 0000 1111",
                None,
                None,
                "LL",
                "STANDARD",
                "SUSPENDED",
                "2024-12-01",
                "2026-09-30 23:10:00",
            ),
        ),
    ]


def test_bad_tier_is_quarantined_and_the_file_goes_on(tmp_path):
    platinum = GOLD.replace(",GOLD,", ",PLATINUM,")
    assert read(write(tmp_path, [HEADER, platinum, STANDARD]))[0] == Rejection(
        2,
        "unknown_code",
        "value_tier 'PLATINUM' is not one of DIAMOND, GOLD, SILVER, STANDARD",
        platinum,
    )


@pytest.mark.parametrize(
    ("old", "new", "rule", "message"),
    [
        ("C000001,", ",", "missing_field", "customer_id is empty"),
        ("13812345678", "", "missing_field", "msisdn is empty"),
        (
            "13812345678",
            "0351-7654321",
            "bad_phone",
            "msisdn '0351-7654321' is not a mobile number",
        ),
        (
            "Li.Wei@Example.com",
            "li.wei.example.com",
            "bad_value",
            "email 'li.wei.example.com' has no '@'",
        ),
        (
            ",TY,",
            ",SX,",
            "unknown_code",
            "region_code 'SX' is not one of CZ, DT, JC, JZ, LF, LL, SZ, TY, XZ, YC, YQ",
        ),
        (
            ",ACTIVE,",
            ",ACTIVATED,",
            "unknown_code",
            "status 'ACTIVATED' is not one of ACTIVE, SUSPENDED, CLOSED",
        ),
        (
            "2019-03-15",
            "2019/03/15",
            "bad_timestamp",
            "open_date '2019/03/15' is not a YYYY-MM-DD date",
        ),
        (
            "2019-03-15",
            "2019-02-30",
            "bad_timestamp",
            "open_date '2019-02-30' is not a YYYY-MM-DD date",
        ),
        (
            "2026-09-30 23:10:00",
            "2026-09-30T23:10:00",
            "bad_timestamp",
            "updated_at '2026-09-30T23:10:00' is not a YYYY-MM-DD HH:MM:SS time",
        ),
    ],
)
def test_customer_breaking_a_row_rule_is_quarantined(tmp_path, old, new, rule, message):
    record = GOLD.replace(old, new, 1)
    assert the_rejection(tmp_path, record) == Rejection(2, rule, message, record)


def test_header_in_another_order_is_mapped_by_name(tmp_path):
    header = "updated_at,customer_id,msisdn,member_id,email,region_code,value_tier,status,open_date"
    record = "2026-09-30 23:10:00," + GOLD.removesuffix(",2026-09-30 23:10:00")
    assert read(write(tmp_path, [header, record])) == [
        Row(
            2,
            (
                "C000001",
                "13812345678",
                "M00012345",
                "Li.Wei@Example.com",
                "TY",
                "GOLD",
                "ACTIVE",
                "2019-03-15",
                "2026-09-30 23:10:00",
            ),
        )
    ]


def test_header_with_a_column_twice_is_rejected(tmp_path):
    with pytest.raises(FileRejected) as caught:
        read(write(tmp_path, [HEADER + ",email", GOLD + ","]))
    assert caught.value.rule == "bad_header"
    assert caught.value.message == "the header is not the contract's: repeated 'email'"
