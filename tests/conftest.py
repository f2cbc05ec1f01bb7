"""Test fixtures: a real embedded PostgreSQL for the whole session, a fresh database per test."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from channel_dw.config import EMBEDDED_USER, Settings, settings

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

# Hypothesis profiles, chosen with HYPOTHESIS_PROFILE. "fuzz" (``make fuzz``) runs the fuzz tests
# of the readers (tests/unit/test_fuzz_readers.py, tests/integration/test_fuzz_loads.py) with many
# more examples, and a fresh random seed each run; the usual run keeps them few and derandomized.
hypothesis_settings.register_profile(
    "fuzz",
    max_examples=2000,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
if os.environ.get("HYPOTHESIS_PROFILE"):
    hypothesis_settings.load_profile(os.environ["HYPOTHESIS_PROFILE"])

FIXTURES = Path(__file__).parent / "fixtures"


def pytest_collection_modifyitems(config, items) -> None:
    """The files marked ``minutes(n)`` first, the longest first; the others after, in their order.

    ``make test`` hands whole files to its two workers (``--dist loadfile``) in this order (with
    ``--no-loadscope-reorder``: xdist would otherwise start the files with the most tests first,
    and the scheduler test, one test of eight minutes, would start last and run alone)."""

    def minutes(item) -> float:
        marker = item.get_closest_marker("minutes")
        return marker.args[0] if marker else 0

    items.sort(key=lambda item: -minutes(item))  # stable: a file's tests keep their order


# Files that share a session fixture too costly to make twice: ``make test`` (--dist loadfile) gives
# each group to one worker, as if it were one file. test_bi reads test_report's mart (report_mart).
SAME_WORKER = {"tests/integration/test_bi.py": "tests/integration/test_report.py"}


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config, log):
    """--dist loadfile, with the files of :data:`SAME_WORKER` on the worker of their partner."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class GroupedFiles(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            scope = super()._split_scope(nodeid)
            return SAME_WORKER.get(scope, scope)

    return GroupedFiles(config, log)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Settings]:
    """An embedded PostgreSQL of its own (own data folder and port), stopped after the session."""
    from channel_dw.db import embedded

    home = Path(tempfile.mkdtemp(prefix="channel-dw-test-"))
    port = _free_port()
    s = Settings(
        home=home,
        landing=home / "landing",
        reports=home / "reports",
        database_url=f"postgresql://{EMBEDDED_USER}@127.0.0.1:{port}/channel_dw",
        embedded=True,
        embedded_port=port,
    )
    embedded.start(s)
    try:
        yield s
    finally:
        embedded.stop(s)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def warehouse_url(pg_server: Settings) -> str:
    """URL of the session server's (empty at start) ``channel_dw`` database."""
    return pg_server.database_url


def _admin(pg_server: Settings):
    conn = psycopg2.connect(
        host="127.0.0.1", port=pg_server.embedded_port, user=EMBEDDED_USER, dbname="postgres"
    )
    conn.autocommit = True
    return conn


@pytest.fixture(scope="session")
def make_database(pg_server: Settings) -> Iterator:
    """A factory of fresh databases on the session server, for fixtures wider than one test;
    all of them are dropped at the end of the session."""
    made: list[str] = []

    def make() -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        with contextlib.closing(_admin(pg_server)) as conn, conn.cursor() as cur:
            cur.execute(f'create database "{name}"')
        made.append(name)
        return f"postgresql://{EMBEDDED_USER}@127.0.0.1:{pg_server.embedded_port}/{name}"

    yield make
    with contextlib.closing(_admin(pg_server)) as conn, conn.cursor() as cur:
        for name in made:
            cur.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture
def warehouse(pg_server: Settings, monkeypatch, tmp_path: Path) -> Iterator[Settings]:
    """A fresh, empty database for one test; the environment points all the code at it."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with contextlib.closing(_admin(pg_server)) as conn, conn.cursor() as cur:
        cur.execute(f'create database "{name}"')
    url = f"postgresql://{EMBEDDED_USER}@127.0.0.1:{pg_server.embedded_port}/{name}"
    monkeypatch.setenv("DW_DATABASE_URL", url)
    monkeypatch.setenv("DW_HOME", str(tmp_path / "dw-home"))
    monkeypatch.setenv("DW_LANDING", str(tmp_path / "landing"))
    try:
        yield settings()
    finally:
        with contextlib.closing(_admin(pg_server)) as conn, conn.cursor() as cur:
            cur.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture
def db(warehouse: Settings):
    """A psycopg2 connection to the test's database (autocommit, for assertions)."""
    conn = psycopg2.connect(warehouse.database_url)
    conn.autocommit = True
    try:
        yield conn
    finally:
        conn.close()
