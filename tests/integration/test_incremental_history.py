"""A mart built one day at a time for many days equals a full refresh of the same data.

The channels' staging tables, the identity graph and the facts are incremental (docs/mart.md,
"Incremental staging", "Incremental identity graph" and "Incremental facts"): each daily run reads
only the files it has not seen, the links added since, the look-back and
the records that new links or CRM versions move; the KPI tables rebuild only the months whose
records changed ("Incremental KPI tables"). After days of such runs across a month end, with
corrected re-deliveries and late files that change the past on the way, every staging table, fact
and KPI table must hold exactly what a full refresh builds from the same raw data, and the month
nothing touched must not have been rebuilt. The late links must have moved records far older than
the look-back window, and the full refresh must agree. Last, the daily tests of the facts must
check only the rows the latest run wrote.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
from datetime import date, timedelta

import psycopg2
import pytest

from channel_dw.config import settings
from channel_dw.generate import generate_landing
from channel_dw.ingest.runner import ingest
from tests.integration.test_mart import (
    CLI,
    dbt,
    deliver_redeliveries,
    plant_late_links,
    use_database,
)

pytestmark = [pytest.mark.integration, pytest.mark.minutes(6)]

FIRST_DAY = date(2026, 9, 29)  # across September's end: the KPI tables hold two months
# three days in the first build, then one incremental run a day to 5 October (four runs)
DAYS = 7
REDELIVERED_ON = 5  # the day (offset) the corrected and late re-deliveries arrive
COMPARED = (
    ("intermediate", "int_identity_edges", "node_a, node_b, link_source"),
    ("intermediate", "int_identity_components", "node"),
    ("intermediate", "int_identities_resolved", "identifier"),
    ("staging", "stg_web__events", "event_id"),
    ("staging", "stg_app__events", "event_id"),
    ("staging", "stg_hotline__calls", "call_id"),
    ("staging", "stg_sms__messages", "msg_id"),
    ("staging", "stg_halls__transactions", "txn_id"),
    ("marts", "fct_interactions", "interaction_key"),
    ("marts", "fct_hotline_calls", "call_id"),
    ("marts", "fct_store_orders", "order_key"),
    ("marts", "fct_survey_scores", "survey_key"),
    ("intermediate", "int_customer_channel_months", "customer_id, month, channel"),
    ("marts", "identity_coverage", "occurred_month, channel"),
    ("marts", "kpi_monthly", "month, region_code, kpi_code, channel"),
    ("marts", "customer_channel_preference", "month, customer_id, channel"),
    ("marts", "channel_guidance_list", "month, region_code, priority_in_region"),
)
# every dbt command of the test passes the same variables: a change of them makes dbt parse the
# whole project again (15-20 s of CPU). No margin for files loaded during a run: here "during" is
# seconds ago, all of them.
VARS = ("--vars", '{"kpi_rebuild_margin": "0 seconds"}')
MONTH_INCREMENTAL = ("kpi_monthly",)
CUSTOMER_INCREMENTAL = ("customer_channel_preference", "channel_guidance_unranked")


def dbt_that_may_fail(*args: str) -> subprocess.CompletedProcess:
    """``channel-dw dbt`` with its output and exit code, for the commands meant to fail."""
    return subprocess.run([CLI, "dbt", *args], capture_output=True, text=True, check=False)


def blank_a_raw_event_id(cur, files: str = "true", params: tuple = ()) -> tuple:
    """Sets one `raw.web_events` row's event_id (of a file `files` picks) to null; returns its
    file id, line and event id as they were."""
    cur.execute(
        "update raw.web_events as w set event_id = null from (select _file_id, _line, event_id"
        f" from raw.web_events where {files} limit 1) as was"
        " where (w._file_id, w._line) = (was._file_id, was._line)"
        " returning was._file_id, was._line, was.event_id",
        params,
    )
    return cur.fetchone()


def built_at(url: str) -> dict[tuple[str, date], object]:
    """When each month of each incremental KPI table was last built."""
    built = {}
    with contextlib.closing(psycopg2.connect(url)) as conn, conn.cursor() as cur:
        for table in MONTH_INCREMENTAL + CUSTOMER_INCREMENTAL:
            cur.execute(f"select month, max(dbt_updated_at) from marts.{table} group by month")
            built.update({(table, month): at for month, at in cur.fetchall()})
    return built


def rows_rebuilt(url: str, table: str, month: date, since) -> tuple[int, int]:
    """How many rows of a month a run after ``since`` rewrote, of how many."""
    with contextlib.closing(psycopg2.connect(url)) as conn, conn.cursor() as cur:
        cur.execute(
            f"select count(*) filter (where dbt_updated_at > %s), count(*)"
            f" from marts.{table} where month = %s",
            (since, month),
        )
        return cur.fetchone()


def plant_component_merge(s, planted_uid: str) -> list[str]:
    """Deliver a late app event that links an app uid to a phone of another identity component,
    both components with more nodes than the link's two ends. Returns the nodes of both."""
    with contextlib.closing(psycopg2.connect(s.database_url)) as conn, conn.cursor() as cur:
        cur.execute(
            "select node, component from intermediate.int_identity_components"
            " where identifier_type = 'app_uid' and component_size >= 2 and node <> %s"
            " order by node limit 1",
            ("app_uid:" + planted_uid,),
        )
        uid_node, uid_component = cur.fetchone()
        cur.execute(
            "select node, component from intermediate.int_identity_components"
            " where identifier_type = 'msisdn' and component_size >= 2 and component <> %s"
            " order by node limit 1",
            (uid_component,),
        )
        phone_node, phone_component = cur.fetchone()
        cur.execute(
            "select node from intermediate.int_identity_components where component in (%s, %s)",
            (uid_component, phone_component),
        )
        nodes = [node for (node,) in cur.fetchall()]
    (s.landing / "app" / "app_events_20261012.json").write_text(
        json.dumps(
            {
                "export_date": "2026-10-12",
                "app": "hall-app",
                "count": 1,
                "events": [
                    {
                        "id": "a-planted-merge",
                        "time_ms": 1791763200000,
                        "user": {
                            "uid": uid_node.removeprefix("app_uid:"),
                            "msisdn": phone_node.removeprefix("msisdn:"),
                        },
                        "device": {"os": "android", "app_version": "9.2.0"},
                        "type": "view",
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    return nodes


def latest_rows(url: str, schema: str, table: str) -> tuple[int, int]:
    """How many rows of a table the latest run wrote, of how many."""
    with contextlib.closing(psycopg2.connect(url)) as conn, conn.cursor() as cur:
        cur.execute(
            f"select count(*) filter (where dbt_updated_at = (select max(dbt_updated_at)"
            f" from {schema}.{table})), count(*) from {schema}.{table}"
        )
        return cur.fetchone()


def owners(url: str, where: str = "true", params: tuple = ()) -> dict[str, tuple]:
    """The facts' interaction key -> (customer, region, date), of the rows ``where`` picks."""
    with contextlib.closing(psycopg2.connect(url)) as conn, conn.cursor() as cur:
        cur.execute(
            "select interaction_key, customer_id, region_code, occurred_date"
            f" from marts.fct_interactions where {where}",
            params,
        )
        return {key: rest for key, *rest in cur.fetchall()}


def nonzero_sums(url: str) -> list[tuple]:
    """The KPI sums that are not 0 (int_kpi_month_totals), in key order."""
    with contextlib.closing(psycopg2.connect(url)) as conn, conn.cursor() as cur:
        cur.execute(
            "select month, region_code, channel, measure, amount"
            " from intermediate.int_kpi_month_totals where amount <> 0 order by 1, 2, 3, 4"
        )
        return cur.fetchall()


STAGED = (
    "stg_web__events",
    "stg_app__events",
    "stg_hotline__calls",
    "stg_sms__messages",
    "stg_halls__transactions",
)


def staging_state(url: str) -> dict[str, tuple]:
    """Per incremental staging table: the planner's row count (from its last ANALYZE), its
    newest dbt_updated_at, and how many ANALYZE commands it has had."""
    with contextlib.closing(psycopg2.connect(url)) as conn, conn.cursor() as cur:
        state = {}
        for table in STAGED:
            cur.execute(
                "select c.reltuples, s.analyze_count from pg_class as c"
                " inner join pg_stat_user_tables as s on s.relid = c.oid"
                " where s.schemaname = 'staging' and s.relname = %s",
                (table,),
            )
            estimate, analyzed = cur.fetchone()
            cur.execute(f"select max(dbt_updated_at) from staging.{table}")
            state[table] = (estimate, cur.fetchone()[0], analyzed)
        return state


def analyze_outcomes(url: str, before: dict[str, tuple]) -> list[tuple[str, int, bool, bool]]:
    """For each staging table after a daily run: (table, rows the run wrote, whether the rule of
    macros/analyze_when_grown.sql asks for an ANALYZE, whether the table had one). PostgreSQL
    counts an ANALYZE when it runs, not when its session ends."""
    outcomes = []
    with contextlib.closing(psycopg2.connect(url)) as conn, conn.cursor() as cur:
        for table, (estimate, newest, analyzed) in before.items():
            cur.execute(
                f"select count(*) from staging.{table} where dbt_updated_at > %s", (newest,)
            )
            written = cur.fetchone()[0]
            cur.execute(
                "select analyze_count from pg_stat_user_tables"
                " where schemaname = 'staging' and relname = %s",
                (table,),
            )
            rule = estimate < 0 or written > 50 + 0.1 * estimate
            outcomes.append((table, written, rule, cur.fetchone()[0] > analyzed))
    return outcomes


def dump(url: str, schema: str, table: str, order_by: str) -> list[tuple]:
    """Every row of a table but the times dbt wrote it (`dbt_updated_at`; `added_at`, when the
    identity graph first held a link), in key order."""
    with contextlib.closing(psycopg2.connect(url)) as conn, conn.cursor() as cur:
        cur.execute(
            "select string_agg(quote_ident(column_name), ', ' order by ordinal_position)"
            " from information_schema.columns where table_schema = %s"
            " and table_name = %s and column_name not in ('dbt_updated_at', 'added_at')",
            (schema, table),
        )
        columns = cur.fetchone()[0]
        cur.execute(f"select {columns} from {schema}.{table} order by {order_by}")
        return cur.fetchall()


def test_daily_incremental_runs_over_many_days_equal_a_full_refresh(
    make_database, tmp_path, monkeypatch
):
    use_database(monkeypatch, make_database(), tmp_path)
    s = settings()
    last_day = FIRST_DAY + timedelta(days=DAYS - 1)
    generate_landing(s.landing, FIRST_DAY, last_day, customers=200, seed=23)
    # the last day's web file arrives after everything else (the daily tests' check at the end)
    late_web = s.landing / "web" / f"web_events_{last_day:%Y%m%d}.jsonl"
    late_web.rename(tmp_path / late_web.name)
    assert ingest(s=s, end=FIRST_DAY + timedelta(days=2), run_checks=False).ok
    dbt("build", *VARS)
    # the first build's KPI sums read the facts' change logs to the end, the marker of the facts'
    # full build included: the next day's sums are taken by difference, not summed again
    with contextlib.closing(psycopg2.connect(s.database_url)) as conn, conn.cursor() as cur:
        for log in ("fct_interactions_changes", "fct_hotline_calls_changes"):
            cur.execute(f"select count(*) from intermediate.{log}")
            assert cur.fetchone() == (0,), log
    analyze_seen = []
    for offset in range(3, DAYS):
        day = FIRST_DAY + timedelta(days=offset)
        assert ingest(s=s, start=day, end=day, run_checks=False).ok
        if offset == REDELIVERED_ON:
            # corrected and late re-deliveries of earlier days replace what was staged
            deliver_redeliveries(s.landing)
            assert ingest(s=s, end=day, run_checks=False).ok
        before = built_at(s.database_url)
        staged_before = staging_state(s.database_url)
        out = dbt("run", *VARS)
        assert "incremental model staging.stg_web__events" in out
        assert "incremental model marts.fct_interactions" in out
        analyze_seen += analyze_outcomes(s.database_url, staged_before)
    # a staging table is analyzed after a run when the run wrote more of it than autovacuum
    # lets change before it analyzes the table itself, and only then; the days had both
    assert [o for o in analyze_seen if o[2] != o[3]] == [], analyze_seen
    assert {o[2] for o in analyze_seen} == {True, False}, analyze_seen
    # the last day (5 October, its look-back from 2 October) touched October only
    after = built_at(s.database_url)
    september, october = date(2026, 9, 1), date(2026, 10, 1)
    for table in MONTH_INCREMENTAL:
        assert after[table, september] == before[table, september], f"{table}: September rebuilt"
        assert after[table, october] > before[table, october], f"{table}: October not rebuilt"
    # the preference score and the guidance list are rebuilt by customer: in September only the
    # rows of the few customers with a CRM version or a new link that day
    # (macros/kpi_customers.sql)
    for table in CUSTOMER_INCREMENTAL:
        since = max(before[table, september], before[table, october])
        rebuilt, held = rows_rebuilt(s.database_url, table, september, since)
        assert held and rebuilt < held / 4, f"{table}: {rebuilt} of {held} September rows rebuilt"
        assert after[table, october] > before[table, october], f"{table}: October not rebuilt"
    # two late files that change the past: a link binding an old uid (its records of September
    # too), a CRM version as of 1 October
    first = owners(s.database_url)
    uid, uid_customer, moved_customer, old_region = plant_late_links(s)
    merged = plant_component_merge(s, uid)
    assert ingest(s=s, run_checks=False).ok
    assert "incremental model marts.fct_interactions" in dbt("build", *VARS)
    with contextlib.closing(psycopg2.connect(s.database_url)) as conn, conn.cursor() as cur:
        cur.execute("select count(*) from audit.file_ledger where status = 'superseded'")
        assert cur.fetchone()[0] > 0, "the re-deliveries replaced no file: nothing was tested"
    # the identity graph took its incremental path: the late links' components were recomputed,
    # not the whole graph (macros/incremental_identity.sql)
    for table in ("int_identity_components", "int_identities_resolved"):
        rewritten, held = latest_rows(s.database_url, "intermediate", table)
        assert 0 < rewritten < held / 4, f"{table}: {rewritten} of {held} rows rewritten"
    # the merge of two components that each held more than the link's two ends: every node of
    # both is in one component now (a walk from the new link's ends alone would miss some)
    with contextlib.closing(psycopg2.connect(s.database_url)) as conn, conn.cursor() as cur:
        cur.execute(
            "select count(distinct component), min(component_size), count(*)"
            " from intermediate.int_identity_components where node = any(%s)",
            (merged,),
        )
        assert cur.fetchone() == (1, len(merged), len(merged))
    # the incremental run moved records far older than its look-back window (the late files are
    # of 11 October): the uid's to its customer, the moved customer's to the region of the late
    # CRM version
    now = owners(s.database_url, "(app_uid = %s or customer_id = %s)", (uid, moved_customer))
    old = {k: v for k, v in now.items() if v[2] < date(2026, 10, 3)}
    by_uid = [k for k in old if first[k][0] is None and old[k][0] == uid_customer]
    by_region = [k for k in old if first[k][1] == old_region and old[k][1] != old_region]
    assert by_uid and by_region, (by_uid, by_region)

    # the KPI sums took the change log's path (docs/mart.md, "The KPI totals and the facts' change
    # log"): of September's sums, the run wrote only those the moved records changed
    with contextlib.closing(psycopg2.connect(s.database_url)) as conn, conn.cursor() as cur:
        cur.execute(
            "select count(*) filter (where dbt_updated_at = (select max(dbt_updated_at)"
            " from intermediate.int_kpi_month_totals)), count(*)"
            " from intermediate.int_kpi_month_totals where month = %s",
            (september,),
        )
        written, held = cur.fetchone()
    assert 0 < written < held / 4, f"September's KPI sums: {written} of {held} written"

    incremental = {t: dump(s.database_url, *t) for t in COMPARED}
    incremental_sums = nonzero_sums(s.database_url)
    dbt("build", "--full-refresh", *VARS)
    full = {t: dump(s.database_url, *t) for t in COMPARED}

    for table in COMPARED:
        assert incremental[table], table
        assert incremental[table] == full[table], table
    # a sum of 0 may keep its row on the incremental path; a full build writes none
    full_sums = nonzero_sums(s.database_url)
    assert incremental_sums == full_sums
    # identity_coverage is made of those sums: it counts the facts as a count of them would
    with contextlib.closing(psycopg2.connect(s.database_url)) as conn, conn.cursor() as cur:
        cur.execute(
            "select occurred_month, channel, count(*), count(*) filter (where is_identified),"
            " count(*) filter (where not is_identified),"
            " round(count(*) filter (where is_identified)::numeric / count(*), 4),"
            " count(*) filter (where identified_by = 'msisdn'),"
            " count(*) filter (where identified_by = 'member_id'),"
            " count(*) filter (where identified_by in ('app_uid', 'web_visitor', 'store_account'))"
            " from marts.fct_interactions group by 1, 2 order by 1, 2"
        )
        counted = cur.fetchall()
    coverage = full[("marts", "identity_coverage", "occurred_month, channel")]
    assert coverage == counted
    assert any(row[6] for row in coverage) and any(row[8] for row in coverage)  # msisdn, links

    # The facts refreshed in full alone: every fact row is new to the customer-incremental tables,
    # which rebuild themselves whole (not customer by customer), to the same rows.
    dbt("run", "--full-refresh", "-s", "fct_interactions", *VARS)
    out = dbt("run", "-s", "int_customer_channel_months", *CUSTOMER_INCREMENTAL, *VARS)
    for table in ("int_customer_channel_months", *CUSTOMER_INCREMENTAL):
        assert f"{table}: every fact row was written after its last build" in out, out
    counts = ("intermediate", "int_customer_channel_months", "customer_id, month, channel")
    for table in (counts, *COMPARED[-2:]):  # the counts, the preference score, the guidance list
        assert dump(s.database_url, *table) == full[table], table

    # A full build of a fact starts its change log anew, and the KPI sums are summed again from
    # every record: a sum gone wrong (planted) does not survive it (macros/change_log.sql). (The
    # facts' full build above is summed first: on its own it rebuilds the sums whole too.)
    dbt("run", "-s", "int_kpi_month_totals", *VARS)
    with contextlib.closing(psycopg2.connect(s.database_url)) as conn, conn.cursor() as cur:
        cur.execute(
            "update intermediate.int_kpi_month_totals set amount = amount + 7"
            " where measure = 'hotline_calls' and amount > 0"
        )
        assert cur.rowcount > 0
        conn.commit()
    dbt("run", "--full-refresh", "-s", "fct_hotline_calls", *VARS)
    dbt("run", "-s", "int_kpi_month_totals", "kpi_monthly", *VARS)
    assert nonzero_sums(s.database_url) == full_sums
    kpi_monthly = next(table for table in COMPARED if table[1] == "kpi_monthly")
    assert dump(s.database_url, *kpi_monthly) == full[kpi_monthly]

    # The daily tests of the facts and of the channels' staging tables read the rows the latest
    # run wrote, not a year of history every morning: a bad row an earlier run wrote passes them;
    # `test_every_row` reads it, and fails.
    with contextlib.closing(psycopg2.connect(s.database_url)) as conn, conn.cursor() as cur:
        cur.execute(
            "update marts.fct_interactions set occurred_at = null where interaction_key ="
            " (select interaction_key from marts.fct_interactions order by occurred_at limit 1)"
        )
        cur.execute(
            "update staging.stg_web__events set event_at = null where event_id ="
            " (select event_id from staging.stg_web__events order by event_at limit 1)"
        )
        # a staging table built before its rows carried their run's time gets the column and
        # its index in place (macros/incremental_staging.sql, staging_add_update_time); the view
        # that reads it is made again by the run
        cur.execute("alter table staging.stg_web__events drop column dbt_updated_at cascade")
        cur.execute(
            "update marts.fct_interactions set customer_version_key = null where interaction_key ="
            " (select interaction_key from marts.fct_interactions where is_identified"
            " order by occurred_at limit 1)"
        )
        # a raw row of a file loaded before: the raw tables' tests read the files loaded since
        old_raw_row = blank_a_raw_event_id(cur)
        conn.commit()
    (tmp_path / late_web.name).rename(late_web)
    assert ingest(s=s, run_checks=False).ok
    dbt("run", *VARS)
    with contextlib.closing(psycopg2.connect(s.database_url)) as conn, conn.cursor() as cur:
        cur.execute(
            "select count(*), count(dbt_updated_at) from staging.stg_web__events"
            " union all select count(*), 0 from pg_indexes where schemaname = 'staging'"
            " and tablename = 'stg_web__events' and indexdef like '%(dbt_updated_at)'"
        )
        (staged, with_time), (indexes, _) = cur.fetchall()
    assert 0 < with_time < staged  # the late file's rows; the rows staged before have none
    assert indexes == 1
    selected = (
        "fct_interactions,test_name:not_null stg_web__events,test_name:not_null"
        " assert_identified_records_have_a_customer_version source:web"
    )
    daily = dbt("test", "-s", *selected.split(), *VARS)
    assert "not_null_stg_web__events_event_at" in daily  # run, on the late file's rows
    done = dbt_that_may_fail("test", "-s", *selected.split(), "--vars", "{test_every_row: true}")
    assert done.returncode != 0, done.stdout[-3000:]
    assert "FAIL 1 not_null_fct_interactions_occurred_at" in done.stdout, done.stdout[-3000:]
    assert "FAIL 1 not_null_stg_web__events_event_at" in done.stdout, done.stdout[-3000:]
    assert "FAIL 1 assert_identified_records_have_a_customer_version" in done.stdout
    assert "FAIL 1 source_not_null_web_web_events_event_id" in done.stdout, done.stdout[-3000:]
    # ... and a bad row of a file loaded since the facts' run before the latest fails them daily
    with contextlib.closing(psycopg2.connect(s.database_url)) as conn, conn.cursor() as cur:
        new_raw_row = blank_a_raw_event_id(
            cur,
            "_file_id = (select file_id from audit.file_ledger"
            " where file_name = %s and status = 'loaded')",
            (late_web.name,),
        )
        conn.commit()
    done = dbt_that_may_fail("test", "-s", "source:web", *VARS)
    assert "FAIL 1 source_not_null_web_web_events_event_id" in done.stdout, done.stdout[-3000:]
    with contextlib.closing(psycopg2.connect(s.database_url)) as conn, conn.cursor() as cur:
        for file_id, line, event_id in (old_raw_row, new_raw_row):  # as they were
            cur.execute(
                "update raw.web_events set event_id = %s where (_file_id, _line) = (%s, %s)",
                (event_id, file_id, line),
            )
        conn.commit()

    # The reconciliation of the facts with `raw` and the ledger checks, in a daily run, the days
    # of the files loaded since the run before (the late web file's day): a fact row lost from
    # another day passes it by, and fails it with `test_every_row`; one lost from that day fails
    # it (dbt_project/tests/assert_facts_reconcile_with_raw_and_ledger.sql).
    reconcile = "assert_facts_reconcile_with_raw_and_ledger"

    def lose_a_fact(late: bool) -> None:
        with contextlib.closing(psycopg2.connect(s.database_url)) as conn, conn.cursor() as cur:
            cur.execute(
                "delete from marts.fct_interactions where interaction_key = (select"
                " interaction_key from marts.fct_interactions where file_id"
                f" {'=' if late else '<>'} (select file_id from audit.file_ledger"
                " where file_name = %s and status = 'loaded') order by 1 limit 1)",
                (late_web.name,),
            )
            assert cur.rowcount == 1
            conn.commit()

    lose_a_fact(late=False)
    dbt("test", "-s", reconcile, *VARS)
    done = dbt_that_may_fail("test", "-s", reconcile, "--vars", "{test_every_row: true}")
    assert f"FAIL 1 {reconcile}" in done.stdout, done.stdout[-3000:]
    lose_a_fact(late=True)
    done = dbt_that_may_fail("test", "-s", reconcile, *VARS)
    assert f"FAIL 1 {reconcile}" in done.stdout, done.stdout[-3000:]
