"""The halls reader: UTF-8 hall transaction CSVs in, raw rows or rejections out."""

from __future__ import annotations

from pathlib import Path

import pytest

from channel_dw.errors import FileRejected
from channel_dw.sources.base import Rejection, Row
from channel_dw.sources.halls import SPEC

HEADER = "txn_id,hall_code,region_code,msisdn,txn_time,biz_code,amount,result,staff_id,ref_order_no"
PAYMENT = "H0001,TY-0012,TY,13812345678,2026-10-01 09:30:00,B_PAY,50.00,OK,S017,"
PICKUP = "H0002,DT-0003,DT,+86 139-0000-1111,2026-10-01 10:00:00,B_PICKUP,,OK,S020,3301234567890"


def write(folder: Path, lines: list[str], *, encoding: str = "utf-8", bom: bool = False) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / "hall_txn_20261001.csv"
    data = "".join(line + "\n" for line in lines).encode(encoding)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    return path


def read(path: Path) -> list[Row | Rejection]:
    return list(SPEC.read(path))


def the_rejection(tmp_path: Path, record: str) -> Rejection:
    (item,) = read(write(tmp_path, [HEADER, record]))
    assert isinstance(item, Rejection)
    return item


def test_spec_names_the_raw_table_and_its_columns():
    assert SPEC.raw_table == "hall_txn"
    assert SPEC.columns == tuple(HEADER.split(","))
    assert SPEC.match("hall_txn_20261001.csv").group("date") == "20261001"


def test_payment_and_pickup_with_its_store_order_are_read_as_delivered(tmp_path):
    assert read(write(tmp_path, [HEADER, PAYMENT, PICKUP])) == [
        Row(
            2,
            (
                "H0001",
                "TY-0012",
                "TY",
                "13812345678",
                "2026-10-01 09:30:00",
                "B_PAY",
                "50.00",
                "OK",
                "S017",
                None,
            ),
        ),
        Row(
            3,
            (
                "H0002",
                "DT-0003",
                "DT",
                "+86 139-0000-1111",
                "2026-10-01 10:00:00",
                "B_PICKUP",
                None,
                "OK",
                "S020",
                "3301234567890",
            ),
        ),
    ]


def test_anonymous_transaction_without_phone_is_accepted(tmp_path):
    query = "H0003,YC-0101,YC,,2026-10-01 11:00:00,B_QRY,,OK,S101,"
    (row,) = read(write(tmp_path, [HEADER, query]))
    assert row == Row(
        2,
        ("H0003", "YC-0101", "YC", None, "2026-10-01 11:00:00", "B_QRY", None, "OK", "S101", None),
    )


def test_utf8_bom_is_tolerated(tmp_path):
    assert read(write(tmp_path / "bom", [HEADER, PAYMENT], bom=True)) == read(
        write(tmp_path / "plain", [HEADER, PAYMENT])
    )


def test_gbk_file_is_rejected_as_bad_encoding(tmp_path):
    path = write(tmp_path, [HEADER, PAYMENT.replace("S017", "王五")], encoding="gbk")
    with pytest.raises(FileRejected) as caught:
        read(path)
    assert (caught.value.rule, caught.value.line) == ("bad_encoding", 2)


def test_header_with_a_renamed_column_is_rejected_naming_both(tmp_path):
    with pytest.raises(FileRejected) as caught:
        read(write(tmp_path, [HEADER.replace("msisdn", "phone"), PAYMENT]))
    assert caught.value.rule == "bad_header"
    assert caught.value.message == (
        "the header is not the contract's: missing 'msisdn'; unexpected 'phone'"
    )


@pytest.mark.parametrize(
    ("old", "new", "rule", "message"),
    [
        ("H0001,", ",", "missing_field", "txn_id is empty"),
        ("TY-0012", "TY0012", "bad_value", "hall_code 'TY0012' is not a hall code like 'TY-0012'"),
        (
            "TY-0012",
            "BJ-0012",
            "unknown_code",
            "hall_code 'BJ-0012' does not start with a region code",
        ),
        (
            ",TY,",
            ",DT,",
            "bad_value",
            "hall_code 'TY-0012' is a TY hall but region_code is 'DT'",
        ),
        (
            ",TY,",
            ",TAIYUAN,",
            "unknown_code",
            "region_code 'TAIYUAN' is not one of CZ, DT, JC, JZ, LF, LL, SZ, TY, XZ, YC, YQ",
        ),
        (
            "2026-10-01 09:30:00",
            "20261001093000",
            "bad_timestamp",
            "txn_time '20261001093000' is not a YYYY-MM-DD HH:MM:SS time",
        ),
        (
            "B_PAY",
            "B_TOPUP",
            "unknown_code",
            "biz_code 'B_TOPUP' is not one of B_QRY, B_PAY, B_PLAN, B_CAMP, B_VAS, B_DATA, "
            "B_OPEN, B_BB, B_PWD, B_DEV, B_CMP, B_PICKUP",
        ),
        ("50.00", "¥50", "bad_amount", "amount '¥50' is not an amount like 199.00"),
        ("50.00", "50.005", "bad_amount", "amount '50.005' is not an amount like 199.00"),
        (",OK,", ",SUCCESS,", "bad_value", "result 'SUCCESS' is not one of OK, FAIL"),
        (",OK,", ",,", "missing_field", "result is empty"),
        ("13812345678", "138****5678", "bad_phone", "msisdn '138****5678' is not a mobile number"),
    ],
)
def test_transaction_breaking_a_row_rule_is_quarantined(tmp_path, old, new, rule, message):
    record = PAYMENT.replace(old, new, 1)
    assert the_rejection(tmp_path, record) == Rejection(2, rule, message, record)


def test_refund_with_a_negative_amount_is_accepted(tmp_path):
    (row,) = read(write(tmp_path, [HEADER, PAYMENT.replace("50.00", "-50.00")]))
    assert row.values[6] == "-50.00"
