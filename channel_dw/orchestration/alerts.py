"""Alerts to the data team when a task fails or a file's quality needs a look.

Two kinds:

* **failure**: a task failed for good (its retries used up). Every DAG sets
  :func:`on_task_failure` as ``on_failure_callback``.
* **quality**: a load went through but set something aside: a file rejected, rows quarantined,
  or a warning-level check failed. The ingest task calls :func:`quality_warning`.

Each alert names the DAG, the task, the run, the file(s) and the reason, and goes to every
configured destination: ``DW_ALERT_WEBHOOK`` (a JSON POST whose ``text`` field is the whole
message, which Slack-style webhooks show as it is) and ``DW_ALERT_EMAIL`` (through Airflow's SMTP
connection ``smtp_default``). With neither, the alert is only in the task log (the problem itself
is logged as a warning or an error where it happens). Sending an alert never fails the task: a
broken webhook is logged, not raised.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from dataclasses import asdict, dataclass, field
from typing import Any

from channel_dw.config import Settings, settings

log = logging.getLogger(__name__)

WEBHOOK_TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class Alert:
    kind: str  # "failure" | "quality"
    dag_id: str
    task_id: str
    run_id: str
    reason: str
    files: tuple[str, ...] = ()
    log_url: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def subject(self) -> str:
        what = "FAILED" if self.kind == "failure" else "data quality"
        return f"[channel-dw] {what}: {self.dag_id}.{self.task_id}"

    def text(self) -> str:
        lines = [
            self.subject,
            f"DAG: {self.dag_id}",
            f"Task: {self.task_id}",
            f"Run: {self.run_id}",
        ]
        if self.files:
            lines.append(f"File(s): {', '.join(self.files)}")
        lines.append(f"Reason: {self.reason}")
        if self.log_url:
            lines.append(f"Log: {self.log_url}")
        return "\n".join(lines)


def send(alert: Alert, s: Settings | None = None) -> list[str]:
    """Sends the alert everywhere configured; returns where it went (for the task log)."""
    s = s or settings()
    sent: list[str] = []
    if s.alert_webhook:
        try:
            body = json.dumps({"text": alert.text(), **asdict(alert)}, default=str).encode()
            request = urllib.request.Request(
                s.alert_webhook,
                data=body,
                headers={"Content-Type": "application/json"},
                method="POST",
            )
            with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_SECONDS) as response:
                response.read()
            sent.append("webhook")
        except Exception as exc:  # an alert must never break the run it reports on
            log.warning("could not post the alert to DW_ALERT_WEBHOOK: %s", exc)
    if s.alert_emails:
        try:
            from airflow.utils.email import send_email

            send_email(
                to=list(s.alert_emails),
                subject=alert.subject,
                html_content=f"<pre>{_escape(alert.text())}</pre>",
                conn_id="smtp_default",
            )
            sent.append("email")
        except Exception as exc:
            log.warning("could not e-mail the alert to %s: %s", ", ".join(s.alert_emails), exc)
    # the loader and Airflow already log the problem itself as a warning or an error
    log.info("%s\n(alert sent: %s)", alert.text(), ", ".join(sent) or "no destination configured")
    return sent


def _escape(text: str) -> str:
    import html

    return html.escape(text)


def on_task_failure(context: dict[str, Any]) -> None:
    """``on_failure_callback`` of every DAG: the task failed after its retries."""
    ti = context.get("ti") or context.get("task_instance")
    exception = context.get("exception")
    alert = Alert(
        kind="failure",
        dag_id=getattr(ti, "dag_id", "?"),
        task_id=getattr(ti, "task_id", "?"),
        run_id=str(context.get("run_id") or getattr(ti, "run_id", "?")),
        reason=f"{type(exception).__name__}: {exception}" if exception else "the task failed",
        files=tuple(getattr(exception, "files", ()) or ()),
        log_url=getattr(ti, "log_url", None),
    )
    send(alert)


def quality_warning(
    dag_id: str, task_id: str, run_id: str, outcomes: list, s: Settings | None = None
) -> Alert | None:
    """Alerts on the outcomes of a load that set something aside (none: no alert)."""
    flagged = [
        o
        for o in outcomes
        if o.status == "rejected" or o.rows_quarantined or getattr(o, "check_warnings", 0)
    ]
    if not flagged:
        return None
    alert = Alert(
        kind="quality",
        dag_id=dag_id,
        task_id=task_id,
        run_id=run_id,
        reason="; ".join(o.summary() for o in flagged)
        + ". See `channel-dw ledger --status rejected` and `channel-dw quarantine`.",
        files=tuple(f"{o.source}/{o.file_name}" for o in flagged),
        details={
            "rejected": sum(o.status == "rejected" for o in flagged),
            "rows_quarantined": sum(o.rows_quarantined for o in flagged),
        },
    )
    send(alert, s)
    return alert
