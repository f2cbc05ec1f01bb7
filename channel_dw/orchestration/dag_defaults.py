"""The settings every DAG's tasks share: owner, retries with exponential back-off, the alert."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from channel_dw.orchestration.alerts import on_task_failure


def default_args(retries: int = 2) -> dict[str, Any]:
    return {
        "owner": "data-engineering",
        "on_failure_callback": on_task_failure,
        "retries": retries,
        "retry_delay": timedelta(minutes=5),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(hours=1),
    }
