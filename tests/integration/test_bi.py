"""Superset on a real mart, started through ``channel_dw.bi.up`` with the test's own DW_HOME.

The mart is test_report's module-wide build (25 September to 5 October 2026, 200 customers), so
the latest month is October 2026 and the trend has two months. ``up`` makes Superset's virtual
env under that DW_HOME (a fresh one each run; uv's cache makes it seconds), its metadata database
on the session's PostgreSQL, the login ``superset_reader``, imports the dashboard and starts the
server on a free port. Then:

- headless Chromium logs in, opens "Channel KPIs" and waits for its four charts to be drawn
  (``superset_dashboard.png`` in ``$DW_SCREENSHOTS``, else ``build/screenshots/``); the numbers
  the browser received for each chart equal ``marts.kpi_monthly`` / ``kpi_capability_index``;
- the chart data API (``GET /api/v1/chart/<id>/data/``, the charts' saved queries) gives the same;
- SQL Lab, which runs as the warehouse login, reads ``marts``, is refused ``raw``, ``staging`` and
  ``audit`` by PostgreSQL and DML by Superset, and finds phones in ``marts`` only masked or hashed;
- ``down`` stops the server (the last test: the module's tests run in file order).
"""

from __future__ import annotations

import contextlib
import re
import socket
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import psutil
import pytest
import requests

from channel_dw import bi
from channel_dw.bi.control import SupersetState
from tests.browser import browser_page, screenshot_dir
from tests.integration.test_report import built, rows  # noqa: F401  (built: the module's mart)

pytestmark = [pytest.mark.integration, pytest.mark.minutes(5)]

OCTOBER = date(2026, 10, 1)  # the latest month of the build
SEPTEMBER = date(2026, 9, 1)
UI_TIMEOUT = 60_000  # milliseconds, for anything the browser waits for
TOLERANCE = 5e-7  # kpi_monthly.value is rounded to 6 places; the charts divide the sums
SCORES = (
    "capability_index",
    "reach_score",
    "efficiency_score",
    "experience_score",
    "marketing_score",
    "synergy_score",
)
CHARTS = {
    "by_branch": "E-channel share of transactions by branch",
    "distribution": "Channel distribution of e-channel transactions",
    "trend": "E-channel share of transactions, 13 months",
    "ranking": "Capability index ranking",
}
# an 11-digit mainland mobile number standing alone (as test_mart's scan of the marts)
MOBILE = r"(^|[^0-9a-zA-Z])1[3-9][0-9]{9}([^0-9a-zA-Z]|$)"
MASKED_OR_HASHED = r"^[0-9]{3}\*{4}[0-9]{4}$|^[0-9a-f]{64}$"


class Api:
    """Superset's REST API as the admin user: a JWT from /api/v1/security/login, and the CSRF
    token that POSTs need (SQL Lab) kept with the session's cookie."""

    def __init__(self, url: str, username: str, password: str) -> None:
        self.url = url
        self.http = requests.Session()
        self.http.trust_env = False  # the server is on the loopback: no proxy
        login = self.http.post(
            f"{url}/api/v1/security/login",
            json={"username": username, "password": password, "provider": "db"},
            timeout=30,
        )
        assert login.status_code == 200, f"login as {username}: {login.status_code} {login.text}"
        self.http.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        csrf = self.get("/api/v1/security/csrf_token/")["result"]
        self.http.headers.update({"X-CSRFToken": csrf, "Referer": url})

    def get(self, path: str) -> dict:
        response = self.http.get(self.url + path, timeout=60)
        assert response.status_code == 200, f"GET {path}: {response.status_code} {response.text}"
        return response.json()

    def sql_lab(self, database_id: int, sql: str) -> tuple[int, dict]:
        response = self.http.post(
            self.url + "/api/v1/sqllab/execute/",
            json={"database_id": database_id, "sql": sql, "schema": "marts", "runAsync": False},
            timeout=120,
        )
        return response.status_code, response.json()

    def query(self, database_id: int, sql: str) -> list[dict]:
        status, body = self.sql_lab(database_id, sql)
        assert status == 200 and body.get("status") == "success", f"{sql}\n-> {status} {body}"
        return body["data"]


@dataclass
class Superset:
    state: SupersetState
    api: Api
    charts: dict[str, int] = field(default_factory=dict)  # CHARTS key -> chart id
    database_id: int = 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def superset(built) -> Iterator[Superset]:  # noqa: F811
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DW_SUPERSET_PORT", str(_free_port()))
        started = time.monotonic()
        try:
            print(bi.up())
            print(f"superset: up after {time.monotonic() - started:.1f}s")
            state = bi.state()
            api = Api(state.url, state.admin_user, state.admin_password)
            found = api.get("/api/v1/dashboard/channel-kpis/charts")["result"]
            by_name = {chart["slice_name"]: chart["id"] for chart in found}
            databases = api.get("/api/v1/database/")["result"]
            yield Superset(
                state=state,
                api=api,
                charts={key: by_name[name] for key, name in CHARTS.items() if name in by_name},
                database_id=next(d["id"] for d in databases if d["database_name"] == "channel_dw"),
            )
        finally:
            bi.down()


# --- what the charts must show, straight from the mart -------------------------------------------


def _label(region: dict) -> str:
    return (
        "全省 Province"
        if region["region_code"] == "ALL"
        else f"{region['name_zh']} {region['name_en']}"
    )


@pytest.fixture(scope="module")
def expected(built) -> dict:  # noqa: F811
    regions = {r["region_code"]: r for r in rows(built, "select * from marts.dim_region")}
    regions["ALL"] = {"region_code": "ALL", "is_branch": False}
    kpis = rows(
        built,
        "select month, region_code, kpi_code, channel, value from marts.kpi_monthly"
        " where kpi_code in ('echannel_txn_share', 'channel_volume_share')",
    )
    share = [r for r in kpis if r["kpi_code"] == "echannel_txn_share"]
    ranking = rows(
        built,
        "select * from marts.kpi_capability_index where month = %s and region_code <> 'ALL'"
        " order by index_rank, region_code",
        (OCTOBER,),
    )
    assert {r["month"] for r in kpis} == {SEPTEMBER, OCTOBER}
    return {
        "by_branch": {
            _label(regions[r["region_code"]]): float(r["value"])
            for r in share
            if r["month"] == OCTOBER and regions[r["region_code"]]["is_branch"]
        },
        "distribution": {
            r["channel"]: float(r["value"])
            for r in kpis
            if r["kpi_code"] == "channel_volume_share"
            and r["month"] == OCTOBER
            and r["region_code"] == "ALL"
        },
        "trend": {
            (r["month"], _label(regions[r["region_code"]])): float(r["value"])
            for r in share
            if r["region_code"] != "UNKNOWN"
        },
        "ranking": [
            [r["index_rank"], _label(regions[r["region_code"]])]
            + [float(r[c]) if isinstance(r[c], Decimal) else r[c] for c in SCORES]
            for r in ranking
        ],
    }


def _close(shown: dict, wanted: dict) -> bool:
    return shown.keys() == wanted.keys() and all(
        abs(shown[k] - wanted[k]) < TOLERANCE for k in wanted
    )


def assert_charts_show_the_mart(data: dict[str, list[dict]], expected: dict) -> None:
    """``data``: each chart's rows as Superset returned them (after its post-processing)."""
    by_branch = {row["region_name"]: row["share"] for row in data["by_branch"]}
    assert by_branch and not [name for name in by_branch if "Province" in name or "unknown" in name]
    assert _close(by_branch, expected["by_branch"]), (by_branch, expected["by_branch"])
    shares = [row["share"] for row in data["by_branch"]]
    assert shares == sorted(shares, reverse=True), "the bars are not highest first"

    # the channel distribution: labelled "<CHANNEL> <中文名>"
    distribution = {row["channel_name"].split()[0]: row["share"] for row in data["distribution"]}
    assert _close(distribution, expected["distribution"]), distribution
    assert abs(sum(distribution.values()) - 1) < 1e-9

    # the trend: one row per month, one column per region
    trend = {
        (datetime.fromtimestamp(row["month"] / 1000, tz=UTC).date(), region): value
        for row in data["trend"]
        for region, value in row.items()
        if region != "month" and value is not None
    }
    assert {month for month, _ in trend} == {SEPTEMBER, OCTOBER}
    assert _close(trend, expected["trend"]), (trend, expected["trend"])

    ranking = [list(row.values()) for row in data["ranking"]]
    assert ranking == expected["ranking"]
    assert [row[0] for row in ranking] == sorted(row[0] for row in ranking)


# --- the tests ------------------------------------------------------------------------------------


def test_up_serves_superset_keeps_secrets_private_and_a_second_up_finds_it_running(
    superset, pg_server
):
    state = superset.state
    assert state.running and state.healthy, state.describe()
    assert set(superset.charts) == set(CHARTS), f"dashboard charts: {superset.charts}"
    again = bi.up()
    assert again.startswith("Superset is already running") and str(state.pid) in again, again
    assert "password: " + state.admin_password in bi.status()

    home = state.home
    secret_files = (home.secret_key, home.admin_password, home.reader_password)
    for path in (home.config, *secret_files):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, f"{path} is readable by others"
    secrets = [path.read_text().strip() for path in secret_files]
    logs = [home.log, home.setup_log, home.access_log, pg_server.home / "postgres.log"]
    for log in logs:
        text = log.read_text(errors="replace")
        assert not [s for s in secrets if s in text], f"a secret is in {log}"
    server = psutil.Process(state.pid)
    for process in (server, *server.children(recursive=True)):
        command_line = " ".join(process.cmdline())
        assert not [s for s in secrets if s in command_line], f"a secret is in {command_line}"


def test_the_warehouse_login_is_a_member_of_bi_reader_only(superset, built):  # noqa: F811
    connection = superset.api.get(f"/api/v1/database/{superset.database_id}/connection")["result"]
    assert connection["expose_in_sqllab"] is True
    assert connection["allow_dml"] is False
    uri = connection["sqlalchemy_uri"]
    assert uri.startswith("postgresql+psycopg2://superset_reader:XXXXXXXXXX@"), uri
    roles = rows(
        built,
        "select granted.rolname from pg_auth_members as m"
        " join pg_roles as granted on granted.oid = m.roleid"
        " join pg_roles as member on member.oid = m.member where member.rolname = %s",
        ("superset_reader",),
    )
    assert [r["rolname"] for r in roles] == ["bi_reader"]
    (attributes,) = rows(built, "select * from pg_roles where rolname = 'superset_reader'")
    assert attributes["rolcanlogin"] and not attributes["rolsuper"]
    assert not (attributes["rolcreatedb"] or attributes["rolcreaterole"])


def sign_in(page, state: SupersetState) -> None:
    """Sign in through Superset's login form, as a user does, and check that the session holds:
    a failure says what the server answered rather than timing out on a later page."""
    login = state.url + "/login/"
    page.goto(login)
    page.fill("#username", state.admin_user)
    page.fill("#password", state.admin_password)
    with page.expect_response(
        lambda response: response.url == login and response.request.method == "POST"
    ) as posted:
        page.click('[data-test="login-button"]')
    answer = posted.value
    went_to = answer.header_value("location") or ""
    assert answer.status == 302 and "/login" not in went_to, (
        f"the login form's POST was answered {answer.status}, to {went_to or 'nowhere'}; a "
        "sign-in that holds is answered 302 to another page than /login/"
    )
    page.wait_for_url(state.url + "/superset/welcome/")
    me = page.request.get(state.url + "/api/v1/me/")
    cookies = sorted(cookie["name"] for cookie in page.context.cookies())
    assert me.status == 200, (
        f"signed in, yet /api/v1/me/ answers {me.status}: the browser holds the cookies "
        f"{cookies}, and the login's answer set {answer.header_value('set-cookie') is not None}"
    )


def _last_requests(state: SupersetState, count: int = 40) -> str:
    """The last requests in Superset's access log, for a failure's message."""
    try:
        lines = state.home.access_log.read_text(errors="replace").splitlines()[-count:]
    except OSError as error:
        return f"Superset's access log cannot be read: {error}"
    return f"the last {len(lines)} requests Superset served:\n" + "\n".join(lines)


def test_the_dashboard_draws_its_charts_in_chromium_with_the_numbers_of_the_mart(
    superset, expected
):
    from playwright.sync_api import expect

    names = {chart_id: key for key, chart_id in superset.charts.items()}
    drawn: dict[str, list[dict]] = {}

    def keep_chart_data(response) -> None:
        if "/api/v1/chart/data" in response.url and response.request.method == "POST":
            chart_id = (response.request.post_data_json or {}).get("form_data", {}).get("slice_id")
            if chart_id in names and response.status == 200:
                drawn[names[chart_id]] = response.json()["result"][0]["data"]

    shot = screenshot_dir() / "superset_dashboard.png"
    with browser_page(width=1600, height=1300) as page:
        page.set_default_timeout(UI_TIMEOUT)
        page.on("response", keep_chart_data)
        opened: list[str] = []

        def keep_opened(frame) -> None:
            if frame == page.main_frame:
                opened.append(frame.url)

        page.on("framenavigated", keep_opened)
        try:
            sign_in(page, superset.state)
            page.goto(superset.state.dashboard_url)
            expect(page.get_by_text("Channel KPIs").first).to_be_visible()
            for key, chart_id in superset.charts.items():
                chart = page.locator(f'[data-test-chart-id="{chart_id}"]')
                drawing = chart.locator("tbody tr" if key == "ranking" else "canvas")
                expect(drawing.first).to_be_visible()
            ranked = page.locator(f'[data-test-chart-id="{superset.charts["ranking"]}"] tbody tr')
            expect(ranked).to_have_count(len(expected["ranking"]))
            page.wait_for_load_state("networkidle")
            time.sleep(1)  # the charts' entry animations
            page.screenshot(path=str(shot), full_page=True)
            print(f"screenshot: {shot}")
        except Exception as error:
            with contextlib.suppress(Exception):
                page.screenshot(path=str(screenshot_dir() / "superset-failure.png"))
            error.add_note(f"the pages the browser opened: {opened}")
            error.add_note(_last_requests(superset.state))
            raise
    assert shot.stat().st_size > 30_000, f"{shot} is only {shot.stat().st_size} bytes"
    assert set(drawn) == set(CHARTS), f"chart data the browser received: {sorted(drawn)}"
    assert_charts_show_the_mart(drawn, expected)


def test_the_chart_data_api_gives_the_numbers_of_the_mart(superset, expected):
    data = {
        key: superset.api.get(f"/api/v1/chart/{chart_id}/data/")["result"][0]["data"]
        for key, chart_id in superset.charts.items()
    }
    assert_charts_show_the_mart(data, expected)


def test_sql_lab_reads_the_marts_and_is_refused_raw_staging_audit_and_dml(superset, built):  # noqa: F811
    api, database = superset.api, superset.database_id
    (count,) = api.query(database, "select count(*) as n from marts.kpi_monthly")
    assert count["n"] == rows(built, "select count(*) as n from marts.kpi_monthly")[0]["n"] > 0

    for table in (
        "raw.crm_customers",
        "raw.web_events",
        "raw.hotline_cdr",
        "staging.stg_crm__customers",
        "audit.file_ledger",
        "audit.quarantine",
    ):
        status, body = api.sql_lab(database, f"select * from {table} limit 1")
        message = " ".join(error["message"] for error in body.get("errors", []))
        schema = table.split(".")[0]
        assert status != 200 and f"permission denied for schema {schema}" in message, (
            f"{table}: {status} {body}"
        )

    status, body = api.sql_lab(database, "delete from marts.kpi_monthly")
    assert status != 200, body
    assert body["errors"][0]["error_type"] == "DML_NOT_ALLOWED_ERROR", body
    assert rows(built, "select count(*) as n from marts.kpi_monthly")[0]["n"] == count["n"]


def test_sql_lab_finds_phones_in_the_marts_only_masked_or_hashed(superset):
    api, database = superset.api, superset.database_id
    columns = api.query(
        database,
        "select table_name, column_name from information_schema.columns"
        " where table_schema = 'marts' and data_type in ('text', 'character varying')"
        " order by table_name, ordinal_position",
    )
    text_columns: dict[str, list[str]] = {}
    for column in columns:
        text_columns.setdefault(column["table_name"], []).append(column["column_name"])
    phones = [
        (table, column)
        for table, names in text_columns.items()
        for column in names
        if re.search("phone|msisdn", column)
    ]
    assert ("dim_customer", "msisdn_masked") in phones and ("dim_customer", "msisdn_hash") in phones
    # the patterns do catch a number in clear, as SQL Lab passes them on
    (control,) = api.query(
        database,
        f"select 'call 13812345678' ~ '{MOBILE}' as caught,"
        f" '13812345678' !~ '{MASKED_OR_HASHED}' as clear, '138****5678' !~ '{MASKED_OR_HASHED}'"
        " as masked_clear",
    )
    assert control == {"caught": True, "clear": True, "masked_clear": False}

    seen = 0
    for table, column in phones:
        (found,) = api.query(
            database,
            f'select count("{column}") as n,'
            f" count(*) filter (where \"{column}\" !~ '{MASKED_OR_HASHED}') as clear"
            f' from marts."{table}"',
        )
        assert found["clear"] == 0, f"marts.{table}.{column}: {found['clear']} values in clear"
        seen += found["n"]
    assert seen > 0, "no phone value at all in the marts: the check saw nothing"

    for table, names in text_columns.items():
        row_text = "concat_ws(' ', " + ", ".join(f't."{name}"' for name in names) + ")"
        (found,) = api.query(
            database,
            f"select count(*) as n from marts.\"{table}\" as t where {row_text} ~ '{MOBILE}'",
        )
        assert found["n"] == 0, f"marts.{table}: {found['n']} rows hold a mobile number in clear"


def _inventory(api: Api) -> dict[str, list[int]]:
    """The ids of every database, dataset, chart and dashboard Superset holds."""
    return {
        kind: sorted(item["id"] for item in api.get(f"/api/v1/{kind}/?q=(page_size:100)")["result"])
        for kind in ("database", "dataset", "chart", "dashboard")
    }


def test_down_then_up_again_provisions_the_same_assets_rather_than_new_ones(superset):
    before = _inventory(superset.api)
    counts = {kind: len(ids) for kind, ids in before.items()}
    assert counts == {"database": 1, "dataset": 3, "chart": 4, "dashboard": 1}, before
    assert bi.down().startswith("Superset stopped")
    again = bi.up()
    assert again.startswith("Superset is running") and "imported" in again, again
    assert "installed" not in again and "metadata database" not in again, again  # done once
    assert _inventory(superset.api) == before


def test_down_stops_superset(superset):
    superset.state = bi.state()  # restarted by the test before
    pid, port = superset.state.pid, superset.state.port
    assert bi.down() == f"Superset stopped (pid {pid})"
    assert not psutil.pid_exists(pid)
    with socket.socket() as sock, pytest.raises(ConnectionRefusedError):
        sock.connect(("127.0.0.1", port))
    assert not bi.state().running
    assert bi.status().startswith("Superset: stopped")
    assert bi.down() == "Superset is not running"
    assert not Path(superset.state.home.pid_file).exists()
