"""The helpers every reader and the loading core share."""

from __future__ import annotations

from datetime import date

import pytest

from channel_dw.ingest.copy_stream import LineStream, copy_field, copy_line
from channel_dw.ingest.runner import discover
from channel_dw.sources.base import is_landline, is_masked_msisdn, normalise_msisdn


@pytest.mark.parametrize(
    "delivered",
    [
        "13812345678",
        "+86 138-1234-5678",
        "0086 13812345678",
        "138 1234 5678",
        "+8613812345678",
        "86 13812345678",
        " 138-1234-5678 ",
    ],
)
def test_every_phone_shape_normalises_to_the_eleven_digits(delivered):
    assert normalise_msisdn(delivered) == "13812345678"


@pytest.mark.parametrize(
    "delivered", ["138****5678", "1381234", "23812345678", "0351-7654321", "", None, "abc"]
)
def test_masked_short_landline_and_empty_phones_identify_nobody(delivered):
    assert normalise_msisdn(delivered) is None


def test_masked_and_landline_shapes_are_recognised():
    assert is_masked_msisdn("138****5678")
    assert not is_masked_msisdn("13812345678")
    assert is_landline("0351-7654321")
    assert not is_landline("13812345678")


def test_copy_fields_escape_what_copy_text_format_would_misread():
    assert copy_field(None) == "\\N"
    assert copy_field("a\tb\nc\\d\re") == "a\\tb\\nc\\\\d\\re"
    assert copy_field("\\N") == "\\\\N"  # the text \N is not NULL
    assert copy_field("nul\x00byte") == "nulbyte"
    assert copy_line(["x", None, "太原"]) == "x\t\\N\t太原\n"


def test_line_stream_hands_out_every_line_once_in_bounded_chunks():
    lines = (f"{i}\n" for i in range(100_000))
    stream = LineStream(lines, chunk_chars=1000)
    chunks = []
    while chunk := stream.read(8192):
        chunks.append(chunk)
    data = b"".join(chunks).decode()
    assert data.splitlines() == [str(i) for i in range(100_000)]
    assert max(len(c) for c in chunks) < 8192 + 10


def test_discover_orders_by_date_then_crm_first_and_ignores_in_flight_files(tmp_path):
    for rel in [
        "web/web_events_20261002.jsonl",
        "crm/crm_customers_20261002.csv",
        "web/web_events_20261001.jsonl.gz",
        "web/web_events_20261003.jsonl.part",
        "web/.web_events_20261004.jsonl",
        "web/readme.txt",
        "stores/jd_orders_20261001.xlsx",
    ]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")

    found, unrecognised = discover(tmp_path)

    assert [(f.spec.name, f.path.name, f.business_date) for f in found] == [
        ("web", "web_events_20261001.jsonl.gz", date(2026, 10, 1)),
        ("stores", "jd_orders_20261001.xlsx", date(2026, 10, 1)),
        ("crm", "crm_customers_20261002.csv", date(2026, 10, 2)),
        ("web", "web_events_20261002.jsonl", date(2026, 10, 2)),
    ]
    assert [p.name for p in unrecognised] == ["readme.txt"]
    only = discover(tmp_path, sources=["web"], start=date(2026, 10, 2), end=date(2026, 10, 2))[0]
    assert [f.path.name for f in only] == ["web_events_20261002.jsonl"]


@pytest.mark.parametrize(
    "values",
    [
        ("a", "b", "c"),
        ("a", None, "c"),
        (None, None, None),
        ("tab\there", None, "x"),
        ("back\\slash", None, "x"),
        ("\\N", "b", "c"),
        ("line\nbreak", "cr\r", None),
        ("nul\x00", None, "z"),
        ("太原", "", None),
    ],
)
def test_fast_copy_row_equals_the_field_by_field_encoding(values):
    from channel_dw.ingest.copy_stream import copy_row

    assert copy_row(values) + "\n" == copy_line(values)
