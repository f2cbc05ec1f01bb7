"""The sample-data generator writes the export formats of the contract, and plants what it says.

Formats are checked here with the standard library and openpyxl only, never with the project's
readers, so a reader bug and a generator bug cannot hide each other.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from collections import defaultdict
from datetime import date, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from channel_dw.generate import (
    PROVINCE_RECORDS_PER_MONTH,
    customers_for_records,
    generate_landing,
    write_app_events,
    write_hall_txn,
    write_hotline_cdr,
    write_sms_hall,
    write_web_events,
)

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


# --- independent helpers --------------------------------------------------------------------


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


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def october(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], list[str]]:
    """October 2026 for 2,000 customers: the one-month sample of the brief."""
    root = tmp_path_factory.mktemp("october")
    messages: list[str] = []
    generate_landing(root, *OCTOBER, customers=2000, seed=42, progress=messages.append)
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    return root, manifest, messages


@pytest.fixture(scope="module")
def root(october: tuple[Path, dict[str, Any], list[str]]) -> Path:
    return october[0]


@pytest.fixture(scope="module")
def manifest(october: tuple[Path, dict[str, Any], list[str]]) -> dict[str, Any]:
    return october[1]


def kinds(manifest: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [a for a in manifest["awkward"] if a["kind"] == kind]


# --- determinism -----------------------------------------------------------------------------


def test_same_arguments_write_the_same_files(tmp_path: Path) -> None:
    first, second, other = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for where, seed in ((first, 7), (second, 7), (other, 8)):
        generate_landing(where, date(2026, 10, 13), date(2026, 10, 16), customers=300, seed=seed)
    names = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert names == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    for name in names:
        if name.suffix == ".xlsx":
            assert sheet_rows(first / name) == sheet_rows(second / name), name
        else:
            assert (first / name).read_bytes() == (second / name).read_bytes(), name
    hotline = Path("hotline/hotline_cdr_20261014.csv")
    assert (first / hotline).read_bytes() != (other / hotline).read_bytes()


def test_every_day_gets_every_source_and_progress_is_reported(
    october: tuple[Path, dict[str, Any], list[str]],
) -> None:
    root, manifest, messages = october
    assert len(messages) == 31
    assert re.fullmatch(r"2026-10-01: \d+ files, [\d,]+ records", messages[0])
    for day in range(1, 32):
        ymd = f"202610{day:02d}"
        assert (root / f"crm/crm_customers_{ymd}.csv").exists()
        assert (root / f"app/app_events_{ymd}.json").exists()
        assert (root / f"hotline/hotline_cdr_{ymd}.csv").exists()
        assert (root / f"sms/sms_hall_{ymd}.txt").exists()
        assert any((root / f"web/web_events_{ymd}.jsonl{gz}").exists() for gz in ("", ".gz"))
        for platform in STORE_HEADERS:
            assert (root / f"stores/{platform}_orders_{ymd}.xlsx").exists()
    listed = {f["file"]: f["records"] for f in manifest["files"]}
    assert all((root / name).exists() for name in listed)
    sms_file = "sms/sms_hall_20261020.txt"
    assert listed[sms_file] == len(read_text(root / sms_file).splitlines()) - 1


def test_volumes_put_hotline_and_sms_first_and_stores_last(manifest: dict[str, Any]) -> None:
    totals = {source: t["records"] for source, t in manifest["totals"].items()}
    assert min(totals["hotline"], totals["sms"]) > totals["app"] > totals["web"]
    assert totals["web"] > totals["halls"] > totals["stores"]
    assert 20 <= totals["stores"] <= 300  # tens of orders a month for 2,000 customers


# --- web -------------------------------------------------------------------------------------


def test_web_lines_are_json_objects_with_the_contract_keys(
    root: Path, manifest: dict[str, Any]
) -> None:
    files = sorted((root / "web").iterdir())
    assert any(f.name.endswith(".jsonl.gz") for f in files)
    events: defaultdict[str, int] = defaultdict(int)
    extra_keys: set[str] = set()
    submitted: dict[str, str] = {}
    results: dict[str, dict[str, Any]] = {}
    for path in files:
        bad = bad_lines(manifest, f"web/{path.name}")
        for n, line in enumerate(read_text(path).splitlines(), start=1):
            event = json.loads(line)
            assert WEB_KEYS <= event.keys()
            extra_keys |= event.keys() - WEB_KEYS
            events[event["event"]] += 1
            if event["event"] == "biz_submit":
                submitted[event["order_id"]] = event["biz_code"]
            if n in bad:
                continue
            assert datetime.fromisoformat(event["ts"]).utcoffset().total_seconds() == 8 * 3600
            if event["event"] == "biz_result":
                assert event["biz_code"] in WEB_CODES
                assert event["result"] in ("success", "fail")
                if event["biz_code"] == "WEB_BILLQ":
                    assert event["result"] == "success"
                if event["biz_code"] == "WEB_PAY":
                    assert re.fullmatch(r"\d+\.\d\d", event["amount"])
                results[event["order_id"]] = event
    assert set(events) == {"page_view", "login", "register", "biz_submit", "biz_result"}
    assert {"ua", "ab_bucket"} <= extra_keys
    assert set(results) <= set(submitted)
    assert any(r["result"] == "fail" and r["fail_reason"] for r in results.values())


def test_web_has_anonymous_visitors_and_one_shared_visitor(
    root: Path, manifest: dict[str, Any]
) -> None:
    customer_of = {
        mobile(r[1]): r[0]
        for path in (root / "crm").iterdir()
        for r in csv_rows(path)[1:]
        if mobile(r[1])
    }
    customers_of: defaultdict[str, set[str]] = defaultdict(set)
    for path in (root / "web").iterdir():
        for line in read_text(path).splitlines():
            event = json.loads(line)
            customers_of[event["visitor_id"]]
            if mobile(event["msisdn"]) in customer_of:
                customers_of[event["visitor_id"]].add(customer_of[mobile(event["msisdn"])])
    assert sum(1 for who in customers_of.values() if not who) > 100  # never logged in
    (shared,) = kinds(manifest, "shared_web_visitor")
    assert shared["expect"] == "links_nobody"
    assert customers_of[shared["visitor_id"]] == set(shared["customers"])
    assert [v for v, who in customers_of.items() if len(who) > 1] == [shared["visitor_id"]]


def test_duplicate_web_events_repeat_the_same_event_id(
    root: Path, manifest: dict[str, Any]
) -> None:
    entries = kinds(manifest, "duplicate_web_event")
    assert entries
    for entry in entries:
        lines = read_text(root / entry["file"]).splitlines()
        for first, again in entry["lines"]:
            assert lines[first - 1] == lines[again - 1]
        ids = [json.loads(line)["event_id"] for line in lines]
        assert len(ids) - len(set(ids)) == entry["count"]


# --- app -------------------------------------------------------------------------------------


def test_app_count_equals_the_events_except_in_the_planted_truncated_file(
    root: Path, manifest: dict[str, Any]
) -> None:
    (truncated,) = kinds(manifest, "truncated_app_file")
    assert truncated["rule"] == "count_mismatch" and truncated["expect"] == "rejected"
    for path in sorted((root / "app").iterdir()):
        doc = app_doc(path)
        assert doc["export_date"] == f"{path.name[11:15]}-{path.name[15:17]}-{path.name[17:19]}"
        if f"app/{path.name}" == truncated["file"]:
            assert doc["count"] > len(doc["events"])
            assert doc["count"] == truncated["declared_count"]
        else:
            assert doc["count"] == len(doc["events"])


def test_app_events_follow_the_contract_and_a_uid_keeps_one_number(
    root: Path, manifest: dict[str, Any]
) -> None:
    numbers: defaultdict[str, set[str]] = defaultdict(set)
    types: set[str] = set()
    scores: set[int] = set()
    for path in sorted((root / "app").iterdir()):
        bad = bad_lines(manifest, f"app/{path.name}")
        for position, event in enumerate(app_doc(path)["events"], start=1):
            types.add(event["type"])
            if position in bad:
                continue
            assert isinstance(event["time_ms"], int)
            assert date.fromtimestamp(event["time_ms"] / 1000).year == 2026
            if event["type"] == "biz":
                assert event["biz"]["code"] in APP_CODES
                assert event["biz"]["status"] in (0, 1)
            if event["type"] == "rate":
                scores.add(event["rating"]["score"])
            if event["user"]["msisdn"]:
                numbers[event["user"]["uid"]].add(mobile(event["user"]["msisdn"]) or "?")
    assert types == {"launch", "view", "register", "biz", "rate"}
    assert scores == {1, 2, 3, 4, 5}
    assert all(len(n) == 1 and "?" not in n for n in numbers.values())
    example = kinds(manifest, "app_uid_without_msisdn")[0]
    event = app_doc(root / example["file"])["events"][example["line"] - 1]
    assert event["user"] == {"uid": example["uid"], "msisdn": None}
    assert example["uid"] in numbers  # seen with a number somewhere else: linkable


# --- sms -------------------------------------------------------------------------------------


def test_sms_trailers_match_the_records_except_the_planted_bad_trailer(
    root: Path, manifest: dict[str, Any]
) -> None:
    (wrong,) = kinds(manifest, "bad_sms_trailer")
    assert wrong["rule"] == "bad_trailer" and wrong["expect"] == "rejected"
    commands: set[str] = set()
    for path in sorted((root / "sms").iterdir()):
        *records, trailer = path.read_text(encoding="utf-8").splitlines()
        fields = [r.split("|") for r in records]
        assert all(len(f) == 7 for f in fields)
        commands |= {f[3] for f in fields}
        total = sum(int(f[5]) for f in fields if f[5])
        tag, count, amount = trailer.split("|")
        assert tag == "#TRAILER"
        matches = (int(count), int(amount)) == (len(records), total)
        assert matches is (f"sms/{path.name}" != wrong["file"]), path.name
    assert SMS_FIXED <= commands
    assert {f"MYD{n}" for n in range(1, 6)} <= commands
    assert any(c.startswith("BLTC_") for c in commands)


# --- hotline ---------------------------------------------------------------------------------


def test_hotline_is_gbk_before_15_october_and_some_later_days_utf8_with_bom(
    root: Path, manifest: dict[str, Any]
) -> None:
    bom_listed = {a["file"] for a in kinds(manifest, "hotline_utf8_bom")}
    bom_days, gbk_days_after = [], []
    for path in sorted((root / "hotline").iterdir()):
        raw = path.read_bytes()
        day = int(path.name[-6:-4])
        if raw.startswith(b"\xef\xbb\xbf"):
            assert day >= 15, path.name
            raw.decode("utf-8-sig")
            bom_days.append(f"hotline/{path.name}")
        else:
            raw.decode("gbk")
            with pytest.raises(UnicodeDecodeError):
                raw.decode("utf-8")
            if day >= 15:
                gbk_days_after.append(path.name)
    assert bom_days and gbk_days_after
    assert set(bom_days) == bom_listed


def test_hotline_calls_cover_ivr_agents_abandons_and_complaints(
    root: Path, manifest: dict[str, Any]
) -> None:
    rows: list[list[str]] = []
    for path in sorted((root / "hotline").iterdir()):
        header, *body = hotline_rows(path)
        assert header == HOTLINE_HEADER
        bad = bad_lines(manifest, f"hotline/{path.name}")
        rows += [r for n, r in enumerate(body, start=2) if n not in bad]
    assert {r[7] for r in rows} == {"IVR自助", "人工", "放弃"}
    waits = []
    for r in rows:
        assert len(r) == 14 and r[9] in HOTLINE_CODES
        fmt = "%Y-%m-%d %H:%M:%S"
        if r[7] == "人工":
            assert r[5] and r[8]
            waits.append((datetime.strptime(r[5], fmt) - datetime.strptime(r[4], fmt)).seconds)
        else:
            assert not r[5] and not r[8]
        assert r[11] in ("", "1", "2", "3", "4", "5")
    assert any(w > 20 for w in waits) and any(w <= 20 for w in waits)
    assert any(r[12] == "是" for r in rows)
    assert any(re.fullmatch(r"0\d{3}-\d{7}", r[1]) for r in rows)
    assert any(not r[2] for r in rows)


# --- crm -------------------------------------------------------------------------------------


def test_first_crm_file_is_a_full_snapshot_and_later_files_are_deltas(root: Path) -> None:
    files = sorted((root / "crm").iterdir())
    header, *snapshot = csv_rows(files[0])
    assert header == CRM_HEADER
    ids = {r[0] for r in snapshot}
    assert len(ids) == len(snapshot) and len(ids) > 1900
    versions: defaultdict[str, list[list[str]]] = defaultdict(list)
    for r in snapshot:
        versions[r[0]].append(r)
    new_ids: set[str] = set()
    for path in files[1:]:
        header, *delta = csv_rows(path)
        assert header == CRM_HEADER
        assert 0 < len(delta) < 50
        for r in delta:
            versions[r[0]].append(r)
            if r[0] not in ids:
                new_ids.add(r[0])
    assert new_ids

    def changed(col: int) -> list[str]:
        return [c for c, vs in versions.items() if len({v[col] for v in vs if mobile(v[1])}) > 1]

    assert changed(4) and changed(5) and changed(1)  # region, tier, msisdn changes
    statuses = {v[6] for vs in versions.values() for v in vs}
    assert statuses == {"ACTIVE", "SUSPENDED", "CLOSED"}
    emails = [r[3] for r in snapshot]
    assert any(e == "" for e in emails) and any(e and e != e.lower() for e in emails)
    tiers = [r[5] for r in snapshot]
    assert 0.005 < tiers.count("DIAMOND") / len(tiers) < 0.04
    assert tiers.count("STANDARD") > tiers.count("SILVER") > tiers.count("GOLD")
    regions = [r[4] for r in snapshot]
    assert max(set(regions), key=regions.count) == "TY" and len(set(regions)) == 11


def test_a_customer_moves_region_mid_month(root: Path, manifest: dict[str, Any]) -> None:
    moves = kinds(manifest, "crm_region_move")
    assert any("20261016" in m["file"] for m in moves)
    move = moves[0]
    row = csv_rows(root / move["file"])[move["line"] - 1]
    assert row[0] == move["customer"] and row[4] == move["to"]


# --- stores and halls ------------------------------------------------------------------------


def test_store_files_use_their_platform_columns_and_words(root: Path) -> None:
    prefixes: set[str] = set()
    statuses: defaultdict[str, set[str]] = defaultdict(set)
    time_kinds: set[type] = set()
    amount_kinds: set[type] = set()
    masked = full_with_hall = 0
    for path in sorted((root / "stores").iterdir()):
        platform = path.name.split("_")[0]
        header, *rows = sheet_rows(path)
        assert list(header) == STORE_HEADERS[platform]
        for r in rows:
            prefixes.add(str(r[6]).split("-")[0] + "-")
            statuses[platform].add(r[9])
            time_kinds.add(type(r[3]))
            amount_kinds.add(type(r[8]))
            if isinstance(r[8], str) and r[8].startswith("¥"):
                assert re.fullmatch(r"¥\d+\.\d\d", r[8])
            if "****" in str(r[2]):
                masked += 1
                assert not r[11]
            elif r[11] and mobile(str(r[2])):
                full_with_hall += 1
                assert re.fullmatch(r"[A-Z]{2}-\d{4}", r[11])
    assert {"DEV-", "SIM-", "BB-", "TOPUP-", "DATA-"} <= prefixes
    for platform, seen in statuses.items():
        assert seen <= STORE_STATUSES[platform]
    assert {datetime, str} <= time_kinds
    assert str in amount_kinds and (int in amount_kinds or float in amount_kinds)
    assert masked > full_with_hall > 0


def test_store_orders_reappear_later_with_their_new_status(
    root: Path, manifest: dict[str, Any]
) -> None:
    changes = kinds(manifest, "store_status_change")
    assert changes
    for change in changes:
        first = sheet_rows(root / change["first_file"])[change["first_line"] - 1]
        later = sheet_rows(root / change["file"])[change["line"] - 1]
        assert first[0] == later[0] == change["order_no"]
        assert (first[9], later[9]) == (change["status_before"], change["status_after"])
        assert [first[i] for i in (1, 2, 5, 6, 7, 10, 11)] == [
            later[i] for i in (1, 2, 5, 6, 7, 10, 11)
        ]
    assert {c["status_after"] for c in changes} & {"退款成功", "退款", "已退款"}


def test_pickup_rows_in_halls_name_store_orders_collected_there(root: Path) -> None:
    pickup_hall: dict[str, str] = {}
    for path in (root / "stores").iterdir():
        for r in sheet_rows(path)[1:]:
            if r[11]:
                pickup_hall[str(r[0])] = str(r[11])
    pickups = 0
    for path in sorted((root / "halls").iterdir()):
        header, *rows = csv_rows(path)
        assert header == HALLS_HEADER
        for r in rows:
            assert r[5] in HALL_CODES or r[5].startswith("B_")
            if r[5] == "B_PICKUP":
                pickups += 1
                assert pickup_hall[r[9]] == r[1] and r[2] == r[1][:2]
            else:
                assert r[9] == ""
            assert r[8].startswith(r[1].replace("-", ""))
    assert pickups > 0


def test_shared_store_account_names_two_customers(root: Path, manifest: dict[str, Any]) -> None:
    (shared,) = kinds(manifest, "shared_store_account")
    rows = sheet_rows(root / shared["file"])
    used = [rows[line - 1] for line in shared["lines"]]
    assert {r[1] for r in used} == {shared["account"]}
    assert sorted(r[10] for r in used) == sorted(shared["member_ids"])


# --- planted bad rows, phone shapes, late records --------------------------------------------


def _offending(root: Path, entry: dict[str, Any]) -> tuple[str, str]:
    """(value of the named column at the named line, the format it should have)."""
    path, line, column = root / entry["file"], entry["line"], entry["column"]
    source = entry["source"]
    if source == "web":
        event = json.loads(read_text(path).splitlines()[line - 1])
        return event[column], "web"
    if source == "app":
        event = app_doc(path)["events"][line - 1]
        value = (
            event["biz"]["code"]
            if column == "biz.code"
            else (event["user"]["msisdn"] if column == "user.msisdn" else event["time_ms"])
        )
        return value, "app"
    if source == "sms":
        names = ["msg_id", "msisdn", "recv_time", "command", "reply_code", "amount_fen", "region"]
        row = path.read_text(encoding="utf-8").splitlines()[line - 1].split("|")
        return row[names.index(column)], "sms"
    if source == "stores":
        rows = sheet_rows(path)
        return rows[line - 1][list(rows[0]).index(column)], "stores"
    rows = hotline_rows(path) if source == "hotline" else csv_rows(path)
    return rows[line - 1][rows[0].index(column)], source


def _breaks(rule: str, value: Any, source: str) -> bool:
    if rule == "bad_phone":
        return mobile(str(value)) is None and "*" not in str(value)
    if rule == "bad_timestamp":
        if source == "web":
            try:
                datetime.fromisoformat(value)
            except (TypeError, ValueError):
                return True
            return False
        if source == "app":
            return not isinstance(value, int)
        fmt = "%Y%m%d%H%M%S" if source == "sms" else "%Y-%m-%d %H:%M:%S"
        return not isinstance(value, datetime) and not parses(str(value), fmt)
    known = {"web": WEB_CODES, "app": APP_CODES, "hotline": HOTLINE_CODES, "halls": HALL_CODES}
    if source == "sms":
        return value not in SMS_FIXED and not re.fullmatch(r"MYD[1-5]|BLTC_\w+", value)
    if source == "stores":
        return not str(value).startswith(("DEV-", "SIM-", "BB-", "TOPUP-", "DATA-"))
    return value not in known[source]


def test_manifest_bad_rows_point_at_lines_that_really_break_their_rule(
    root: Path, manifest: dict[str, Any]
) -> None:
    entries = kinds(manifest, "bad_row")
    found: set[tuple[str, str]] = set()
    for entry in entries:
        value, source = _offending(root, entry)
        assert value == entry["value"], entry
        assert _breaks(entry["rule"], value, source), entry
        assert entry["expect"] == "quarantined"
        found.add((source, entry["rule"]))
    rules = {"bad_timestamp", "bad_phone", "unknown_code"}
    for source in ("web", "app", "hotline", "sms", "stores", "halls"):
        assert {r for s, r in found if s == source} == rules, source
    assert {r for s, r in found if s == "crm"} == {"bad_timestamp", "bad_phone"}


def test_every_phone_shape_appears_in_every_source_with_full_numbers(
    root: Path, manifest: dict[str, Any]
) -> None:
    shapes: defaultdict[str, set[str]] = defaultdict(set)
    for entry in kinds(manifest, "phone_shape"):
        shapes[entry["source"]].add(entry["shape"])
        value, _source = _offending(root, entry)
        assert value == entry["value"] and mobile(value)
    for source in ("web", "app", "hotline", "sms", "halls", "crm"):
        assert shapes[source] == SHAPES, source
    masked = kinds(manifest, "masked_store_phone")[0]
    assert re.fullmatch(r"1\d\d\*{4}\d{4}", masked["value"])


def test_late_records_belong_to_one_or_two_days_before_the_file(
    root: Path, manifest: dict[str, Any]
) -> None:
    late = kinds(manifest, "late_records")
    assert {e["source"] for e in late} == {"web", "app", "hotline", "sms", "halls"}
    for entry in late:
        file_day = datetime.strptime(re.search(r"\d{8}", entry["file"])[0], "%Y%m%d").date()
        for day in entry["dates"]:
            assert 1 <= (file_day - date.fromisoformat(day)).days <= 2
        if entry["source"] == "hotline":
            rows = hotline_rows(root / entry["file"])
            for line in entry["lines"]:
                assert rows[line - 1][3][:10] in entry["dates"]


# --- redeliveries ----------------------------------------------------------------------------


def test_redeliveries_are_listed_in_order_with_their_outcome(
    root: Path, manifest: dict[str, Any]
) -> None:
    identical, corrected, late = manifest["redeliveries"]
    assert [r["expect"] for r in (identical, corrected, late)] == ["skipped", "replaces", "loaded"]
    original = root / identical["file"]
    copy = root / identical["folder"] / identical["file"]
    assert copy.read_bytes() == original.read_bytes()

    before = hotline_rows(root / corrected["file"])
    after = hotline_rows(root / corrected["folder"] / corrected["file"])
    assert len(before) - 1 == corrected["records_before"]
    assert len(after) - 1 == corrected["records_after"] != corrected["records_before"]
    ids_before, ids_after = {r[0] for r in before[1:]}, {r[0] for r in after[1:]}
    assert set(corrected["dropped"]) <= ids_before - ids_after
    assert set(corrected["added"]) == ids_after - ids_before
    old, new = {r[0]: r for r in before[1:]}, {r[0]: r for r in after[1:]}
    assert corrected["amended"]
    assert all(old[call] != new[call] for call in corrected["amended"])
    assert corrected["fixed_bad_row_lines"]
    for line in corrected["fixed_bad_row_lines"]:
        call = before[line - 1][0]
        assert not parses(old[call][3], "%Y-%m-%d %H:%M:%S")
        assert parses(new[call][3], "%Y-%m-%d %H:%M:%S")

    assert not (root / late["file"]).exists()
    rows = csv_rows(root / late["folder"] / late["file"])
    assert rows[0] == HALLS_HEADER and len(rows) - 1 == late["records"]
    assert late["business_date"] in rows[1][4]


# --- benchmark writers -----------------------------------------------------------------------


def test_benchmark_writers_write_about_the_rows_asked(tmp_path: Path) -> None:
    n = write_web_events(tmp_path / "web.jsonl", 3000)
    lines = (tmp_path / "web.jsonl").read_text(encoding="utf-8").splitlines()
    assert n == len(lines) and 2400 < n < 3600
    assert all(WEB_KEYS <= json.loads(line).keys() for line in lines)

    n = write_app_events(tmp_path / "app.json", 3000)
    doc = app_doc(tmp_path / "app.json")
    assert n == doc["count"] == len(doc["events"]) and 2400 < n < 3600

    n = write_hotline_cdr(tmp_path / "cdr.csv", 3000)
    assert n == len(hotline_rows(tmp_path / "cdr.csv")) - 1 and 2700 < n < 3300

    n = write_sms_hall(tmp_path / "sms.txt", 3000)
    *records, trailer = (tmp_path / "sms.txt").read_text(encoding="utf-8").splitlines()
    assert n == len(records) and trailer.startswith(f"#TRAILER|{n}|")

    n = write_hall_txn(tmp_path / "halls.csv", 3000)
    assert n == len(csv_rows(tmp_path / "halls.csv")) - 1 and 2700 < n < 3300


# --- province scale --------------------------------------------------------------------------


def test_a_province_month_of_ten_million_records_takes_about_1_2_million_customers() -> None:
    # by hand: the daily rates add up to 0.2353 records per customer (hotline .07, sms .07,
    # app .05, web .03, halls .012, crm .0025, stores .0008), times 31 days is 7.3, plus the
    # CRM snapshot's row: about 8.3 records per customer in October, so 10 M / 8.3 = 1.2 M
    customers = customers_for_records(PROVINCE_RECORDS_PER_MONTH, date(2026, 10, 1))
    assert 1_150_000 < customers < 1_250_000
    # any day of the month sizes the same population, so a few days can be tried at full scale
    assert customers_for_records(PROVINCE_RECORDS_PER_MONTH, date(2026, 10, 20)) == customers


def test_records_per_month_gives_a_month_of_about_that_many_records(tmp_path: Path) -> None:
    customers = customers_for_records(40_000, date(2026, 10, 1))
    summary = generate_landing(tmp_path, *OCTOBER, customers=customers, seed=3)
    assert 38_000 < summary.records < 42_000
    text = str(summary)  # a few lines for people, not the thousands of planted cases
    assert f"{summary.records:,} records" in text and len(text.splitlines()) == 4


def test_generate_command_sizes_by_records_per_month_or_customers_not_both(
    tmp_path: Path,
) -> None:
    from click.testing import CliRunner

    from channel_dw.cli import main

    where = tmp_path / "landing"
    args = ["generate", "--start", "2026-10-01", "--end", "2026-10-02", "--landing", str(where)]
    done = CliRunner().invoke(main, [*args, "--records-per-month", "50000"])
    assert done.exit_code == 0, done.output
    params = json.loads((where / "manifest.json").read_text(encoding="utf-8"))["params"]
    assert params["customers"] == customers_for_records(50_000, date(2026, 10, 1))
    both = CliRunner().invoke(main, [*args, "--records-per-month", "50000", "--customers", "900"])
    assert both.exit_code == 2 and "not both" in both.output


@pytest.fixture(scope="module")
def busier(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """Two weeks for 20,000 customers: enough store orders and late calls to pass the caps."""
    root = tmp_path_factory.mktemp("busier")
    generate_landing(root, date(2026, 10, 1), date(2026, 10, 14), customers=20_000, seed=42)
    return root, json.loads((root / "manifest.json").read_text(encoding="utf-8"))


def test_a_listed_store_order_has_its_latest_status_listed_too(
    busier: tuple[Path, dict[str, Any]],
) -> None:
    root, manifest = busier
    changes = kinds(manifest, "store_status_change")
    assert manifest["awkward_counts"]["store_status_change"] > len(changes)  # capped
    listed: dict[tuple[str, str], str] = {}
    for entry in changes:  # in file order, so the last one listed wins
        listed[entry["platform"], entry["order_no"]] = entry["status_after"]
    shown: dict[tuple[str, str], str] = {}
    for path in sorted((root / "stores").glob("*.xlsx"), key=lambda p: p.name[-13:]):
        platform = path.name.split("_")[0]
        for row in sheet_rows(path)[1:]:
            shown[platform, str(row[0])] = row[9]
    assert {key: shown[key] for key in listed} == listed


def test_a_corrected_file_keeps_the_listed_lines_on_the_same_calls(
    busier: tuple[Path, dict[str, Any]],
) -> None:
    root, manifest = busier
    corrected = next(r for r in manifest["redeliveries"] if r["kind"] == "corrected_redelivery")
    lines = [
        line
        for entry in kinds(manifest, "late_records")
        if entry["file"] == corrected["file"]
        for line in entry["lines"]
    ]
    assert lines and corrected["dropped"]
    before = hotline_rows(root / corrected["file"])
    after = hotline_rows(root / corrected["folder"] / corrected["file"])
    assert [after[line - 1][0] for line in lines] == [before[line - 1][0] for line in lines]


def test_app_bad_timestamps_are_text_never_null_or_empty(tmp_path: Path) -> None:
    # a null or empty time_ms is the reader's missing_field, not a bad_timestamp
    from channel_dw.generate.app import write_app_file
    from channel_dw.generate.common import clean_job
    from channel_dw.generate.plants import RULE_BAD_TIMESTAMP, BadRows

    world, job = clean_job("app", tmp_path / "app.json", 2000, 1, date(2026, 10, 1))
    positions = range(0, 1200, 20)
    job.bad = BadRows([(k, RULE_BAD_TIMESTAMP) for k in positions])
    write_app_file(job, world)
    events = app_doc(tmp_path / "app.json")["events"]
    values = [events[k]["time_ms"] for k in positions]
    assert all(isinstance(v, str) and v and not v.isdigit() for v in values), values
    assert len(set(values)) > 2
