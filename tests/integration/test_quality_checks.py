"""The expectation suites run by GE's SQL engine on per-file tables in a real PostgreSQL.

Each test builds per-file tables shaped as the loader builds them (the source's raw columns as
text, ``extra`` as jsonb, then ``_file_id``, ``_line``, ``_loaded_at``) in a schema of its own and
checks the exact outcome of the suite.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import psycopg2
import pytest
from psycopg2.sql import SQL, Identifier

from channel_dw.quality.checks import CheckResult, run_checks
from channel_dw.sources import SOURCE_NAMES, get_source

pytestmark = pytest.mark.integration


class FileTables:
    """Creates per-file tables in a throw-away schema of the test database."""

    def __init__(self, conn, schema: str):
        self.conn = conn
        self.schema = schema

    def create(self, source: str, rows: list[dict], *, file_id: int = 1, drop=()) -> str:
        spec = get_source(source)
        columns = [c for c in spec.columns if c not in drop]
        ddl = [
            SQL("{} {}").format(Identifier(c), SQL("jsonb" if c in spec.json_columns else "text"))
            for c in columns
        ]
        ddl += [
            SQL("_file_id bigint not null"),
            SQL("_line integer not null"),
            SQL("_loaded_at timestamptz not null default now()"),
        ]
        table = Identifier(self.schema, f"{spec.raw_table}__f{file_id}")
        with self.conn.cursor() as cur:
            cur.execute(SQL("create table {} ({})").format(table, SQL(", ").join(ddl)))
            for line, row in enumerate(rows, start=1):
                unknown = set(row) - set(spec.columns)
                assert not unknown, f"not a {source} column: {unknown}"
                cur.execute(
                    SQL("insert into {} ({}, _file_id, _line) values ({}, %s, %s)").format(
                        table,
                        SQL(", ").join(map(Identifier, columns)),
                        SQL(", ").join(SQL("%s") for _ in columns),
                    ),
                    [*(row.get(c) for c in columns), file_id, line],
                )
        return f"{self.schema}.{spec.raw_table}__f{file_id}"


@pytest.fixture
def tables(warehouse_url: str) -> Iterator[FileTables]:
    schema = f"qc_{uuid.uuid4().hex[:10]}"
    conn = psycopg2.connect(warehouse_url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(SQL("create schema {}").format(Identifier(schema)))
        yield FileTables(conn, schema)
    finally:
        with conn.cursor() as cur:
            cur.execute(SQL("drop schema {} cascade").format(Identifier(schema)))
        conn.close()


def failures(results: list[CheckResult]) -> list[tuple[str, str | None, str, str]]:
    return [(r.expectation, r.column, r.severity, r.observed) for r in results if not r.success]


# --- good files, one per source: every expectation holds -------------------------------------

HOTLINE = [
    {
        "call_id": "C0001",
        "caller_number": "13812345678",
        "verified_number": "13812345678",
        "call_start": "2026-10-01 08:00:00",
        "ivr_end": "2026-10-01 08:01:10",
        "answer_time": "2026-10-01 08:01:40",
        "hangup_time": "2026-10-01 08:06:00",
        "service_type": "人工",
        "agent_id": "A1024",
        "biz_code": "2001",
        "biz_result": "成功",
        "satisfaction": "5",
        "is_complaint": "否",
        "region_code": "TY",
    },
    {
        "call_id": "C0002",
        "caller_number": "0351-7654321",
        "call_start": "2026-10-01 09:00:00",
        "ivr_end": "2026-10-01 09:02:00",
        "hangup_time": "2026-10-01 09:02:00",
        "service_type": "IVR自助",
        "biz_code": "1001",
        "biz_result": "成功",
        "is_complaint": "否",
    },
    {
        "call_id": "C0003",
        "caller_number": "+86 139-0000-1111",
        "call_start": "2026-10-01 10:00:00",
        "ivr_end": "2026-10-01 10:00:50",
        "hangup_time": "2026-10-01 10:03:00",
        "service_type": "放弃",
        "is_complaint": "是",
        "region_code": "DT",
    },
]

SMS = [
    {
        "msg_id": "S0001",
        "msisdn": "13812345678",
        "recv_time": "20261001081502",
        "command": "CXHF",
        "reply_code": "0",
        "region_code": "TY",
    },
    {
        "msg_id": "S0002",
        "msisdn": "+86 139-0000-1111",
        "recv_time": "20261001091000",
        "command": "JF",
        "reply_code": "0",
        "amount_fen": "5000",
        "region_code": "DT",
    },
    {
        "msg_id": "S0003",
        "msisdn": "13700001111",
        "recv_time": "20261001120000",
        "command": "MYD4",
        "reply_code": "0",
    },
]

GOOD = {
    "web": [
        {
            "event_id": "e1",
            "ts": "2026-10-01T08:15:02.123+08:00",
            "session_id": "s1",
            "visitor_id": "v1",
            "event": "page_view",
            "page": "/",
        },
        {
            "event_id": "e2",
            "ts": "2026-10-01T08:16:00+08:00",
            "session_id": "s1",
            "visitor_id": "v1",
            "member_id": "M00012345",
            "msisdn": "13812345678",
            "event": "biz_submit",
            "biz_code": "WEB_PAY",
            "order_id": "o1",
            "amount": "50.00",
            "page": "/pay",
            "extra": json.dumps({"ab": "x"}),
        },
        {
            "event_id": "e3",
            "ts": "2026-10-01T08:16:05+08:00",
            "session_id": "s1",
            "visitor_id": "v1",
            "member_id": "M00012345",
            "msisdn": "13812345678",
            "event": "biz_result",
            "biz_code": "WEB_PAY",
            "order_id": "o1",
            "amount": "50.00",
            "result": "success",
            "page": "/pay/done",
        },
    ],
    "app": [
        {
            "event_id": "a-01",
            "time_ms": "1759277702123",
            "uid": "U0001",
            "msisdn": "+86 138-1234-5678",
            "os": "android",
            "app_version": "9.2.1",
            "event_type": "biz",
            "biz_code": "PAY01",
            "amount_fen": "5000",
            "biz_status": "1",
            "export_date": "2026-10-01",
        },
        {
            "event_id": "a-02",
            "time_ms": "1759277800000",
            "uid": "U0001",
            "os": "ios",
            "app_version": "9.2.0",
            "event_type": "rate",
            "rating_score": "4",
            "export_date": "2026-10-01",
        },
    ],
    "hotline": HOTLINE,
    "sms": SMS,
    "stores": [
        {
            "platform": "jd",
            "order_no": "JD1001",
            "buyer_account": "jd_user_1",
            "phone": "138****5678",
            "created_time": "2026-10-01 08:00:00",
            "paid_time": "2026-10-01 08:01:00",
            "item": "5G 畅享套餐手机",
            "sku": "DEV-P60",
            "quantity": "1",
            "amount_yuan": "1999.00",
            "status": "等待收货",
        },
        {
            "platform": "jd",
            "order_no": "JD1002",
            "buyer_account": "jd_user_2",
            "phone": "13812345678",
            "created_time": "2026-10-01 09:00:00",
            "paid_time": "2026-10-01 09:00:30",
            "item": "新号卡",
            "sku": "SIM-01",
            "quantity": "1",
            "amount_yuan": "¥50.00",
            "status": "已完成",
            "member_id": "M00012345",
            "pickup_hall": "TY-0012",
        },
    ],
    "halls": [
        {
            "txn_id": "H0001",
            "hall_code": "TY-0012",
            "region_code": "TY",
            "msisdn": "13812345678",
            "txn_time": "2026-10-01 10:00:00",
            "biz_code": "B_PICKUP",
            "result": "OK",
            "staff_id": "S01",
            "ref_order_no": "JD1002",
        },
        {
            "txn_id": "H0002",
            "hall_code": "DT-0003",
            "region_code": "DT",
            "txn_time": "2026-10-01 11:00:00",
            "biz_code": "B_QRY",
            "result": "OK",
        },
    ],
    "crm": [
        {
            "customer_id": "C000001",
            "msisdn": "13812345678",
            "member_id": "M00012345",
            "email": "Li.Lei@example.com",
            "region_code": "TY",
            "value_tier": "GOLD",
            "status": "ACTIVE",
            "open_date": "2019-05-01",
            "updated_at": "2026-10-01 08:00:00",
        },
        {
            "customer_id": "C000002",
            "msisdn": "13900001111",
            "region_code": "DT",
            "value_tier": "STANDARD",
            "status": "SUSPENDED",
            "open_date": "2021-01-15",
            "updated_at": "2026-10-01 09:30:00",
        },
    ],
}


@pytest.mark.parametrize("source", SOURCE_NAMES)
def test_a_good_file_meets_every_expectation(tables, warehouse_url, source):
    results = run_checks(warehouse_url, source, tables.create(source, GOOD[source]))
    assert failures(results) == []
    assert len(results) >= 10
    assert {r.severity for r in results} == {"critical", "warning"}


@pytest.mark.parametrize("source", SOURCE_NAMES)
def test_an_empty_file_gives_the_row_count_warning_only(tables, warehouse_url, source):
    results = run_checks(warehouse_url, source, tables.create(source, []))
    assert failures(results) == [
        ("expect_table_row_count_to_be_between", None, "warning", "0 rows"),
    ]


# --- bad files: exact outcomes ---------------------------------------------------------------


def test_a_null_call_id_fails_the_critical_not_null_check(tables, warehouse_url):
    rows = [dict(r) for r in HOTLINE]
    rows[1]["call_id"] = None
    results = run_checks(warehouse_url, "hotline", tables.create("hotline", rows))

    assert failures(results) == [
        ("expect_column_values_to_not_be_null", "call_id", "critical", "1 of 3 rows"),
    ]
    (failed,) = [r for r in results if not r.success]
    assert failed.details["unexpected_count"] == 1
    assert failed.details["element_count"] == 3
    assert failed.details["unexpected_lines"] == [2]
    assert failed.details["kwargs"] == {"column": "call_id"}


def test_a_duplicate_msg_id_fails_the_critical_unique_check(tables, warehouse_url):
    rows = [dict(r) for r in SMS]
    rows[2]["msg_id"] = "S0001"
    results = run_checks(warehouse_url, "sms", tables.create("sms", rows))

    assert failures(results) == [
        ("expect_column_values_to_be_unique", "msg_id", "critical", "2 of 3 rows, e.g. 'S0001'"),
    ]
    (failed,) = [r for r in results if not r.success]
    assert sorted(failed.details["unexpected_lines"]) == [1, 3]


def test_repeated_web_event_ids_are_loaded(tables, warehouse_url):
    """The collector retries: one repeat in three events is only a warning on the repeat rate."""
    rows = [dict(r) for r in GOOD["web"]]
    rows[2]["event_id"] = "e2"
    results = run_checks(warehouse_url, "web", tables.create("web", rows))

    assert failures(results) == [
        (
            "expect_column_proportion_of_unique_values_to_be_between",
            "event_id",
            "warning",
            "66.7% distinct",
        ),
    ]


def test_warnings_name_the_rows_and_the_file_still_passes(tables, warehouse_url):
    rows = [dict(r) for r in HOTLINE]
    rows[0]["satisfaction"] = "9"  # a survey out of range
    rows[1]["agent_id"] = "A7"  # an agent on a self-service call
    rows[2]["hangup_time"] = "2026-10-01 09:59:59"  # hangs up before the call starts
    results = run_checks(warehouse_url, "hotline", tables.create("hotline", rows))

    assert failures(results) == [
        ("expect_column_values_to_be_in_set", "satisfaction", "warning", "1 of 3 rows, e.g. '9'"),
        (
            "expect_column_values_to_be_null",
            "agent_id",
            "warning",
            "1 of 2 rows where service_type != 人工, e.g. 'A7'",
        ),
        (
            "expect_column_pair_values_a_to_be_greater_than_b",
            "hangup_time,call_start",
            "warning",
            "1 of 3 rows, e.g. ('2026-10-01 09:59:59', '2026-10-01 10:00:00')",
        ),
    ]
    lines = {r.column: r.details["unexpected_lines"] for r in results if not r.success}
    assert lines == {"satisfaction": [1], "agent_id": [2], "hangup_time,call_start": [3]}


def test_an_unknown_code_is_critical(tables, warehouse_url):
    rows = [dict(r) for r in GOOD["stores"]]
    rows[0]["status"] = "交易成功"  # a taobao status in a jd file
    results = run_checks(warehouse_url, "stores", tables.create("stores", rows))

    assert failures(results) == [
        (
            "expect_column_pair_values_to_be_in_set",
            "platform,status",
            "critical",
            "1 of 2 rows, e.g. ('jd', '交易成功')",
        ),
    ]


def test_a_missing_column_fails_the_critical_columns_check(tables, warehouse_url):
    table = tables.create("hotline", HOTLINE, drop=("satisfaction",))
    results = run_checks(warehouse_url, "hotline", table)

    failed = failures(results)
    assert failed[0] == (
        "expect_table_columns_to_match_set",
        None,
        "critical",
        "missing columns: satisfaction",
    )
    assert [(e, c, s) for e, c, s, _ in failed[1:]] == [
        ("expect_column_values_to_be_in_set", "satisfaction", "warning"),
    ]
    assert failed[1][3].startswith("could not evaluate: ")


# --- how the loader calls it -----------------------------------------------------------------


def test_the_quoted_name_the_loader_passes_is_accepted(tables, warehouse_url):
    tables.create("sms", SMS, file_id=7)
    quoted = f'"{tables.schema}"."sms_hall__f7"'
    assert failures(run_checks(warehouse_url, "sms", quoted)) == []


def test_results_come_in_the_suite_order_and_are_json_ready(tables, warehouse_url):
    from channel_dw.quality.checks import load_suite

    results = run_checks(warehouse_url, "hotline", tables.create("hotline", HOTLINE))
    suite = load_suite("hotline")
    assert [r.expectation for r in results] == [e.expectation_type for e in suite.expectations]
    json.dumps([r.details for r in results])  # what the loader stores in a jsonb column


def test_checks_leave_no_lock_and_no_open_transaction(tables, warehouse_url):
    """The loader attaches or drops the table right after the checks, on its own connection."""
    table = tables.create("hotline", HOTLINE)
    run_checks(warehouse_url, "hotline", table)
    with tables.conn.cursor() as cur:
        cur.execute(
            "select count(*) from pg_stat_activity"
            " where application_name = 'channel-dw checks' and state <> 'idle'"
        )
        assert cur.fetchone()[0] == 0
        cur.execute("set lock_timeout = '2s'")
        cur.execute(f"drop table {table}")


def test_a_missing_table_is_an_error_not_a_rejection(tables, warehouse_url):
    with pytest.raises(LookupError, match="does not exist"):
        run_checks(warehouse_url, "sms", f"{tables.schema}.sms_hall__f404")


def test_many_files_reuse_one_context(tables, warehouse_url):
    from channel_dw.quality import checks

    run_checks(warehouse_url, "sms", tables.create("sms", SMS, file_id=1))
    state = checks._get_state()
    datasources_before = dict(state.datasources)  # other tests may have used other databases
    for file_id in range(2, 6):
        run_checks(warehouse_url, "sms", tables.create("sms", SMS, file_id=file_id))
    assert checks._get_state() is state
    assert state.datasources == datasources_before
    assert all(ds.assets == [] for ds in state.datasources.values())  # each call removes its asset
