"""One configuration: the embedded default, a real server by URL, and a port per checkout."""

from __future__ import annotations

import socket

import pytest

from channel_dw.config import settings
from channel_dw.ingest import lanes
from channel_dw.sources import ahead


def test_a_database_url_points_everything_at_a_real_server(monkeypatch, tmp_path):
    monkeypatch.setenv("DW_HOME", str(tmp_path))
    monkeypatch.setenv("DW_DATABASE_URL", "postgresql://dw:s3cret@db.example:6543/warehouse")
    s = settings()
    assert not s.embedded
    assert s.db_params() == {
        "host": "db.example",
        "port": "6543",
        "user": "dw",
        "password": "s3cret",
        "dbname": "warehouse",
    }
    assert "s3cret" not in s.redacted_url()
    assert s.landing == tmp_path / "landing"


def test_embedded_port_moves_off_a_taken_port_and_is_remembered(monkeypatch, tmp_path):
    monkeypatch.delenv("DW_DATABASE_URL", raising=False)
    monkeypatch.delenv("DW_EMBEDDED_PORT", raising=False)
    monkeypatch.setenv("DW_HOME", str(tmp_path))
    with socket.socket() as busy:
        try:
            busy.bind(("127.0.0.1", 55432))
            busy.listen()
        except OSError:
            pass  # already taken (a developer's own embedded server): just as good
        first = settings()
    assert first.embedded and first.embedded_port != 55432
    assert (tmp_path / "port").read_text().strip() == str(first.embedded_port)
    assert settings().embedded_port == first.embedded_port
    assert first.database_url.endswith(f":{first.embedded_port}/channel_dw")


def test_explicit_embedded_port_wins(monkeypatch, tmp_path):
    monkeypatch.delenv("DW_DATABASE_URL", raising=False)
    monkeypatch.setenv("DW_HOME", str(tmp_path))
    monkeypatch.setenv("DW_EMBEDDED_PORT", "60001")
    assert settings().embedded_port == 60001


@pytest.mark.parametrize(
    ("variable", "count", "what"),
    [("DW_READER_THREADS", ahead.threads, "threads"), ("DW_INGEST_JOBS", lanes.jobs, "processes")],
)
def test_the_thread_and_process_counts_are_read_from_the_environment(
    monkeypatch, variable, count, what
):
    monkeypatch.delenv(variable, raising=False)
    assert count() == 2
    monkeypatch.setenv(variable, "3")
    assert count() == 3
    monkeypatch.setenv(variable, "0")
    assert count() == 1
    monkeypatch.setenv(variable, "many")
    with pytest.raises(ValueError, match=f"{variable} must be a whole number of {what}"):
        count()
