"""Fixtures shared by several integration modules."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from channel_dw.config import settings
from channel_dw.generate import generate_landing
from channel_dw.ingest.runner import ingest
from tests.integration.test_mart import dbt, use_database


@pytest.fixture(scope="session")
def report_mart(make_database, tmp_path_factory) -> tuple[str, Path]:
    """A mart built from 25 September to 5 October 2026 for 200 customers (checks run), so
    October's report has a previous month to compare with; September has closed (its last day
    loaded), October has not. Built once per worker for test_report and test_bi, which read it;
    ``make test`` runs the two files on the same worker (tests/conftest.py). Returns the database
    URL and the folder that :func:`use_database` points the environment at."""
    home = tmp_path_factory.mktemp("report")
    url = make_database()
    with pytest.MonkeyPatch.context() as mp:
        use_database(mp, url, home)
        s = settings()
        generate_landing(s.landing, date(2026, 9, 25), date(2026, 10, 5), customers=200, seed=11)
        assert ingest(s=s, run_checks=True).ok
        dbt("build")
    return url, home
