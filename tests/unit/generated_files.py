"""What the generator's tests read its files with: the standard library and openpyxl only,
never the project's readers, so a reader bug and a generator bug cannot hide each other;
and the contract's names and codes as the tests expect them."""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

import openpyxl

OCTOBER = (date(2026, 10, 1), date(2026, 10, 31))
WEB_KEYS = {"event_id", "ts", "session_id", "visitor_id", "member_id", "msisdn", "event",
            "biz_code", "order_id", "amount", "result", "fail_reason", "page"}  # fmt: skip
WEB_CODES = {"WEB_BILLQ", "WEB_PAY", "WEB_PLAN", "WEB_CAMP", "WEB_VAS", "WEB_DATA",
             "WEB_NUMOPEN", "WEB_BB", "WEB_PWD", "WEB_COMPLAIN"}  # fmt: skip
APP_CODES = {"BILLQ01", "PAY01", "PLAN01", "CAMP01", "VAS01", "DATA01", "NUM01", "BB01", "PWD01",
             "CMP01"}  # fmt: skip
HOTLINE_CODES = {"1001", "1002", "2001", "2002", "3001", "3002", "3003", "4001", "5001", "9001",
                 "9002", ""}  # fmt: skip
HALL_CODES = {"B_QRY", "B_PAY", "B_PLAN", "B_CAMP", "B_VAS", "B_DATA", "B_OPEN", "B_BB", "B_PWD",
              "B_DEV", "B_CMP", "B_PICKUP"}  # fmt: skip
SMS_FIXED = {"CXHF", "CXYE", "JF", "KTLL10", "KTLL30", "KTLL100", "KTLDXS", "TD"}
HOTLINE_HEADER = ["呼叫流水号", "主叫号码", "受理号码", "进线时间", "IVR结束时间", "应答时间",
                  "挂机时间", "服务类型", "坐席工号", "业务代码", "办理结果", "满意度", "是否投诉",
                  "地市"]  # fmt: skip
HALLS_HEADER = ["txn_id", "hall_code", "region_code", "msisdn", "txn_time", "biz_code", "amount",
                "result", "staff_id", "ref_order_no"]  # fmt: skip
CRM_HEADER = ["customer_id", "msisdn", "member_id", "email", "region_code", "value_tier",
              "status", "open_date", "updated_at"]  # fmt: skip
STORE_HEADERS = {
    "taobao": ["订单编号", "买家会员名", "买家手机", "下单时间", "付款时间", "宝贝标题", "商家编码",
               "数量", "实付金额", "订单状态", "会员号", "自提门店"],
    "jd": ["订单号", "用户账号", "联系电话", "下单时间", "支付时间", "商品名称", "SKU", "购买数量",
           "应付金额", "订单状态", "会员编号", "门店自提"],
    "meituan": ["订单ID", "用户ID", "手机号", "创建时间", "支付时间", "商品", "商品编码", "份数",
                "实付(元)", "状态", "会员卡号", "到店门店"],
}  # fmt: skip
STORE_STATUSES = {
    "taobao": {"已付款", "交易成功", "交易关闭", "退款成功"},
    "jd": {"等待收货", "已完成", "已取消", "退款"},
    "meituan": {"已支付", "已完成", "已取消", "已退款"},
}
SHAPES = {"plain", "plus86_dashed", "0086", "spaced"}


def mobile(value: str | None) -> str | None:
    """The 11 digits of a mainland mobile number in any contract shape, else None."""
    if value is None:
        return None
    digits = re.sub(r"[\s\-]", "", value)
    for prefix in ("+86", "0086"):
        if digits.startswith(prefix):
            digits = digits[len(prefix) :]
    return digits if re.fullmatch(r"1\d{10}", digits) else None


def parses(value: str, fmt: str) -> bool:
    try:
        datetime.strptime(value, fmt)
    except ValueError:
        return False
    return True


def read_text(path: Path) -> str:
    if path.name.endswith(".gz"):
        return gzip.decompress(path.read_bytes()).decode("utf-8")
    return path.read_text(encoding="utf-8")


def hotline_rows(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    text = raw.decode("utf-8-sig") if raw.startswith(b"\xef\xbb\xbf") else raw.decode("gbk")
    return list(csv.reader(io.StringIO(text, newline="")))


def csv_rows(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.reader(f))


def sheet_rows(path: Path) -> list[tuple[Any, ...]]:
    book = openpyxl.load_workbook(path, read_only=True)
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    book.close()
    return rows


def app_doc(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def bad_lines(manifest: dict[str, Any], file: str) -> set[int]:
    return {a["line"] for a in manifest["awkward"] if a["kind"] == "bad_row" and a["file"] == file}


def kinds(manifest: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [a for a in manifest["awkward"] if a["kind"] == kind]
