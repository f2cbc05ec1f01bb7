"""The checksum of a delivery, taken on a thread beside the load (channel_dw.ingest.delivery)."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import pytest

from channel_dw.ingest.delivery import Delivery


def test_the_checksum_is_that_of_the_bytes_when_opened(tmp_path: Path) -> None:
    path = tmp_path / "sms_hall_20261001.txt"
    data = bytes(range(256)) * 20_000  # 5 MB: several reads of 1 MB
    path.write_bytes(data)
    with Delivery(path) as delivery:
        with path.open("ab") as fh:  # the sender goes on writing: not part of the fingerprint
            fh.write(b"more")
        assert delivery.size == len(data)
        assert delivery.sha256 == hashlib.sha256(data).hexdigest()
        assert delivery.change("after the COPY").rule == "file_changed_during_load"


def test_an_empty_file_has_the_checksum_of_nothing(tmp_path: Path) -> None:
    path = tmp_path / "sms_hall_20261001.txt"
    path.write_bytes(b"")
    with Delivery(path) as delivery:
        assert delivery.sha256 == hashlib.sha256(b"").hexdigest()


def test_a_checksum_stopped_half_way_is_never_given(tmp_path: Path) -> None:
    path = tmp_path / "sms_hall_20261001.txt"
    path.write_bytes(b"x" * (64 << 20))
    delivery = Delivery(path)
    delivery.first_batch()  # the checksum starts
    delivery.close()  # at once: the thread stops between two reads, or has finished
    try:
        digest = delivery.sha256
    except RuntimeError as exc:
        assert "stopped half-way" in str(exc)
    else:
        assert digest == hashlib.sha256(b"x" * (64 << 20)).hexdigest()
    with pytest.raises(ValueError):
        delivery.fh.read(1)  # closed


def _checksum_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "checksum"]


def test_the_checksum_waits_for_the_first_batch(tmp_path: Path) -> None:
    """Begun with the file, it took a core from the first chunk's reading while PostgreSQL
    waited for rows: it starts at the reader's first batch."""
    path = tmp_path / "sms_hall_20261001.txt"
    data = b"y" * (32 << 20)
    path.write_bytes(data)
    with Delivery(path) as delivery:
        assert _checksum_threads() == []
        delivery.first_batch()
        delivery.first_batch()  # the second batch starts nothing more
        assert delivery.sha256 == hashlib.sha256(data).hexdigest()
    assert _checksum_threads() == []


def test_a_checksum_asked_for_before_any_batch_is_taken_then(tmp_path: Path) -> None:
    path = tmp_path / "sms_hall_20261001.txt"
    path.write_bytes(b"z" * 1000)
    with Delivery(path) as delivery:  # a name delivered before: compared before the reading
        assert delivery.sha256 == hashlib.sha256(b"z" * 1000).hexdigest()


def test_a_checksum_never_begun_is_not_given_after_close(tmp_path: Path) -> None:
    path = tmp_path / "sms_hall_20261001.txt"
    path.write_bytes(b"z" * 1000)
    delivery = Delivery(path)
    delivery.close()  # a load that ended before its first batch
    with pytest.raises(RuntimeError, match="asked for after close"):
        delivery.sha256
