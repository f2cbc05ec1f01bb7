"""The dbt mart on a generated landing folder: real PostgreSQL, real loader, real dbt.

One module-wide build (two weeks for 300 customers, every planted awkward case, the re-deliveries)
serves the checks of what the mart holds and who may read it. That incremental builds equal a full
refresh, late links included, is test_incremental_history.py's (it uses ``plant_late_links``).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import io
import json
import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import psycopg2
import pytest
from psycopg2 import errors

from channel_dw.config import settings
from channel_dw.generate import generate_landing
from channel_dw.ingest.runner import ingest
from channel_dw.quality.mart_verify import verify_mart
from tests.dbt_cache import seed_dbt_manifest

pytestmark = [pytest.mark.integration, pytest.mark.minutes(4)]

CLI = str(Path(sys.executable).with_name("channel-dw"))
MART_TABLES = (
    "dim_customer",
    "dim_customer_history",
    "dim_channel",
    "dim_business_type",
    "dim_region",
    "dim_date",
    "fct_interactions",
    "fct_hotline_calls",
    "fct_store_orders",
    "fct_survey_scores",
    "identity_conflicts",
    "identity_coverage",
    "kpi_monthly",
    "kpi_monthly_wide",
    "kpi_index_weights",
    "kpi_index_scores",
    "kpi_capability_index",
)


def dbt(*args: str) -> str:
    """Run a dbt command as ``channel-dw dbt`` does (the warehouse's DDL first, then dbt with the
    project's environment), but in this process (dbtRunner): dbt's import and what it builds
    lazily cost each test worker once, not each command (~6 s of CPU). Fails with dbt's output;
    returns it. (``channel-dw dbt`` itself runs below and in test_incremental_history.)"""
    from dbt.cli.main import dbtRunner

    from channel_dw.db.connection import connect
    from channel_dw.db.schema import ensure_schema
    from channel_dw.orchestration.dbt_env import dbt_environment

    s = settings()
    with contextlib.closing(connect(s, application_name="channel-dw dbt")) as conn:
        ensure_schema(conn)
    output = io.StringIO()
    with dbt_environment(s), contextlib.redirect_stdout(output):
        result = dbtRunner().invoke(["--no-use-colors", *args])
    out = output.getvalue()
    assert result.success, f"dbt {' '.join(args)} failed ({result.exception}):\n{out[-6000:]}"
    return out


def deliver_redeliveries(landing: Path) -> None:
    for folder in sorted((landing / "_redeliveries").iterdir()):
        for path in folder.glob("*/*"):
            shutil.copyfile(path, landing / path.parent.name / path.name)


def use_database(mp: pytest.MonkeyPatch, url: str, home: Path) -> None:
    mp.setenv("DW_DATABASE_URL", url)
    mp.setenv("DW_HOME", str(home / "dw"))
    mp.setenv("DW_LANDING", str(home / "landing"))
    # dbt's build output per test database, never the checkout's dbt_project/target
    mp.setenv("DBT_TARGET_PATH", str(home / "target"))
    mp.setenv("DBT_LOG_PATH", str(home / "logs"))
    # the DAGs' parse finds the dbt manifest made once for the whole run (no `dbt parse` each)
    seed_dbt_manifest(home / "dw")


@pytest.fixture(scope="module")
def mart(make_database, tmp_path_factory):
    home = tmp_path_factory.mktemp("mart")
    with pytest.MonkeyPatch.context() as mp:
        use_database(mp, make_database(), home)
        s = settings()
        generate_landing(s.landing, date(2026, 10, 1), date(2026, 10, 14), customers=300, seed=7)
        assert ingest(s=s, run_checks=False).ok
        deliver_redeliveries(s.landing)
        assert ingest(s=s, run_checks=False).ok
        dbt("build")
        yield s


@pytest.fixture
def admin(mart):
    conn = psycopg2.connect(mart.database_url)
    conn.autocommit = True
    yield conn
    conn.close()


@pytest.fixture
def bi_user(mart, admin):
    """A login of the kind a BI tool gets: a member of bi_reader and nothing more."""
    with admin.cursor() as cur:
        cur.execute("drop role if exists bi_test_user")
        cur.execute("create role bi_test_user login in role bi_reader")
    conn = psycopg2.connect(mart.database_url.replace("postgres@", "bi_test_user@"))
    conn.autocommit = True
    yield conn
    conn.close()
    with admin.cursor() as cur:
        cur.execute("drop role bi_test_user")


def test_mart_matches_every_awkward_case_the_generator_planted(mart, admin):
    check = verify_mart(admin, mart.landing / "manifest.json")

    assert check.ok(), check.summary()
    # the cases that make identity resolution hard are really in this sample
    for kind in (
        "shared web visitors",
        "shared store accounts",
        "app uids bound later",
        "duplicate web events",
    ):
        assert check.checked.get(kind, 0) > 0, check.summary()


def test_every_record_is_in_the_interactions_fact_once(mart, admin):
    with admin.cursor() as cur:
        cur.execute(
            "select (select count(distinct event_id) from raw.web_events)"
            " + (select count(distinct event_id) from raw.app_events)"
            " + (select count(distinct call_id) from raw.hotline_cdr)"
            " + (select count(distinct msg_id) from raw.sms_hall)"
            " + (select count(distinct (platform, order_no)) from raw.store_orders)"
            " + (select count(distinct txn_id) from raw.hall_txn)"
        )
        distinct_records = cur.fetchone()[0]
        cur.execute("select count(*), count(distinct interaction_key) from marts.fct_interactions")
        rows, keys = cur.fetchone()
    assert rows == keys == distinct_records


def test_bi_reader_reads_the_marts_and_nothing_else(bi_user):
    with bi_user.cursor() as cur:
        for table in MART_TABLES:
            cur.execute(f"select count(*) from marts.{table}")
            assert cur.fetchone()[0] > 0, table
        for table in (
            "raw.crm_customers",
            "raw.web_events",
            "staging.stg_crm__customers",
            "intermediate.int_identity_edges",
            "intermediate.int_customer_history",
            "audit.file_ledger",
            "reference.channels",
        ):
            with pytest.raises(errors.InsufficientPrivilege):
                cur.execute(f"select * from {table} limit 1")


def test_bi_reader_creates_nothing_and_reaches_no_file_or_command(bi_user):
    """Issue #12: a BI login cannot create objects in any schema (public included), nor read
    the server's files or run commands through it."""
    with bi_user.cursor() as cur:
        cur.execute("select nspname from pg_namespace where nspname !~ '^pg_' order by 1")
        schemas = [row[0] for row in cur.fetchall()]
        assert {"public", "marts", "raw", "audit", "staging"} <= set(schemas), schemas
        for schema in schemas:
            if schema == "information_schema":
                continue
            with pytest.raises(errors.InsufficientPrivilege):
                cur.execute(f'create table "{schema}".bi_probe (x int)')
            with pytest.raises(errors.InsufficientPrivilege):
                cur.execute(f'create view "{schema}".bi_probe as select 1 as x')
        with pytest.raises(errors.InsufficientPrivilege):
            cur.execute("create schema bi_probe")
        for statement in (
            "select pg_read_file('PG_VERSION')",
            "select pg_ls_dir('.')",
            "select pg_read_binary_file('PG_VERSION')",
            "select lo_import('/etc/passwd')",
            "copy (select 1) to program 'true'",
            "copy pg_temp.no_such_table from program 'id'",
            "create temp table bi_probe (x int)",
        ):
            with pytest.raises(errors.InsufficientPrivilege):
                cur.execute(statement)
        # an extension that reaches other servers or files (where the server has it at all)
        with pytest.raises((errors.InsufficientPrivilege, errors.FeatureNotSupported)):
            cur.execute("create extension if not exists dblink")


def _clear_text_hits(conn, schema: str) -> dict[str, int]:
    """Text values in `schema` that hold a mobile number or an e-mail address in clear."""
    hits: dict[str, int] = {}
    with conn.cursor() as cur:
        cur.execute(
            "select table_name, column_name from information_schema.columns"
            " where table_schema = %s and data_type in ('text', 'character varying')",
            (schema,),
        )
        for table, column in cur.fetchall():
            cur.execute(
                f'select count(*) from {schema}."{table}" where "{column}" ~ %s',
                # a number standing alone (a hex digest may hold 11 digits in a row by chance)
                (r"(^|[^0-9a-zA-Z])1[3-9][0-9]{9}([^0-9a-zA-Z]|$)|[^ @]+@[^ @]+\.[a-z]+",),
            )
            n = cur.fetchone()[0]
            if n:
                hits[f"{table}.{column}"] = n
    return hits


def test_marts_hold_no_phone_number_or_email_in_clear_text(bi_user, admin):
    # the scan finds them where they are allowed (staging), so an empty result below means
    # something
    staging = _clear_text_hits(admin, "staging")
    assert staging.get("stg_crm__customers.msisdn", 0) > 0
    assert staging.get("stg_crm__customers.email", 0) > 0

    assert _clear_text_hits(bi_user, "marts") == {}


def test_phone_hash_is_an_hmac_with_the_key_kept_outside_the_database(mart, admin):
    key = mart.pii_key()
    with admin.cursor() as cur:
        cur.execute(
            "select c.customer_id, h.msisdn, c.msisdn_hash, c.msisdn_masked"
            " from marts.dim_customer c"
            " join intermediate.int_customer_history h"
            " on h.customer_id = c.customer_id and h.is_current"
            " order by c.customer_id limit 3"
        )
        rows = cur.fetchall()
    assert len(rows) == 3
    for _, msisdn, digest, masked in rows:
        assert digest == hmac.new(key.encode(), msisdn.encode(), hashlib.sha256).hexdigest()
        assert digest != hashlib.sha256(msisdn.encode()).hexdigest()
        assert masked == msisdn[:3] + "****" + msisdn[-4:]


def plant_late_links(s) -> tuple[str, str, str, str]:
    """Deliver two files that change the past: an app event binding a uid that so far had no
    phone to a customer's number, and a CRM delta, delivered late, that moved a customer to
    another region on 2026-10-01 at noon. Returns (uid, its customer, the moved customer, the
    region it left)."""
    with contextlib.closing(psycopg2.connect(s.database_url)) as conn, conn.cursor() as cur:
        cur.execute(
            "select app_uid from marts.fct_interactions where source = 'app' and not is_identified"
            " and occurred_date < '2026-10-03' order by app_uid limit 1"
        )
        (uid,) = cur.fetchone()
        cur.execute(
            "select h.customer_id, h.msisdn, h.member_id, h.email, h.region_code, h.value_tier,"
            " h.status, h.open_date from intermediate.int_customer_history h"
            " where h.version_no = 1 and h.customer_id in (select customer_id"
            "   from marts.fct_interactions where occurred_at > '2026-10-01 13:00+08'"
            "   and occurred_date < '2026-10-03' and customer_id is not null)"
            " and not exists (select 1 from intermediate.int_customer_history n"
            "   where n.customer_id = h.customer_id and n.version_no = 2"
            "   and n.updated_at < '2026-10-03')"
            " order by h.customer_id limit 1"
        )
        customer, phone, member, email, region, tier, status, opened = cur.fetchone()
        # another customer: the moved customer's records are all read again for its new CRM
        # version, which would hide a failure to follow the new link
        cur.execute(
            "select customer_id, msisdn from intermediate.int_customer_history"
            " where is_current and customer_id <> %s order by customer_id limit 1",
            (customer,),
        )
        uid_customer, msisdn = cur.fetchone()
    new_region = "LL" if region != "LL" else "TY"
    (s.landing / "app" / "app_events_20261011.json").write_text(
        json.dumps(
            {
                "export_date": "2026-10-11",
                "app": "hall-app",
                "count": 1,
                "events": [
                    {
                        "id": "a-planted-1",
                        "time_ms": 1791676800000,
                        "user": {"uid": uid, "msisdn": msisdn},
                        "device": {"os": "ios", "app_version": "9.2.0"},
                        "type": "view",
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    (s.landing / "crm" / "crm_customers_20261011.csv").write_text(
        "customer_id,msisdn,member_id,email,region_code,value_tier,status,open_date,updated_at\n"
        f"{customer},{phone},{member or ''},{email or ''},{new_region},{tier},{status},"
        f"{opened},2026-10-01 12:00:00\n",
        encoding="utf-8",
    )
    return uid, uid_customer, customer, region


def test_dbt_docs_describe_every_mart_and_its_exposure(mart):
    dbt("docs", "generate")
    target = Path(os.environ["DBT_TARGET_PATH"])
    catalog = json.loads((target / "catalog.json").read_text())
    manifest = json.loads((target / "manifest.json").read_text())

    built = {n["metadata"]["name"] for n in catalog["nodes"].values()}
    assert set(MART_TABLES) <= built
    models = {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    undocumented = [name for name, node in models.items() if not node["description"].strip()]
    assert undocumented == []
    assert "exposure.channel_dw.monthly_headquarters_report" in manifest["exposures"]


def test_ahp_weights_of_a_consistent_matrix_are_the_weights_it_was_made_from(mart):
    # a_ij = w_i / w_j for w = (0.4, 0.2, 0.2, 0.1, 0.1): its eigenvector is w, its CR 0
    out = dbt(
        "run-operation",
        "ahp_check",
        "--args",
        "{matrix: [[1, 2, 2, 4, 4], [1/2, 1, 1, 2, 2], [1/2, 1, 1, 2, 2],"
        " [1/4, 1/2, 1/2, 1, 1], [1/4, 1/2, 1/2, 1, 1]]}",
    )
    for line in ("reach: 0.4", "efficiency: 0.2", "marketing: 0.1", "consistency ratio: 0.0"):
        assert line in out


def test_ahp_refuses_an_inconsistent_matrix_and_names_its_consistency_ratio(mart):
    done = subprocess.run(
        [
            CLI,
            "dbt",
            "run-operation",
            "ahp_check",
            "--args",
            "{matrix: [[1, 9, 1/9, 1, 1], [1/9, 1, 9, 1, 1], [9, 1/9, 1, 1, 1],"
            " [1, 1, 1, 1, 1], [1, 1, 1, 1, 1]]}",
        ],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        check=False,
    )
    assert done.returncode != 0
    assert "its consistency ratio is 1.293" in done.stdout
    assert "seeds/ahp_pairwise.csv" in done.stdout


def test_capability_index_ranks_every_branch_with_the_configured_weights(mart, admin):
    with admin.cursor() as cur:
        cur.execute("select sum(weight), max(consistency_ratio) from marts.kpi_index_weights")
        total, ratio = cur.fetchone()
        cur.execute(
            "select count(*), count(distinct index_rank), min(index_rank), max(index_rank)"
            " from marts.kpi_capability_index where region_code not in ('ALL', 'UNKNOWN')"
        )
        branches, _, best, worst = cur.fetchone()
    assert abs(float(total) - 1) < 0.00001
    assert float(ratio) < 0.1
    assert branches == 11 and best == 1 and worst <= 11
