"""Size and shape limits: hostile or broken deliveries end as a ledger row with a rule and a reason,
never as an unhandled exception, a hang or a loader that runs out of memory.

Each case is loaded by :func:`load_file` in a child process, which reports the outcome, the
seconds and its peak RSS (``VmHWM``); the bound is asserted here. ``make test`` runs
scaled-down variants (a limit set low through its environment variable, a smaller file); the
full-size cases (a 1 GB line, JSON 10,000 deep, a zip bomb inflating to 4 GiB, an xlsx with
1,048,576 rows) carry the ``fuzz`` marker and run with ``make fuzz-limits``, which prints each
case's outcome, seconds and peak RSS (``-s``).
"""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest

from channel_dw.sources._stores_rows import PLATFORM_HEADERS

pytestmark = pytest.mark.integration

GIB = 1 << 30
MIB = 1 << 20
PEAK_RSS_BOUND = GIB  # the brief's bound on the loading process, at full size
SCALED_RSS_BOUND = 600 * MIB  # the scaled cases: the loader with pyarrow imported is ~150 MB

HALLS_HEADER = (
    "txn_id,hall_code,region_code,msisdn,txn_time,biz_code,amount,result,staff_id,ref_order_no"
)
HALLS_ROW = "H0001,TY-0012,TY,13812345678,2026-10-01 09:30:00,B_PAY,50.00,OK,S017,"
WEB_EVENT = (
    b'{"event_id":"e1","ts":"2026-10-01T08:00:00+08:00","session_id":"s1","visitor_id":"v1",'
    b'"event":"page_view","page":"/"}'
)
APP_EVENT = (
    b'{"id":"a-%d","time_ms":1759277702123,"user":{"uid":"U1","msisdn":null},'
    b'"device":{"os":"ios","app_version":"9.2.1"},"type":"launch"}'
)
TAOBAO_HEADER = list(PLATFORM_HEADERS["taobao"])
TAOBAO_ORDER = [
    "3301234567890",
    "tb_buyer01",
    "13812345678",
    "2026-10-01 08:15:02",
    "2026-10-01 08:16:00",
    "iPhone 16 128G",
    "DEV-IP16-128",
    1,
    5999,
    "交易成功",
    "M00012345",
    "TY-0012",
]


# --- the files ------------------------------------------------------------------------------


def _write_repeated(fh, piece: bytes, total: int) -> None:
    block = piece * max(1, (8 * MIB) // len(piece))
    left = total
    while left > 0:
        part = block[: min(left, len(block))]
        fh.write(part)
        left -= len(part)


def long_line_halls(folder: Path, size: int) -> Path:
    """A halls CSV whose third line is ``size`` bytes with no line break."""
    path = folder / "halls" / "hall_txn_20261001.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        fh.write(f"{HALLS_HEADER}\n{HALLS_ROW}\n".encode())
        _write_repeated(fh, b"H0002,TY-0012,TY,", size)
    return path


def long_line_web(folder: Path, size: int) -> Path:
    """A web JSONL file whose second line is one ``size``-byte JSON string with no line break."""
    path = folder / "web" / "web_events_20261001.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        fh.write(WEB_EVENT + b'\n{"event_id":"')
        _write_repeated(fh, b"x", size)
    return path


def deep_web(folder: Path, depth: int) -> Path:
    """Two good lines around one whose value nests ``depth`` arrays (objects below 1,000)."""
    path = folder / "web" / "web_events_20261001.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    deep = b'{"event_id":"e2","vendor":' + b"[" * depth + b"]" * depth + b"}"
    path.write_bytes(b"\n".join([WEB_EVENT, deep, WEB_EVENT.replace(b"e1", b"e3")]) + b"\n")
    return path


def deep_app(folder: Path, depth: int) -> Path:
    """An app export, one event a line, whose second event nests ``depth`` objects."""
    path = folder / "app" / "app_events_20261001.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    deep = b'{"id":"a-2","time_ms":1759277702123,"type":"launch","x":'
    deep += b'{"y":' * depth + b"1" + b"}" * depth + b"}"
    events = [APP_EVENT % 1, deep, APP_EVENT % 3]
    head = b'{"export_date":"2026-10-01","app":"hall-app","count":3,"events":[\n'
    path.write_bytes(head + b",\n".join(events) + b"\n]}\n")
    return path


def _taobao_workbook() -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(TAOBAO_HEADER)
    sheet.append(TAOBAO_ORDER)
    sheet.append([f"{TAOBAO_ORDER[0]}1", *TAOBAO_ORDER[1:]])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _rewrite_sheet(path: Path, sheet_xml: Iterator[bytes] | None, declared: bool = True) -> None:
    """A copy of a small workbook with its sheet XML streamed from ``sheet_xml``."""
    source = zipfile.ZipFile(io.BytesIO(_taobao_workbook()))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            if info.filename == "xl/worksheets/sheet1.xml" and sheet_xml is not None:
                target = zipfile.ZipInfo(info.filename, date_time=info.date_time)
                target.compress_type = zipfile.ZIP_DEFLATED
                with out.open(target, "w", force_zip64=True) as fh:
                    for part in sheet_xml:
                        fh.write(part)
            else:
                out.writestr(info, source.read(info.filename))


def _sheet_parts(original: bytes) -> tuple[bytes, bytes]:
    at = original.index(b"</sheetData>")
    return original[:at], original[at:]


def zip_bomb_xlsx(folder: Path, inflated: int) -> Path:
    """A taobao workbook whose sheet XML inflates to ``inflated`` bytes (white space after the
    rows, which XML allows and deflate squeezes 1,000 to 1)."""
    path = folder / "stores" / "taobao_orders_20261001.xlsx"
    path.parent.mkdir(parents=True, exist_ok=True)
    original = zipfile.ZipFile(io.BytesIO(_taobao_workbook())).read("xl/worksheets/sheet1.xml")
    before, after = _sheet_parts(original)

    def xml() -> Iterator[bytes]:
        yield before
        block = b" " * (16 * MIB)
        left = inflated - len(before) - len(after)
        while left > 0:
            yield block[: min(left, len(block))]
            left -= len(block)
        yield after

    _rewrite_sheet(path, xml())
    return path


def empty_rows_xlsx(folder: Path, last_row: int, cells: bool = False) -> Path:
    """A taobao workbook with its header and two orders, then empty rows up to ``last_row``
    (1,048,576: the last row Excel has); with ``cells``, each with 12 styled empty cells and a
    number in the last one's first cell (so the sheet's data range reaches the last row)."""
    path = folder / "stores" / "taobao_orders_20261001.xlsx"
    path.parent.mkdir(parents=True, exist_ok=True)
    original = zipfile.ZipFile(io.BytesIO(_taobao_workbook())).read("xl/worksheets/sheet1.xml")
    before, after = _sheet_parts(original)
    before = before.replace(
        b'<dimension ref="A1:L3"/>', f'<dimension ref="A1:L{last_row}"/>'.encode()
    )

    def xml() -> Iterator[bytes]:
        yield before
        for lo in range(4, last_row + 1, 100_000):
            hi = min(lo + 100_000, last_row + 1)
            if not cells:
                yield b"".join(b'<row r="%d" spans="1:12"/>' % r for r in range(lo, hi))
                continue
            yield b"".join(
                b'<row r="%d">' % r
                + b"".join(b'<c r="%s%d" s="0"/>' % (c.encode(), r) for c in "ABCDEFGHIJKL")
                + b"</row>"
                for r in range(lo, min(hi, last_row))
            )
            if hi > last_row:
                yield b'<row r="%d"><c r="A%d"><v>7</v></c></row>' % (last_row, last_row)
        yield after

    _rewrite_sheet(path, xml())
    return path


def not_gzip(folder: Path) -> Path:
    path = folder / "web" / "web_events_20261001.jsonl.gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(WEB_EVENT + b"\n")  # plain JSON lines under a .gz name
    return path


def truncated_gzip(folder: Path, events: int) -> Path:
    path = folder / "web" / "web_events_20261001.jsonl.gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wb", compresslevel=1) as fh:
        for lo in range(0, events, 100_000):
            fh.write(
                b"".join(
                    WEB_EVENT.replace(b'"e1"', b'"e%d"' % i) + b"\n"
                    for i in range(lo, min(lo + 100_000, events))
                )
            )
    os.truncate(path, path.stat().st_size * 2 // 3)
    return path


def gzip_bomb(folder: Path, inflated: int) -> Path:
    """A .jsonl.gz of good lines that inflates to ``inflated`` bytes."""
    path = folder / "web" / "web_events_20261001.jsonl.gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wb", compresslevel=1) as fh:
        _write_repeated(fh, WEB_EVENT + b"\n", inflated)
    return path


# --- loading in a child process -------------------------------------------------------------

_CHILD = """
import json, sys, time
from pathlib import Path
from channel_dw.errors import FileRejected
from channel_dw.ingest.core import load_file
from channel_dw.sources import get_source
started = time.monotonic()
try:
    o = load_file(get_source(sys.argv[1]), Path(sys.argv[2]), run_checks=False)
    result = {"status": o.status, "rule": o.rule, "reason": o.reason, "rows_loaded": o.rows_loaded,
              "rows_quarantined": o.rows_quarantined}
except BaseException as exc:
    result = {"status": "exception", "rule": None, "reason": f"{type(exc).__name__}: {exc}"[:500]}
result["seconds"] = round(time.monotonic() - started, 2)
# VmHWM: the peak RSS of this program. ru_maxrss would not do: Linux carries the parent's RSS
# over fork and exec into it.
hwm = next(x for x in open("/proc/self/status") if x.startswith("VmHWM:"))
result["peak_rss_mib"] = round(int(hwm.split()[1]) / 1024, 1)
print("RESULT " + json.dumps(result))
"""


def load_in_child(
    source: str, path: Path, timeout: float, env: dict[str, str] | None = None
) -> dict:
    """Loads ``path`` in a child process (the test's database, from the environment) and returns
    its outcome, seconds and peak RSS; the case is printed (``-s``) for the README."""
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, source, str(path)],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    lines = [x for x in done.stdout.splitlines() if x.startswith("RESULT ")]
    assert lines, f"the child died (exit {done.returncode}): {done.stderr[-2000:]}"
    result = json.loads(lines[-1].removeprefix("RESULT "))
    rows = (
        f" ({result['rows_loaded']:,} rows, {result['rows_quarantined']:,} quarantined)"
        if result["status"] == "loaded"
        else f" [{result['rule']}]"
    )
    print(
        f"\n[limits] {source}/{path.name} ({path.stat().st_size:,} bytes): {result['status']}"
        f"{rows} in {result['seconds']}s, peak RSS {result['peak_rss_mib']} MiB"
        f"\n         {result['reason']}"
    )
    return result


def assert_rejected(result: dict, rule: str, bound: int, *words: str) -> None:
    assert (result["status"], result["rule"]) == ("rejected", rule), result
    for word in words:
        assert word in result["reason"], result
    assert result["peak_rss_mib"] * MIB <= bound, result


# --- make test: scaled down -----------------------------------------------------------------


def test_long_line_in_a_delimited_file_is_rejected_without_holding_it(warehouse, tmp_path):
    path = long_line_halls(tmp_path, 64 * MIB)  # over the 16 MiB default
    result = load_in_child("halls", path, timeout=120)
    assert_rejected(result, "line_too_long", SCALED_RSS_BOUND, "line 3", "16 MiB")


def test_long_line_in_a_web_file_is_rejected_without_holding_it(warehouse, tmp_path):
    path = long_line_web(tmp_path, 8 * MIB)
    result = load_in_child("web", path, timeout=120, env={"DW_MAX_LINE_BYTES": str(1 * MIB)})
    assert_rejected(result, "line_too_long", SCALED_RSS_BOUND, "line 2", "DW_MAX_LINE_BYTES")


def test_unclosed_quote_is_named_when_a_csv_record_never_ends(warehouse, tmp_path):
    path = tmp_path / "halls" / "hall_txn_20261001.csv"
    path.parent.mkdir(parents=True)
    row = HALLS_ROW.replace("S017", '"S017')  # the quote is never closed
    path.write_text(HALLS_HEADER + "\n" + row + "\n" + (HALLS_ROW + "\n") * 40_000)
    result = load_in_child("halls", path, timeout=120, env={"DW_MAX_LINE_BYTES": str(MIB)})
    assert_rejected(result, "line_too_long", SCALED_RSS_BOUND, "quote that is never closed")


@pytest.mark.parametrize("depth", [200, 3000])
def test_deeply_nested_web_line_is_quarantined_the_rest_loads(warehouse, db, tmp_path, depth):
    result = load_in_child("web", deep_web(tmp_path, depth), timeout=120)
    assert (result["status"], result["rows_loaded"], result["rows_quarantined"]) == (
        "loaded",
        2,
        1,
    ), result
    assert result["seconds"] < 30 and result["peak_rss_mib"] * MIB <= SCALED_RSS_BOUND
    with db.cursor() as cur:
        cur.execute("select line_no, rule from audit.quarantine")
        assert cur.fetchall() == [(2, "too_deep")]


def test_deeply_nested_app_event_is_quarantined_the_rest_loads(warehouse, db, tmp_path):
    result = load_in_child("app", deep_app(tmp_path, 2000), timeout=120)
    assert (result["status"], result["rows_loaded"], result["rows_quarantined"]) == (
        "loaded",
        2,
        1,
    ), result
    with db.cursor() as cur:
        cur.execute("select line_no, rule, message, raw_text from audit.quarantine")
        ((line, rule, message, text),) = cur.fetchall()
    assert (line, rule) == (2, "too_deep")
    assert "more than 128 levels deep" in message and '"id":"a-2"' in text


def test_zip_bomb_xlsx_is_rejected_before_it_is_inflated(warehouse, tmp_path):
    path = zip_bomb_xlsx(tmp_path, 256 * MIB)
    result = load_in_child("stores", path, timeout=120)
    assert_rejected(result, "too_large", SCALED_RSS_BOUND, "xl/worksheets/sheet1.xml", "zip bomb")


def test_xlsx_over_the_inflated_size_limit_is_rejected(warehouse, tmp_path):
    path = zip_bomb_xlsx(tmp_path, 8 * MIB)
    env = {"DW_MAX_XLSX_INFLATED_BYTES": str(4 * MIB)}
    result = load_in_child("stores", path, timeout=120, env=env)
    assert_rejected(result, "too_large", SCALED_RSS_BOUND, "DW_MAX_XLSX_INFLATED_BYTES")


def test_xlsx_with_many_empty_rows_loads_its_orders(warehouse, tmp_path):
    result = load_in_child("stores", empty_rows_xlsx(tmp_path, 100_000), timeout=120)
    assert (result["status"], result["rows_loaded"]) == ("loaded", 2), result
    assert result["peak_rss_mib"] * MIB <= SCALED_RSS_BOUND


def test_gz_file_that_is_not_gzip_is_rejected(warehouse, tmp_path):
    result = load_in_child("web", not_gzip(tmp_path), timeout=60)
    assert_rejected(result, "unreadable", SCALED_RSS_BOUND, "not a readable gzip file")


def test_truncated_gz_file_is_rejected(warehouse, tmp_path):
    result = load_in_child("web", truncated_gzip(tmp_path, 200_000), timeout=60)
    assert_rejected(result, "unreadable", SCALED_RSS_BOUND, "end-of-stream marker")


def test_gz_file_inflating_past_its_limit_is_rejected(warehouse, tmp_path):
    path = gzip_bomb(tmp_path, 64 * MIB)
    env = {"DW_MAX_GZIP_INFLATED_BYTES": str(16 * MIB)}
    result = load_in_child("web", path, timeout=120, env=env)
    assert_rejected(result, "too_large", SCALED_RSS_BOUND, "DW_MAX_GZIP_INFLATED_BYTES")


# --- make fuzz-limits: full size ------------------------------------------------------------


@pytest.mark.fuzz
def test_full_size_1_gb_line_in_a_delimited_file(warehouse, tmp_path):
    result = load_in_child("halls", long_line_halls(tmp_path, GIB), timeout=600)
    assert_rejected(result, "line_too_long", PEAK_RSS_BOUND, "line 3")


@pytest.mark.fuzz
def test_full_size_1_gb_line_in_a_web_file(warehouse, tmp_path):
    result = load_in_child("web", long_line_web(tmp_path, GIB), timeout=600)
    assert_rejected(result, "line_too_long", PEAK_RSS_BOUND, "line 2")


@pytest.mark.fuzz
def test_full_size_web_line_10000_deep(warehouse, tmp_path):
    result = load_in_child("web", deep_web(tmp_path, 10_000), timeout=600)
    assert (result["status"], result["rows_quarantined"]) == ("loaded", 1), result
    assert result["peak_rss_mib"] * MIB <= PEAK_RSS_BOUND


@pytest.mark.fuzz
def test_full_size_app_event_10000_deep(warehouse, tmp_path):
    result = load_in_child("app", deep_app(tmp_path, 10_000), timeout=600)
    assert (result["status"], result["rows_quarantined"]) == ("loaded", 1), result
    assert result["peak_rss_mib"] * MIB <= PEAK_RSS_BOUND


@pytest.mark.fuzz
def test_full_size_xlsx_zip_bomb(warehouse, tmp_path):
    result = load_in_child("stores", zip_bomb_xlsx(tmp_path, 4 * GIB), timeout=600)
    assert_rejected(result, "too_large", PEAK_RSS_BOUND, "zip bomb")


@pytest.mark.fuzz
def test_full_size_xlsx_with_1048576_rows(warehouse, tmp_path):
    result = load_in_child("stores", empty_rows_xlsx(tmp_path, 1_048_576), timeout=600)
    assert (result["status"], result["rows_loaded"]) == ("loaded", 2), result
    assert result["peak_rss_mib"] * MIB <= PEAK_RSS_BOUND


@pytest.mark.fuzz
def test_full_size_xlsx_with_1048576_rows_of_empty_cells(warehouse, tmp_path):
    """The sheet XML is 285 MiB (12 styled empty cells a row): over the 256 MiB limit, which is
    what keeps the columnar path (2.5 times the XML) under 1 GiB."""
    path = empty_rows_xlsx(tmp_path, 1_048_576, cells=True)
    result = load_in_child("stores", path, timeout=600)
    assert_rejected(result, "too_large", PEAK_RSS_BOUND, "DW_MAX_XLSX_INFLATED_BYTES")
    env = {"DW_MAX_XLSX_INFLATED_BYTES": str(GIB)}  # allowed: loads, 2 orders and 1 quarantined
    result = load_in_child("stores", path, timeout=600, env=env)
    assert (result["status"], result["rows_loaded"], result["rows_quarantined"]) == (
        "loaded",
        2,
        1,
    ), result
    assert result["peak_rss_mib"] * MIB <= PEAK_RSS_BOUND


@pytest.mark.fuzz
def test_full_size_gz_cases(warehouse, tmp_path):
    result = load_in_child("web", not_gzip(tmp_path / "a"), timeout=600)
    assert_rejected(result, "unreadable", PEAK_RSS_BOUND)
    result = load_in_child("web", truncated_gzip(tmp_path / "b", 2_000_000), timeout=600)
    assert_rejected(result, "unreadable", PEAK_RSS_BOUND)
    path = tmp_path / "c" / "web" / "web_events_20261001.jsonl.gz"  # 4 GiB of zeros
    path.parent.mkdir(parents=True)
    with gzip.open(path, "wb", compresslevel=1) as fh:
        _write_repeated(fh, b"\0", 4 * GIB)
    result = load_in_child("web", path, timeout=600)
    assert_rejected(result, "line_too_long", PEAK_RSS_BOUND, "line 1")
