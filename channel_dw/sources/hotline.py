"""10086 hotline call detail records: ``hotline/hotline_cdr_YYYYMMDD.csv``.

GBK, or UTF-8 with a BOM since 2026-10-15 (the BOM decides); comma separated, quoted where needed;
a Chinese header, matched by name in any order. Values are kept as delivered (phones are not
normalised here, staging does that).

| rule | when it fires |
|---|---|
| `bad_encoding` | (file) a line is not GBK, or not UTF-8 after a BOM |
| `bad_header` | (file) line 1 is not the 14 contract columns (missing, unexpected, repeated) |
| `unreadable` | (file) the CSV cannot be split into records |
| `line_too_long` | (file) a line (a quoted record) runs over 16 MiB (`DW_MAX_LINE_BYTES`) |
| `wrong_column_count` | a record has not 14 fields |
| `missing_field` | 呼叫流水号, 进线时间, 挂机时间, 服务类型 or 是否投诉 is empty |
| `bad_timestamp` | 进线时间, 挂机时间, present IVR结束时间/应答时间 not `YYYY-MM-DD HH:MM:SS` |
| `unknown_code` | 服务类型 not IVR自助/人工/放弃; 业务代码 or 地市 present, not a contract code |
| `bad_value` | 办理结果 not 成功/失败/empty; 满意度 not 1..5/empty; 是否投诉 not 是/否 |
| `bad_phone` | 受理号码 present, not a mobile; 主叫号码 present, neither mobile nor landline |

An empty 主叫号码 is accepted (a call without caller id still happened; its customer is the
受理号码 or nobody). Cross-field consistency (an agent id on an abandoned call, a hang-up before
the call start) is not a reader rule: it is a data-quality finding, not a reason to quarantine.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from channel_dw.sources import _delimited_fast as fast
from channel_dw.sources._compiled import DATETIME, FREE, MEMBER, MOBILE, MOBILE_OR_LANDLINE, Rule
from channel_dw.sources._delimited import DelimitedLayout, Fields, RowChecks
from channel_dw.sources.base import REGIONS, Item, SourceSpec
from channel_dw.sources.columnar import Batch

# The contract's header name of each raw column, in the raw table's column order.
HEADER_TO_COLUMN: dict[str, str] = {
    "呼叫流水号": "call_id",
    "主叫号码": "caller_number",
    "受理号码": "verified_number",
    "进线时间": "call_start",
    "IVR结束时间": "ivr_end",
    "应答时间": "answer_time",
    "挂机时间": "hangup_time",
    "服务类型": "service_type",
    "坐席工号": "agent_id",
    "业务代码": "biz_code",
    "办理结果": "biz_result",
    "满意度": "satisfaction",
    "是否投诉": "is_complaint",
    "地市": "region_code",
}

# Allowed values in the contract's order (the order a rejection lists them in).
SERVICE_TYPES = ("IVR自助", "人工", "放弃")
BIZ_CODES = ("1001", "1002", "2001", "2002", "3001", "3002", "3003", "4001", "5001", "9001", "9002")
BIZ_RESULTS = ("成功", "失败")
SATISFACTION_SCORES = ("1", "2", "3", "4", "5")
YES_NO = ("是", "否")


def _check(f: Fields, checks: RowChecks) -> None:
    checks.present("呼叫流水号", f["呼叫流水号"])
    checks.mobile_or_landline("主叫号码", f["主叫号码"], required=False)
    checks.mobile("受理号码", f["受理号码"], required=False)
    checks.timestamp("进线时间", f["进线时间"], required=True)
    checks.timestamp("IVR结束时间", f["IVR结束时间"], required=False)
    checks.timestamp("应答时间", f["应答时间"], required=False)
    checks.timestamp("挂机时间", f["挂机时间"], required=True)
    checks.code("服务类型", f["服务类型"], SERVICE_TYPES, required=True)
    checks.code("业务代码", f["业务代码"], BIZ_CODES, required=False)
    checks.choice("办理结果", f["办理结果"], BIZ_RESULTS, required=False)
    checks.choice("满意度", f["满意度"], SATISFACTION_SCORES, required=False)
    checks.choice("是否投诉", f["是否投诉"], YES_NO, required=True)
    checks.region("地市", f["地市"], required=False)


# The rules of _check the fast paths apply, a subset of what it admits (see _delimited_fast).
RULES = fast.Rules(
    {
        "call_id": Rule(FREE),
        "caller_number": Rule(MOBILE_OR_LANDLINE, required=False),
        "verified_number": Rule(MOBILE, required=False),
        "call_start": Rule(DATETIME),
        "ivr_end": Rule(DATETIME, required=False),
        "answer_time": Rule(DATETIME, required=False),
        "hangup_time": Rule(DATETIME),
        "service_type": Rule(MEMBER, values=SERVICE_TYPES),
        "agent_id": Rule(FREE, required=False),
        "biz_code": Rule(MEMBER, required=False, values=BIZ_CODES),
        "biz_result": Rule(MEMBER, required=False, values=BIZ_RESULTS),
        "satisfaction": Rule(MEMBER, required=False, values=SATISFACTION_SCORES),
        "is_complaint": Rule(MEMBER, values=YES_NO),
        "region_code": Rule(MEMBER, required=False, values=REGIONS),
    }
)


LAYOUT = DelimitedLayout(header=tuple(HEADER_TO_COLUMN), encoding="gbk", check=_check)
COLUMNS = tuple(HEADER_TO_COLUMN.values())


def read_batches(path: Path) -> Iterator[Batch]:
    return fast.read_delimited_batches(path, LAYOUT, COLUMNS, RULES)


def read(path: Path) -> Iterator[Item]:
    return fast.items_from_batches(COLUMNS, read_batches(path))


SPEC = SourceSpec(
    name="hotline",
    raw_table="hotline_cdr",
    file_pattern=re.compile(r"hotline_cdr_(?P<date>\d{8})\.csv"),
    columns=COLUMNS,
    read=read,
    read_batches=read_batches,
    description="10086 call detail records (GBK or UTF-8 with BOM CSV, Chinese header)",
)
