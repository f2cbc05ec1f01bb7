"""The stores reader: taobao / jd / meituan order workbooks in, raw rows or rejections out."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from channel_dw.errors import FileRejected
from channel_dw.sources.base import Rejection, Row
from channel_dw.sources.stores import SPEC

TAOBAO_HEADER = [
    "订单编号",
    "买家会员名",
    "买家手机",
    "下单时间",
    "付款时间",
    "宝贝标题",
    "商家编码",
    "数量",
    "实付金额",
    "订单状态",
    "会员号",
    "自提门店",
]
JD_HEADER = [
    "订单号",
    "用户账号",
    "联系电话",
    "下单时间",
    "支付时间",
    "商品名称",
    "SKU",
    "购买数量",
    "应付金额",
    "订单状态",
    "会员编号",
    "门店自提",
]
MEITUAN_HEADER = [
    "订单ID",
    "用户ID",
    "手机号",
    "创建时间",
    "支付时间",
    "商品",
    "商品编码",
    "份数",
    "实付(元)",
    "状态",
    "会员卡号",
    "到店门店",
]

# A taobao order picked up in a hall: full phone, Excel datetimes, a numeric amount.
TAOBAO_ORDER = [
    "3301234567890",
    "tb_buyer01",
    "13812345678",
    datetime(2026, 10, 1, 8, 15, 2),
    datetime(2026, 10, 1, 8, 16, 0),
    "iPhone 16 128G",
    "DEV-IP16-128",
    1,
    5999,
    "交易成功",
    "M00012345",
    "TY-0012",
]


def write(tmp_path: Path, platform: str, rows: list[list[Any]], *, extra_sheet=None) -> Path:
    path = tmp_path / f"{platform}_orders_20261001.xlsx"
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    if extra_sheet is not None:
        other = workbook.create_sheet("Sheet2")
        for row in extra_sheet:
            other.append(row)
    workbook.save(path)
    return path


def read(path: Path) -> list[Row | Rejection]:
    return list(SPEC.read(path))


def the_rejection(tmp_path: Path, order: list[Any]) -> Rejection:
    (item,) = read(write(tmp_path, "taobao", [TAOBAO_HEADER, order]))
    assert isinstance(item, Rejection)
    return item


def test_spec_takes_the_platform_from_the_file_name():
    assert SPEC.raw_table == "store_orders"
    assert SPEC.columns == (
        "platform",
        "order_no",
        "buyer_account",
        "phone",
        "created_time",
        "paid_time",
        "item",
        "sku",
        "quantity",
        "amount_yuan",
        "status",
        "member_id",
        "pickup_hall",
    )
    assert SPEC.match("meituan_orders_20261001.xlsx").group("platform") == "meituan"
    assert SPEC.match("pdd_orders_20261001.xlsx") is None


def test_taobao_order_with_excel_datetimes_and_numeric_amount(tmp_path):
    assert read(write(tmp_path, "taobao", [TAOBAO_HEADER, TAOBAO_ORDER])) == [
        Row(
            2,
            (
                "taobao",
                "3301234567890",
                "tb_buyer01",
                "13812345678",
                "2026-10-01 08:15:02",
                "2026-10-01 08:16:00",
                "iPhone 16 128G",
                "DEV-IP16-128",
                "1",
                "5999.00",
                "交易成功",
                "M00012345",
                "TY-0012",
            ),
        )
    ]


def test_jd_order_with_text_times_and_yuan_text_amount(tmp_path):
    order = [
        "JD900001",
        "jd_user_7",
        "139****0001",
        "2026-10-01 20:00:00",
        "2026-10-01 20:00:30",
        "5G 畅享套餐卡",
        "SIM-5G-59",
        "1",
        "¥199.00",
        "等待收货",
        None,
        None,
    ]
    assert read(write(tmp_path, "jd", [JD_HEADER, order])) == [
        Row(
            2,
            (
                "jd",
                "JD900001",
                "jd_user_7",
                "139****0001",
                "2026-10-01 20:00:00",
                "2026-10-01 20:00:30",
                "5G 畅享套餐卡",
                "SIM-5G-59",
                "1",
                "¥199.00",
                "等待收货",
                None,
                None,
            ),
        )
    ]


def test_meituan_order_with_columns_in_its_own_order_and_extra_columns(tmp_path):
    header = ["备注", *reversed(MEITUAN_HEADER), "配送方式"]
    order = [
        "尽快",
        "DT-0003",
        "MC7788",
        "已支付",
        "1,299.50",
        2.0,
        "TOPUP-100",
        "话费充值",
        None,
        datetime(2026, 10, 2, 0, 0, 0),
        "186****2222",
        "mt_42",
        "MT000123",
        "到店自取",
    ]
    assert read(write(tmp_path, "meituan", [header, order])) == [
        Row(
            2,
            (
                "meituan",
                "MT000123",
                "mt_42",
                "186****2222",
                "2026-10-02 00:00:00",
                None,
                "话费充值",
                "TOPUP-100",
                "2",
                "1,299.50",
                "已支付",
                "MC7788",
                "DT-0003",
            ),
        )
    ]


def test_excel_datetime_and_text_time_give_the_same_text(tmp_path):
    as_text = [*TAOBAO_ORDER]
    as_text[3:5] = ["2026-10-01 08:15:02", " 2026-10-01 08:16:00 "]
    excel, text = read(write(tmp_path, "taobao", [TAOBAO_HEADER, TAOBAO_ORDER, as_text]))
    assert excel.values[4:6] == text.values[4:6] == ("2026-10-01 08:15:02", "2026-10-01 08:16:00")


def test_excel_datetime_a_hair_below_the_second_is_rounded_up(tmp_path):
    order = [*TAOBAO_ORDER]
    order[3] = datetime(2026, 10, 1, 8, 15, 1, 999000)
    (row,) = read(write(tmp_path, "taobao", [TAOBAO_HEADER, order]))
    assert row.values[4] == "2026-10-01 08:15:02"


@pytest.mark.parametrize(
    ("amount", "stored"),
    [
        (199, "199.00"),
        (199.5, "199.50"),
        (0.1 + 0.2, "0.30"),
        ("¥199.00", "¥199.00"),
        ("￥199.00", "￥199.00"),
        ("¥1,299.00", "¥1,299.00"),
        ("88", "88"),
    ],
)
def test_amounts_numbers_get_two_decimals_and_text_stays_as_delivered(tmp_path, amount, stored):
    order = [*TAOBAO_ORDER]
    order[8] = amount
    (row,) = read(write(tmp_path, "taobao", [TAOBAO_HEADER, order]))
    assert row.values[9] == stored


@pytest.mark.parametrize("phone", ["138****5678", "13812345678", "+86 138-1234-5678", None])
def test_masked_full_and_missing_phones_are_accepted(tmp_path, phone):
    order = [*TAOBAO_ORDER]
    order[2] = phone
    (row,) = read(write(tmp_path, "taobao", [TAOBAO_HEADER, order]))
    assert row.values[3] == phone


def test_numeric_order_numbers_and_quantities_lose_the_float_tail(tmp_path):
    order = [*TAOBAO_ORDER]
    order[0] = 3301234567890.0
    order[7] = 3.0
    (row,) = read(write(tmp_path, "taobao", [TAOBAO_HEADER, order]))
    assert (row.values[1], row.values[8]) == ("3301234567890", "3")


def test_blank_rows_are_skipped_and_lines_are_sheet_rows(tmp_path):
    second = [*TAOBAO_ORDER]
    second[0] = "3301234567891"
    rows = [[None], TAOBAO_HEADER, TAOBAO_ORDER, [], ["  ", None], second]
    items = read(write(tmp_path, "taobao", rows))
    assert [(item.line, item.values[1]) for item in items] == [
        (3, "3301234567890"),
        (6, "3301234567891"),
    ]


def test_status_of_another_platform_is_quarantined(tmp_path):
    order = [*TAOBAO_ORDER]
    order[9] = "已完成"  # jd's and meituan's word, not taobao's
    assert the_rejection(tmp_path, order) == Rejection(
        2,
        "unknown_code",
        "订单状态 '已完成' is not one of 已付款, 交易成功, 交易关闭, 退款成功",
        "3301234567890\ttb_buyer01\t13812345678\t2026-10-01 08:15:02\t2026-10-01 08:16:00"
        "\tiPhone 16 128G\tDEV-IP16-128\t1\t5999\t已完成\tM00012345\tTY-0012",
    )


@pytest.mark.parametrize(
    ("column", "value", "rule", "message"),
    [
        (0, None, "missing_field", "订单编号 is empty"),
        (9, None, "missing_field", "订单状态 is empty"),
        (3, None, "missing_field", "下单时间 is empty"),
        (
            3,
            "2026-10-01 8:15",
            "bad_timestamp",
            "下单时间 '2026-10-01 8:15' is not a YYYY-MM-DD HH:MM:SS time",
        ),
        (4, 45000.5, "bad_timestamp", "付款时间 '45000.5' is not a YYYY-MM-DD HH:MM:SS time"),
        (
            6,
            "VIP-GOLD",
            "unknown_code",
            "商家编码 'VIP-GOLD' does not start with one of DEV-, SIM-, BB-, TOPUP-, DATA-",
        ),
        (6, None, "missing_field", "商家编码 is empty"),
        (8, "199元", "bad_amount", "实付金额 '199元' is not an amount in yuan like ¥199.00"),
        (8, 66.666, "bad_amount", "实付金额 66.666 has fractions of a fen"),
        (8, None, "missing_field", "实付金额 is empty"),
        (7, 1.5, "bad_value", "数量 '1.5' is not a whole number of items"),
        (
            2,
            "1381234567",
            "bad_phone",
            "买家手机 '1381234567' is neither a mobile number nor a masked one",
        ),
        (11, "TY12", "bad_value", "自提门店 'TY12' is not a hall code like 'TY-0012'"),
        (11, "BJ-0001", "unknown_code", "自提门店 'BJ-0001' does not start with a region code"),
    ],
)
def test_order_breaking_a_row_rule_is_quarantined(tmp_path, column, value, rule, message):
    order = [*TAOBAO_ORDER]
    order[column] = value
    rejection = the_rejection(tmp_path, order)
    assert (rejection.line, rejection.rule, rejection.message) == (2, rule, message)


def test_header_missing_a_column_is_rejected_naming_it(tmp_path):
    header = [name for name in TAOBAO_HEADER if name != "商家编码"]
    with pytest.raises(FileRejected) as caught:
        read(write(tmp_path, "taobao", [header]))
    assert (caught.value.rule, caught.value.line) == ("bad_header", 1)
    assert caught.value.message == "the header is not taobao's: missing '商家编码'"


def test_another_platforms_header_is_named_as_a_misnamed_file(tmp_path):
    with pytest.raises(FileRejected) as caught:
        read(write(tmp_path, "taobao", [JD_HEADER]))
    assert caught.value.rule == "bad_header"
    assert caught.value.message.endswith("(it is jd's header: is the file misnamed?)")


def test_empty_sheet_is_rejected_as_bad_header(tmp_path):
    with pytest.raises(FileRejected) as caught:
        read(write(tmp_path, "jd", []))
    assert caught.value.rule == "bad_header"


def test_corrupt_workbook_is_rejected_as_unreadable(tmp_path):
    path = tmp_path / "jd_orders_20261001.xlsx"
    path.write_bytes(b"PK\x03\x04 this is not really a zip")
    with pytest.raises(FileRejected) as caught:
        read(path)
    assert (caught.value.file, caught.value.line, caught.value.rule) == (
        "jd_orders_20261001.xlsx",
        None,
        "unreadable",
    )


def test_second_sheet_with_data_rejects_the_file_but_an_empty_one_is_fine(tmp_path):
    path = write(tmp_path, "taobao", [TAOBAO_HEADER, TAOBAO_ORDER], extra_sheet=[])
    assert [item.line for item in read(path)] == [2]
    path = write(tmp_path, "taobao", [TAOBAO_HEADER], extra_sheet=[[], [TAOBAO_ORDER[0]]])
    with pytest.raises(FileRejected) as caught:
        read(path)
    assert (caught.value.rule, caught.value.line) == ("unreadable", 2)
    assert caught.value.message == "sheet 'Sheet2' holds data, but an order file has one sheet"


def test_header_with_a_contract_column_twice_is_rejected(tmp_path):
    with pytest.raises(FileRejected) as caught:
        read(write(tmp_path, "jd", [[*JD_HEADER, "SKU"]]))
    assert caught.value.message == "the header is not jd's: repeated 'SKU'"
