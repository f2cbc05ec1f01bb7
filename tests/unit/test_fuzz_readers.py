"""Fuzzing every reader: a damaged export file is read to the end or rejected whole, nothing else.

A small valid file of each source is damaged (see :mod:`tests.fuzz` for the damages) and read with
the source's ``SPEC.batches``. Whatever the damage, the reader must either complete or raise
:class:`FileRejected`; never another exception, never hang. Every rejection, of a row or of the
file, names a rule and says why, and the rows and rejections add up with the lines of the file
where that is knowable.

The default profile keeps this to a few seconds; ``make fuzz`` (HYPOTHESIS_PROFILE=fuzz) runs many
more examples. The regression tests at the end are the smallest failing examples hypothesis found,
kept with the outcome the fixed reader gives.
"""

from __future__ import annotations

import contextlib
import gzip
import operator
import signal
import zlib
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pyarrow as pa
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from channel_dw.errors import FileRejected
from channel_dw.sources import (
    _app_columns,
    _app_lines,
    _delimited_fast,
    _stores_compiled,
    _stores_strings,
    app,
    get_source,
    sms,
    stores,
    web,
)
from channel_dw.sources.base import Rejection
from channel_dw.sources.columnar import LINE, Lines, rows_of_text, schema_for
from tests.fuzz import KEYS, Original, _pack, damaged, damages, fuzz_settings, make_originals

HANG_SECONDS = 20  # a reader takes milliseconds on these files; this long is a hang


@pytest.fixture(scope="module")
def originals(tmp_path_factory) -> dict[str, Original]:
    return make_originals(tmp_path_factory.mktemp("originals"))


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("damaged")


class Hang(Exception):
    pass


@contextlib.contextmanager
def hang_guard(seconds: float) -> Iterator[None]:
    """Fails a read that takes far too long (the test runs in the main thread of its process)."""

    def alarm(signum, frame):
        raise Hang(f"the reader was still reading after {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def read_all(source: str, path: Path) -> tuple[list[int], list[Rejection], FileRejected | None]:
    """The lines of the rows a reader gives, its rejections, and its file rejection if any.

    Anything but FileRejected propagates: that is the failure the fuzzing looks for."""
    spec = get_source(source)
    schema = schema_for(spec.columns)
    lines: list[int] = []
    rejections: list[Rejection] = []
    with hang_guard(HANG_SECONDS):
        try:
            for batch in spec.batches(path):
                assert isinstance(batch.rows, pa.Table)
                assert batch.rows.schema.names == schema.names
                lines.extend(batch.rows.column(LINE).to_pylist())
                lines.extend(row.line for row in rows_of_text(batch.text))
                rejections.extend(batch.rejections)
        except FileRejected as exc:
            return lines, rejections, exc
    return lines, rejections, None


def physical_lines(original: Original, data: bytes) -> int | None:
    """An upper bound of the line numbers a text file can have (None when not knowable)."""
    if original.key == "web.gz":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error):
            return None
    return data.count(b"\n") + 1


def sms_trailer_count(data: bytes) -> int | None:
    """The record count of an SMS file's trailer (its last non-blank line)."""
    lines = [line for line in data.split(b"\n") if line.strip()]
    if not lines:
        return None
    parts = lines[-1].decode("utf-8", "replace").split("|")
    try:
        return int(parts[1].strip())
    except (IndexError, ValueError):
        return None


def check(original: Original, data: bytes, folder: Path) -> None:
    """Reads a damaged file and asserts everything the fuzz tests ask of a reader."""
    path = folder / original.key / original.name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    rows, rejections, rejected = read_all(original.source, path)

    for r in rejections:
        assert operator.index(r.line) >= 1, r  # an int (numpy's int64 too)
        assert r.rule and r.rule.strip(), r
        assert r.message and r.message.strip(), r
    event(f"file rejected [{rejected.rule}]" if rejected else "read to the end")
    if rejected is not None:
        assert rejected.rule and rejected.rule.strip(), rejected
        assert rejected.message and rejected.message.strip(), rejected
        assert rejected.line is None or rejected.line >= 1, rejected
        assert rejected.file == original.name
        return

    # The file was read to the end: every row and rejection is one record of its own line.
    numbers = [*rows, *(int(r.line) for r in rejections)]
    assert all(n >= 1 for n in numbers)
    assert len(set(numbers)) == len(numbers), "two items of the same line"
    if original.source == "app":
        # the header's count matched the events, numbered 1..count
        assert sorted(numbers) == list(range(1, len(numbers) + 1))
        return
    if original.source == "stores":
        assert all(n >= 2 for n in numbers), "an item on the header row"
        return
    bound = physical_lines(original, data)
    if bound is not None:
        assert max(numbers, default=0) <= bound
        header = 0 if original.source in ("web", "sms") else 1
        trailer = 1 if original.source == "sms" else 0
        assert len(numbers) <= bound - header - trailer
    if original.source == "sms":
        assert len(numbers) == sms_trailer_count(data)


# --- the property ----------------------------------------------------------------------------

EXAMPLES = 150  # per kind of file in the usual run (make fuzz: the profile's, see conftest)


@pytest.mark.parametrize("key", KEYS)
def test_valid_original_reads_clean(originals, folder, key):
    """The undamaged file: every record a row, nothing rejected (the fuzzing starts from here)."""
    original = originals[key]
    path = folder / "clean" / original.key / original.name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(original.data)
    rows, rejections, rejected = read_all(original.source, path)
    assert (len(rows), rejections, rejected) == (original.records, [], None)


# The readers work in chunks of MB and batches of many rows: a few dozen lines never reach a
# second one. Smaller chunks and batches make the seams between them part of the fuzzing.
_CHUNKED = {
    "web": [(web, "CHUNK_BYTES")],
    "app": [(_app_lines, "CHUNK_BYTES"), (app, "_STREAM_BATCH")],
    "sms": [(sms, "CHUNK_BYTES")],
    "hotline": [(_delimited_fast, "CHUNK_BYTES")],
    "halls": [(_delimited_fast, "CHUNK_BYTES")],
    "crm": [(_delimited_fast, "CHUNK_BYTES")],
    "stores": [
        (stores, "BATCH_ROWS"),
        (_stores_compiled, "CHUNK_BYTES"),
        (_stores_compiled, "FIRST_CHUNK_BYTES"),
        (_stores_strings, "BLOCK"),  # the shared strings indexed as the rows need them
        (_stores_strings, "FIRST_BLOCK"),
    ],
}
CHUNK_SIZES = (None, 64, 300, 2000)  # None: the reader's own


@contextlib.contextmanager
def chunked(source: str, size: int | None) -> Iterator[None]:
    with contextlib.ExitStack() as stack:
        if size is not None:
            for module, name in _CHUNKED[source]:
                stack.enter_context(mock.patch.object(module, name, size))
        yield


@pytest.mark.parametrize("key", KEYS)
@fuzz_settings(EXAMPLES)
@given(data=st.data())
def test_damaged_file_is_read_or_rejected(originals, folder, key, data):
    original = originals[key]
    damage_list = data.draw(damages(original), label="damages")
    size = data.draw(st.sampled_from(CHUNK_SIZES), label="chunk size")
    with chunked(original.source, size):
        check(original, damaged(original, damage_list), folder)


# --- what the fuzzing found: the smallest failing examples, with what the fixed readers do ------


def _regression_path(folder: Path, original) -> Path:
    """Where a regression test writes its damaged copy of ``original`` (under its own name)."""
    path = folder / "regression" / original.name
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def test_hotline_header_with_a_stray_carriage_return_is_rejected(originals, folder):
    """Found: a field added to every line of a CRLF file puts "\\r" inside the header line, and
    csv's "new-line character seen in unquoted field" escaped the reader."""
    original = originals["hotline"]
    path = _regression_path(folder, original)
    path.write_bytes(damaged(original, [("content", ("add_field", 0.0))]))

    with pytest.raises(FileRejected) as caught:
        list(get_source("hotline").batches(path))

    assert (caught.value.line, caught.value.rule) == (1, "unreadable")
    assert caught.value.message == (
        "the header line cannot be split into columns: a carriage return (\\r) stands inside the "
        "line, not at its end, outside quotes (line endings mixed up, or a stray byte?)"
    )
    assert caught.value.text.endswith("地市\r,extra")


HALLS_HEADER = b"txn_id,hall_code,region_code,msisdn,txn_time,biz_code,amount,result,staff_id,"
HALLS_HEADER += b"ref_order_no"
HALLS_ROW = b"H1,TY-0012,TY,13812345678,2026-10-01 09:00:00,B_PAY,50.00,OK,TY001201,"


@pytest.mark.parametrize(
    ("content", "line", "message"),
    [
        (
            HALLS_HEADER + b"\r,x\n" + HALLS_ROW + b"\n",
            1,
            "the header line cannot be split into columns",
        ),
        (HALLS_HEADER + b"\n" + HALLS_ROW + b"\r,x\n", 2, "the CSV cannot be split here"),
    ],
)
def test_delimited_stray_carriage_return_is_rejected_naming_its_line(
    tmp_path, content, line, message
):
    path = tmp_path / "hall_txn_20261001.csv"
    path.write_bytes(content)

    with pytest.raises(FileRejected) as caught:
        list(get_source("halls").batches(path))

    assert (caught.value.line, caught.value.rule) == (line, "unreadable")
    assert caught.value.message.startswith(message + ": a carriage return (\\r) stands inside")


@pytest.mark.parametrize("key", ["stores.taobao", "stores.jd", "stores.meituan"])
def test_stores_sheet_xml_with_a_nul_is_rejected(originals, folder, key):
    """Found: a NUL in a cell of the sheet XML made the columnar path's XML parser raise
    ParseError; the per-record reader now reads such a workbook, and rejects it."""
    original = originals[key]
    path = _regression_path(folder, original)
    path.write_bytes(damaged(original, [("content", ("nul", 0.0))]))

    with pytest.raises(FileRejected) as caught:
        list(get_source("stores").batches(path))

    assert (caught.value.line, caught.value.rule) == (1, "unreadable")
    assert caught.value.message.startswith("the sheet cannot be read here: ParseError(")


def test_app_file_cut_inside_an_event_line_is_rejected_after_its_events(originals, folder):
    """Found: a document cut short inside an event line (no \\n after it) made the line texts of
    the chunk reach one byte past its end (pyarrow: "Length spanned by binary offsets")."""
    original = originals["app"]
    path = _regression_path(folder, original)
    damage = [("content", ("swap_columns", 1, 7)), ("content", ("cut", 0.3897112513949622))]
    path.write_bytes(damaged(original, damage))

    rows, rejections, rejected = read_all("app", path)

    assert rows == []
    assert [(r.line, r.rule) for r in rejections] == [(n, "missing_field") for n in range(1, 10)]
    assert (rejected.line, rejected.rule) == (10, "unreadable")
    assert rejected.message == (
        "the document is not valid JSON after event 9 (the file looks cut short)"
    )


def test_app_line_texts_of_a_last_line_without_newline():
    lines = Lines.of(b'{"id":"a"},\n{"id":"b"}', 1)
    assert _app_columns._line_texts(lines).to_pylist() == ['{"id":"a"},\n', '{"id":"b"}']


@pytest.mark.parametrize(
    ("damage", "events", "line"),
    [
        ([("content", ("insert", 0.5, b"\xc0\x80"))], 12, 13),  # in an event: streamed
        ([("content", ("cut", 0.015625)), ("content", ("insert", 0.5, b"\xc0\x80"))], 0, None),
    ],
)
def test_app_overlong_utf8_is_rejected_as_bad_encoding(originals, folder, damage, events, line):
    """Found: ``c0 80`` (an overlong NUL) passes the C JSON parser's UTF-8 check, then Python's
    decoding of the string raised UnicodeDecodeError, in the header scan and in the stream."""
    original = originals["app"]
    path = _regression_path(folder, original)
    path.write_bytes(damaged(original, damage))

    rows, rejections, rejected = read_all("app", path)

    assert (len(rows) + len(rejections), rejected.line, rejected.rule) == (
        events,
        line,
        "bad_encoding",
    )
    assert rejected.message.startswith("the document is not valid UTF-8")
    assert rejected.text == "byte c0 in a string is not UTF-8 (invalid start byte)"


def test_stores_cell_reference_beyond_the_last_column_is_rejected(originals, folder):
    """Found: "null" inserted twice into a cell reference (``<c r="nulnulllA22"``) made calamine
    size the sheet for that column and abort the whole process on a 3.7 TB allocation. The
    columnar path now leaves such a sheet to the per-record reader, which rejects it."""
    original = originals["stores.jd"]
    path = _regression_path(folder, original)
    damage = [("content", ("insert", 0.6769744960289011, b"null"))] * 2
    path.write_bytes(damaged(original, damage))

    with pytest.raises(FileRejected) as caught:
        list(get_source("stores").batches(path))

    assert (caught.value.line, caught.value.rule) == (22, "unreadable")
    assert caught.value.message == (
        "the sheet cannot be read here: ValueError(\"'nulnulllA' is not a valid column name. "
        'Column names are from A to ZZZ")'
    )


@pytest.mark.parametrize(
    ("old", "new"),
    [(b'<row r="22"', b'<row r="999999999"'), (b'<c r="A22"', b'<c r="A22000000"')],
)
def test_stores_row_beyond_the_last_row_is_rejected(originals, folder, old, new):
    """Found while fixing the case above: a row number far beyond a sheet's last made calamine
    abort the process too (384 GB), and openpyxl would yield every blank row up to it."""
    original = originals["stores.jd"]
    path = _regression_path(folder, original)
    path.write_bytes(_pack(original, original.content.replace(old, new, 1)))

    with pytest.raises(FileRejected) as caught:
        list(get_source("stores").batches(path))

    row = int(new.decode().split('"')[1].lstrip("A"))
    assert (caught.value.line, caught.value.rule) == (None, "unreadable")
    assert caught.value.message == (
        f"the sheet holds row {row:,}, beyond the last row a sheet can have (1,048,576): "
        "the workbook is damaged"
    )
