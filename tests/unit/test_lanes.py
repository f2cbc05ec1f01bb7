"""The ingest's process count and what it hands to its workers (channel_dw.ingest.lanes); the
loads themselves: tests/integration/test_end_to_end_ingest.py, test_concurrent_loads.py."""

from __future__ import annotations

from channel_dw.ingest import lanes


def test_a_progress_function_goes_to_the_workers_only_when_it_can_be_sent():
    said: list[str] = []
    assert lanes._sendable(print) is print  # a module's function: the workers say it too
    assert lanes._sendable(lambda m: said.append(m)) is None  # a closure: the parent's lines only
    assert lanes._sendable(None) is None
