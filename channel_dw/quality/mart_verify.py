"""Checks the dbt mart against what a generated landing folder planted.

The generator's ``manifest.json`` names every awkward case and what the contract makes of it: a
shared web visitor or store account links nobody, an app uid seen without a phone still belongs
to the customer it is later bound to, a duplicate web event is one record, an order keeps its
latest status, a region move is kept in the customer's history, late records count on their own
day. The demo prints this check after the mart is built; the integration tests assert it.
"""

from __future__ import annotations

import json
from pathlib import Path

from psycopg2.extensions import connection as PgConnection

from channel_dw.ingest.verify import ManifestCheck


def verify_mart(conn: PgConnection, manifest_path: Path) -> ManifestCheck:
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    result = ManifestCheck(subject="the mart")
    cases: dict[str, list[dict]] = {}
    for case in manifest.get("awkward", []):
        cases.setdefault(case["kind"], []).append(case)

    def one(sql: str, *args: object) -> tuple | None:
        with conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchone()

    def check(kind: str, ok: bool, message: str) -> None:
        result.checked[kind] = result.checked.get(kind, 0) + 1
        if not ok:
            result.mismatches.append(f"{kind}: {message}")

    def record_id(table: str, key: str, rel: str, line: int) -> str | None:
        source, name = rel.split("/", 1)
        row = one(
            f"select r.{key} from raw.{table} r join audit.file_ledger l on l.file_id = r._file_id"
            " where l.source = %s and l.file_name = %s and l.status = 'loaded' and r._line = %s",
            source,
            name,
            line,
        )
        return row[0] if row else None

    for case in cases.get("shared_web_visitor", []):
        row = one(
            "select resolution, direct_customers from intermediate.int_identities_resolved"
            " where identifier = %s",
            "web_visitor:" + case["visitor_id"],
        )
        check(
            "shared web visitors",
            row == ("conflict", len(case["customers"])),
            f"visitor {case['visitor_id']} should link nobody (a conflict of "
            f"{len(case['customers'])} customers), found {row}",
        )
        shown = one(
            "select customers from marts.identity_conflicts where identifier_type = 'web_visitor'"
            " and identifier_shown = %s",
            case["visitor_id"],
        )
        check(
            "shared web visitors",
            shown == (len(case["customers"]),),
            f"visitor {case['visitor_id']} is not reported in marts.identity_conflicts",
        )

    for case in cases.get("shared_store_account", []):
        row = one(
            "select resolution from intermediate.int_identities_resolved where identifier = %s",
            f"store_account:{case['platform']}/{case['account']}",
        )
        check(
            "shared store accounts",
            row == ("conflict",),
            f"{case['platform']} account {case['account']} should link nobody, found {row}",
        )

    for case in cases.get("app_uid_without_msisdn", []):
        event_id = record_id("app_events", "event_id", case["file"], case["line"])
        row = one(
            "select customer_id, identified_by from marts.fct_interactions"
            " where interaction_key = %s",
            f"app:{event_id}",
        )
        check(
            "app uids bound later",
            row == (case["customer"], "app_uid"),
            f"{case['file']} event {case['line']} (uid {case['uid']}, bound in "
            f"{case['bound_in']}) should belong to {case['customer']} by its uid, found {row}",
        )

    for case in cases.get("duplicate_web_event", []):
        for lines in case["lines"]:
            event_id = record_id("web_events", "event_id", case["file"], lines[0])
            row = one(
                "select count(*) from marts.fct_interactions where interaction_key = %s",
                f"web:{event_id}",
            )
            check(
                "duplicate web events",
                row == (1,),
                f"event {event_id} ({case['file']} lines {lines}) should be one record, "
                f"found {row}",
            )

    latest: dict[tuple[str, str], dict] = {}
    for case in cases.get("store_status_change", []):
        key = (case["platform"], case["order_no"])
        if key not in latest or case["file"] > latest[key]["file"]:
            latest[key] = case
    for (platform, order_no), case in latest.items():
        row = one(
            "select status from marts.fct_store_orders where order_key = %s",
            f"{platform}:{order_no}",
        )
        check(
            "store status changes",
            row == (case["status_after"],),
            f"{platform} order {order_no} should hold its latest status "
            f"{case['status_after']} ({case['file']}), found {row}",
        )

    for case in cases.get("crm_region_move", []):
        row = one(
            "select bool_or(b.region_code = %s) from marts.dim_customer_history a"
            " join marts.dim_customer_history b on b.customer_id = a.customer_id"
            " and b.version_no = a.version_no + 1"
            " where a.customer_id = %s and a.region_code = %s",
            case["to"],
            case["customer"],
            case["from"],
        )
        check(
            "region moves in history",
            row == (True,),
            f"{case['customer']} should have a version in {case['from']} followed by one in "
            f"{case['to']}",
        )

    quarantined = {(c["file"], c["line"]) for c in cases.get("bad_row", [])}
    for case in cases.get("late_records", []):
        table, key = {
            "hotline": ("hotline_cdr", "call_id"),
            "web": ("web_events", "event_id"),
            "sms": ("sms_hall", "msg_id"),
            "app": ("app_events", "event_id"),
            "halls": ("hall_txn", "txn_id"),
        }.get(case["source"], (None, None))
        if table is None:
            continue
        for line in case["lines"]:
            if (case["file"], line) in quarantined:
                continue  # a late record that also breaks a row rule is in the quarantine
            rid = record_id(table, key, case["file"], line)
            row = one(
                "select occurred_date::text from marts.fct_interactions where interaction_key = %s",
                f"{case['source']}:{rid}",
            )
            check(
                "late records",
                row is not None and row[0] in case["dates"],
                f"{case['file']} line {line} should count on {case['dates']}, found {row}",
            )

    for case in cases.get("masked_store_phone", []):
        name = case["file"].split("/", 1)[1]
        row = one(
            "select o.identified_by from marts.fct_store_orders o"
            " join raw.store_orders r on r.platform || ':' || r.order_no = o.order_key"
            " join audit.file_ledger l on l.file_id = r._file_id"
            " where l.file_name = %s and l.status = 'loaded' and r._line = %s",
            name,
            case["line"],
        )
        check(
            "masked store phones",
            row is None or row[0] != "msisdn",
            f"{case['file']} line {case['line']}: a masked phone identified the order",
        )

    for case in cases.get("o2o_pickup", []):
        row = one(
            "select pickup_hall_code, has_pickup_hall from marts.fct_store_orders"
            " where order_key = %s",
            f"{case['platform']}:{case['ref_order_no']}",
        )
        check(
            "O2O pickups",
            row == (case["hall_code"], True),
            f"{case['platform']} order {case['ref_order_no']} should be picked up at "
            f"{case['hall_code']}, found {row}",
        )
    return result
