"""The generator plants what its manifest says: bad rows on the lines named, every phone shape,
late records, re-deliveries and store orders whose status moves (the manifest is what the
loader and mart tests check the warehouse against). Read with the standard library and
openpyxl only (tests/unit/generated_files.py)."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from datetime import date, datetime
from pathlib import Path
from typing import Any

from tests.unit.generated_files import (
    APP_CODES,
    HALL_CODES,
    HALLS_HEADER,
    HOTLINE_CODES,
    SHAPES,
    SMS_FIXED,
    WEB_CODES,
    app_doc,
    csv_rows,
    hotline_rows,
    kinds,
    mobile,
    parses,
    read_text,
    sheet_rows,
)

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
