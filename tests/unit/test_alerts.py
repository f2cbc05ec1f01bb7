"""Alerts: what a failed task or a load that set rows aside sends, and where."""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import SimpleNamespace

import pytest

from channel_dw.config import settings
from channel_dw.ingest.core import LoadOutcome
from channel_dw.orchestration import alerts
from channel_dw.orchestration.tasks import LoadFailedError


@pytest.fixture
def webhook(monkeypatch):
    """A local webhook that records what is posted to it."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(json.loads(body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("DW_ALERT_WEBHOOK", f"http://127.0.0.1:{server.server_port}/hook")
    monkeypatch.delenv("DW_ALERT_EMAIL", raising=False)
    yield received
    server.shutdown()


def outcome(**kw) -> LoadOutcome:
    base = LoadOutcome(file_id=7, source="web", file_name="web_20261003.jsonl", status="loaded")
    return replace(base, **kw)


def test_a_rejected_file_and_quarantined_rows_send_one_quality_alert_naming_them(webhook):
    sent = alerts.quality_warning(
        "channel_ingest_daily",
        "load_web",
        "scheduled__2026-10-03",
        [
            outcome(rows_loaded=100),
            outcome(file_id=8, file_name="web_20261003_2.jsonl", rows_quarantined=3),
            outcome(
                file_id=9,
                file_name="web_20261003_3.jsonl",
                status="rejected",
                rule="trailer_count",
                reason="trailer says 120 rows, the file has 118",
            ),
        ],
    )

    assert sent is not None and len(webhook) == 1
    text = webhook[0]["text"]
    assert text.startswith("[channel-dw] data quality: channel_ingest_daily.load_web")
    assert "Run: scheduled__2026-10-03" in text
    assert "File(s): web/web_20261003_2.jsonl, web/web_20261003_3.jsonl" in text
    assert "3 quarantined" in text
    assert "REJECTED [trailer_count]: trailer says 120 rows, the file has 118" in text
    assert webhook[0]["details"] == {"rejected": 1, "rows_quarantined": 3}


def test_a_clean_load_sends_nothing(webhook):
    assert alerts.quality_warning("d", "t", "r", [outcome(rows_loaded=10)]) is None
    assert webhook == []


def test_a_failed_task_alerts_with_the_dag_task_files_and_reason(webhook):
    error = LoadFailedError("1 web file(s) for 2026-10-03 failed to load: ...", ["web/a.jsonl"])
    ti = SimpleNamespace(
        dag_id="channel_ingest_daily",
        task_id="load_web",
        run_id="manual__1",
        log_url="http://x/log",
    )

    alerts.on_task_failure({"ti": ti, "exception": error, "run_id": "manual__1"})

    text = webhook[0]["text"]
    assert webhook[0]["kind"] == "failure"
    assert text.splitlines()[:4] == [
        "[channel-dw] FAILED: channel_ingest_daily.load_web",
        "DAG: channel_ingest_daily",
        "Task: load_web",
        "Run: manual__1",
    ]
    assert "File(s): web/a.jsonl" in text
    assert "Reason: LoadFailedError: 1 web file(s) for 2026-10-03 failed to load" in text
    assert "Log: http://x/log" in text


def test_an_unreachable_webhook_is_logged_and_never_fails_the_task(monkeypatch, caplog):
    monkeypatch.setenv("DW_ALERT_WEBHOOK", "http://127.0.0.1:9/nothing-listens-here")
    with caplog.at_level(logging.WARNING):
        sent = alerts.send(alerts.Alert("failure", "d", "t", "r", "boom"))
    assert sent == []
    assert "could not post the alert to DW_ALERT_WEBHOOK" in caplog.text


def test_email_alerts_go_through_airflows_smtp_connection(monkeypatch):
    calls = []
    import airflow.utils.email

    monkeypatch.setattr(airflow.utils.email, "send_email", lambda **kw: calls.append(kw))
    monkeypatch.delenv("DW_ALERT_WEBHOOK", raising=False)
    monkeypatch.setenv("DW_ALERT_EMAIL", "dw-oncall@example.com, lead@example.com")

    sent = alerts.send(alerts.Alert("failure", "channel_mart_build", "dbt.fct", "r1", "a <test>"))

    assert sent == ["email"]
    assert calls[0]["to"] == ["dw-oncall@example.com", "lead@example.com"]
    assert calls[0]["conn_id"] == "smtp_default"
    assert calls[0]["subject"] == "[channel-dw] FAILED: channel_mart_build.dbt.fct"
    assert "a &lt;test&gt;" in calls[0]["html_content"]
    assert settings().alert_emails == ("dw-oncall@example.com", "lead@example.com")
