"""The settings every DAG's tasks share: owner, retries with exponential back-off, the alert.

``DW_RETRY_DELAY_SECONDS`` sets the first retry's delay (default 300: five minutes, doubling up
to an hour); the scheduler tests set it to a few seconds. It is read when the DAG files are
parsed, so the dag-processor and the scheduler must see the same value.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from channel_dw.orchestration.alerts import on_task_failure

DEFAULT_RETRY_DELAY = 300


def retry_delay() -> timedelta:
    raw = os.environ.get("DW_RETRY_DELAY_SECONDS", "").strip()
    if not raw:
        return timedelta(seconds=DEFAULT_RETRY_DELAY)
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"DW_RETRY_DELAY_SECONDS={raw!r} is not a whole number of seconds >= 1")
    return timedelta(seconds=int(raw))


def default_args(retries: int = 2) -> dict[str, Any]:
    return {
        "owner": "data-engineering",
        "on_failure_callback": on_task_failure,
        "retries": retries,
        "retry_delay": retry_delay(),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(hours=1),
    }
