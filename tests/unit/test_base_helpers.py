"""The helpers every reader and the loading core share."""

from __future__ import annotations

from datetime import date

import pytest

from channel_dw.errors import FileRejected
from channel_dw.ingest.copy_stream import BatchStream, copy_field, copy_line, copy_text
from channel_dw.ingest.runner import discover
from channel_dw.sources import all_sources
from channel_dw.sources.base import Rejection, Row, is_landline, is_masked_msisdn, normalise_msisdn
from channel_dw.sources.columnar import Batch, rows_table


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


def _read_all(stream: BatchStream) -> bytes:
    chunks = []
    while chunk := stream.read(1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


def test_batch_stream_sends_every_row_once_as_copy_text_keeping_null_and_empty_apart():
    columns = ("a", "b")
    batches = [
        Batch(rows_table(columns, [Row(1, ("x", None)), Row(2, ("", 'say "hi",\tthen\nleave'))])),
        Batch(rows_table(columns, []), [Rejection(3, "bad_value", "b is odd", "raw")]),
        Batch(rows_table(columns, [Row(4, ("太原", "nul\x00byte \\N"))])),
        Batch(rows_table(columns, [Row(6, (" ", None))]), text=b"y\t\\N\t5\n", text_rows=1),
    ]
    seen = []
    with BatchStream(iter(batches), seen.append) as stream:
        data = _read_all(stream)

    assert seen == batches
    # COPY text: NULL is \N, the empty text an empty field; a tab, a line break, a backslash and
    # a double quote (which pyarrow's writer would otherwise refuse) escaped as copy_field()
    # does; NUL dropped (PostgreSQL text cannot hold it). Checked against PostgreSQL itself in
    # tests/integration/test_copy_text.py.
    assert data.decode().split("\n") == [
        "x\t\\N\t1",
        "\tsay \\x22hi\\x22,\\tthen\\nleave\t2",
        "太原\tnulbyte \\\\N\t4",
        "y\t\\N\t5",  # a compiled reader's text first, as it is
        " \t\\N\t6",
        "",
    ]


def test_copy_text_leaves_a_column_without_specials_as_it_is():
    import pyarrow as pa

    table = pa.table({"a": ["x y", "", None], "b": pa.array([1, 2, 3], pa.int64())})
    assert copy_text(table) == b"x y\t1\n\t2\n\\N\t3\n"


def test_batch_stream_renders_a_batch_whose_first_chunk_is_empty():
    # The store reader's batches are fast rows (here none) concatenated with re-read ones:
    # pyarrow 26's CSV writer renders such a table as NUL bytes, which COPY refuses.
    import pyarrow as pa

    table = pa.table(
        {
            "a": pa.chunked_array([pa.array([], pa.string()), pa.array(["x", None])]),
            "_line": pa.chunked_array([pa.array([], pa.int64()), pa.array([2, 3])]),
        }
    )
    with BatchStream(iter([Batch(table)]), lambda b: None) as stream:
        assert _read_all(stream) == b"x\t2\n\\N\t3\n"


def test_batch_stream_raises_the_readers_error_from_read():
    def batches():
        yield Batch(rows_table(("a",), [Row(1, ("x",))]))
        raise FileRejected("f.txt", 9, "bad_trailer", "the trailer says 3 records")

    with BatchStream(batches(), lambda b: None) as stream, pytest.raises(FileRejected):
        _read_all(stream)
    assert stream.error is not None and stream.error.rule == "bad_trailer"


def test_batch_stream_stops_its_reader_when_the_copy_gives_up_early():
    pulled = []

    def batches():
        for i in range(1, 1000):
            pulled.append(i)
            yield Batch(rows_table(("a",), [Row(i, (str(i),))]))

    with BatchStream(batches(), lambda b: None, queued=2) as stream:
        stream.read()
    assert len(pulled) < 10  # the queue holds a few chunks, not the whole file


def test_a_batch_with_few_rows_to_render_is_read_before_the_reader_has_the_next_one():
    # A compiled reader's batch: its text, and a few rows it left to render. The reader then
    # works on its next chunk (here: until the test lets it go). The first batch's COPY text is
    # handed over at once, not once the next batch is there (PostgreSQL would wait for it).
    import threading

    next_chunk = threading.Event()

    def batches():
        yield Batch(rows_table(("a",), [Row(2, ("x",))]), text=b"w\t1\n", text_rows=1)
        next_chunk.wait(10)
        yield Batch(rows_table(("a",), [Row(3, ("y",))]))

    got = []
    with BatchStream(batches(), lambda b: None) as stream:
        reading = threading.Thread(target=lambda: got.append(stream.read()))
        reading.start()
        reading.join(2)
        read_in_time = list(got)
        next_chunk.set()
        reading.join()
        assert read_in_time == [b"w\t1\n"]
        assert _read_all(stream) == b"x\t2\ny\t3\n"


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


@pytest.mark.parametrize("spec", all_sources(), ids=lambda spec: spec.name)
def test_a_file_name_matches_only_in_full_and_in_ascii(spec):
    good = {
        "crm": "crm_customers_20261001.csv",
        "web": "web_events_20261001.jsonl.gz",
        "app": "app_events_20261001.json",
        "hotline": "hotline_cdr_20261001.csv",
        "sms": "sms_hall_20261001.txt",
        "stores": "jd_orders_20261001.xlsx",
        "halls": "hall_txn_20261001.csv",
    }[spec.name]
    assert spec.business_date(good) == date(2026, 10, 1)
    for bad in (
        good + "\n",
        "\n" + good,
        good + " ",
        " " + good,
        good.replace("20261001", "２０２６１００１"),  # full-width digits, which \d matches
        good.replace("20261001", "٢٠٢٦١٠٠١"),
        good + "'); drop table raw.x; --",
    ):
        assert spec.match(bad) is None, repr(bad)
