"""The sample-data generator writes the export formats of the contract, and plants what it says.

Formats are checked here with the standard library and openpyxl only, never with the project's
readers, so a reader bug and a generator bug cannot hide each other.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from channel_dw.generate import (
    generate_landing,
)
from tests.unit.generated_files import (
    APP_CODES,
    CRM_HEADER,
    HALL_CODES,
    HALLS_HEADER,
    HOTLINE_CODES,
    HOTLINE_HEADER,
    SMS_FIXED,
    STORE_HEADERS,
    STORE_STATUSES,
    WEB_CODES,
    WEB_KEYS,
    app_doc,
    bad_lines,
    csv_rows,
    hotline_rows,
    kinds,
    mobile,
    read_text,
    sheet_rows,
)

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
