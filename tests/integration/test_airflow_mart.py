"""The mart DAG's freshness gate on a real warehouse.

The DAG itself (the gate, the cosmos task group building every model, the `marts` Asset that
the report DAG runs on) is run whole by a real scheduler in `test_scheduler.py`; running it again
here under `airflow dags test` cost five minutes of the suite and tested nothing more.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from channel_dw.orchestration.mart import StaleSourcesError, check_source_freshness

pytestmark = [pytest.mark.integration, pytest.mark.minutes(1)]

CLI = str(Path(sys.executable).with_name("channel-dw"))


def _cli(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=timeout)


def test_the_freshness_gate_passes_fresh_sources_and_stops_on_a_stale_one(warehouse, db):
    # a tiny landing: every source has rows for the days (100 customers, 3 days), loaded now
    generated = _cli(
        "generate", "--customers", "100", "--start", "2026-10-01", "--end", "2026-10-03"
    )
    assert generated.returncode == 0, generated.stdout[-2000:] + generated.stderr[-2000:]
    loaded = _cli("ingest", "--skip-checks")
    assert loaded.returncode == 0, loaded.stdout[-2000:] + loaded.stderr[-2000:]

    fresh = check_source_freshness()
    assert "halls.hall_txn" in fresh and set(fresh.values()) <= {"pass", "warn"}, fresh

    # a source past its freshness error_after stops the build (the task fails for good)
    with db.cursor() as cur:
        cur.execute("update raw.hall_txn set _loaded_at = now() - interval '30 days'")
    with pytest.raises(StaleSourcesError, match=r"halls\.hall_txn"):
        check_source_freshness()
