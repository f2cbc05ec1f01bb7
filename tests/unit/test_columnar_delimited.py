"""The columnar path of the delimited readers gives exactly what the per-record path gives.

The per-record path (``_delimited.read_delimited``) is the reference: it holds the contract's
rules and messages. The columnar path may only decide *faster*, never differently.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channel_dw.errors import FileRejected
from channel_dw.sources import _delimited_fast, crm, halls, hotline
from channel_dw.sources._delimited import read_delimited
from channel_dw.sources.base import Row
from channel_dw.sources.columnar import _no_nul, certain_datetimes

HALL_ROW = ["H1", "TY-0012", "TY", "13812345678", "2026-10-01 08:00:00", "B_PAY", "50.00", "OK"]
HALL_ROW += ["TY001201", ""]
HOTLINE_ROW = ["C1", "13812345678", "", "2026-10-01 08:00:00", "2026-10-01 08:01:00", ""]
HOTLINE_ROW += ["2026-10-01 08:01:00", "IVR自助", "", "1001", "成功", "4", "否", "TY"]
CRM_ROW = ["C000001", "+86 138-1234-5678", "M1", "a@b.cn", "TY", "GOLD", "ACTIVE"]
CRM_ROW += ["2020-01-31", "2026-10-01 08:00:00"]

CASES = {  # source module, a good record, the file name, the encoding
    "halls": (halls, HALL_ROW, "hall_txn_20261001.csv", "utf-8"),
    "hotline": (hotline, HOTLINE_ROW, "hotline_cdr_20261001.csv", "gbk"),
    "crm": (crm, CRM_ROW, "crm_customers_20261001.csv", "utf-8"),
}

# Values that sit on the edges of the rules: white space of every kind at either end, empty,
# shapes the slow path accepts and the masks do not, impossible dates, other codes.
TRICKY = [
    "",
    " ",
    " TY",
    "TY ",
    "\u3000x",
    "x\xa0",
    "\x1cx",
    "x\x85",
    "13812345678",
    " 13812345678",
    "+86 138-1234-5678",
    "86 13812345678",
    "(138)1234-5678",
    "138****5678",
    "0351-7654321",
    "2026-02-29 08:00:00",
    "2024-02-29 08:00:00",
    "2026-04-31 08:00:00",
    "2026-10-01 24:00:00",
    "2026-10-01T08:00:00",
    "2020-01-31",
    "2020-02-30",
    "1,5",
    "50.00",
    "50.001",
    "-5",
    "¥50",
    "OK",
    "FAIL",
    "B_PAY",
    "TY-0012",
    "DT-0012",
    "ty-0012",
    "IVR自助",
    "成功",
    "是",
    "否",
    "4",
    "6",
    "GOLD",
    "ACTIVE",
    "a@b",
    "ab",
    'say "hi"',
    "two\nlines",
    "nul\x00",
]


def write(tmp_path, name: str, encoding: str, module, records: list[list[str]]) -> object:
    header = ",".join(module.LAYOUT.header)
    lines = [header]
    for record in records:
        fields = []
        for value in record:
            if any(ch in value for ch in ',"\n\r'):
                value = '"' + value.replace('"', '""') + '"'
            fields.append(value)
        lines.append(",".join(fields))
    path = tmp_path / name
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding, errors="replace"))
    return path


def both(module, path):
    """(columnar items, per-record items); a FileRejected stands for its rule and line.

    A row's values are compared as they load: without NUL characters, which PostgreSQL text
    cannot hold. The columnar reader removes them as it makes its batch (``columnar.rows_table``);
    ``read_delimited``'s rows keep them until the loader makes its batch the same way. (A random
    seed of test_random_values_... found "nul\\x00" in a free-text field, 2026-12-02.)"""

    def collect(items):
        try:
            return [
                Row(i.line, tuple(map(_no_nul, i.values))) if isinstance(i, Row) else i
                for i in items
            ]
        except FileRejected as exc:
            return (exc.rule, exc.line)

    return collect(module.read(path)), collect(read_delimited(path, module.LAYOUT))


@pytest.mark.parametrize("source", sorted(CASES))
def test_many_chunks_with_planted_faults_give_what_the_per_record_path_gives(
    source, tmp_path, monkeypatch
):
    module, good, name, encoding = CASES[source]
    records = []
    for i in range(3000):
        record = [f"{v}{i}" if j == 0 else v for j, v in enumerate(good)]
        if i % 97 == 5:
            record[1] = " " + record[1]  # stripped by the per-record path
        if i % 211 == 7:
            record = record[:-1]  # a field short
        if i % 301 == 9:
            record[3] = "2026-02-30 08:00:00"
        if i % 401 == 11:
            record[0] = 'id "quoted",\nover two lines'
        records.append(record)
    path = write(tmp_path, name, encoding, module, records)
    monkeypatch.setattr(_delimited_fast, "CHUNK_BYTES", 4096)

    fast, slow = both(module, path)

    assert fast == slow
    assert sum(1 for item in fast if type(item).__name__ == "Rejection") > 20


@pytest.mark.parametrize("source", sorted(CASES))
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_random_values_never_pass_the_columnar_path_differently(source, tmp_path, data):
    module, good, name, encoding = CASES[source]
    records = []
    for _ in range(data.draw(st.integers(1, 6))):
        record = list(good)
        for j in range(len(record)):
            if data.draw(st.booleans()):
                record[j] = data.draw(
                    st.one_of(st.sampled_from(TRICKY), st.text(max_size=6)), label=f"field {j}"
                )
        records.append(record)
    path = write(tmp_path, name, encoding, module, records)

    fast, slow = both(module, path)

    assert fast == slow


@pytest.mark.parametrize("source", sorted(CASES))
def test_a_nul_in_any_field_reads_as_the_per_record_path_loads_it(source, tmp_path):
    module, good, name, encoding = CASES[source]
    records = []
    for j in range(len(good)):
        record = list(good)
        record[j] = record[j] + "\x00" if record[j] else "nul\x00"
        records.append(record)
    path = write(tmp_path, name, encoding, module, records)

    fast, slow = both(module, path)

    assert fast == slow
    assert isinstance(fast, list) and len(fast) == len(good)


@pytest.mark.parametrize("many_distinct", [False, True])
def test_gbk_values_read_as_bytes_give_what_the_per_record_path_gives(
    many_distinct, tmp_path, monkeypatch
):
    """The hotline's GBK chunks are split as bytes and decoded by distinct value; characters
    whose second byte is ASCII (丂 is 81 40, 乗 81 5C) and white space at either end are decoded
    as in their line, and a column of more distinct texts than that path takes is transcoded."""
    odd = ["丂", "乗", "表", "\u3000人工", "人工\u3000", "IVR自助 ", " 放弃", "成功", "否"]
    records = []
    for i in range(400):
        record = [f"C{i}" if j == 0 else v for j, v in enumerate(HOTLINE_ROW)]
        record[8] = f"坐席{chr(0x4E00 + i)}"  # a Chinese agent id: 400 distinct values
        for j in (1, 7, 10, 12, 13):
            if i % (j + 3) == 0:
                record[j] = odd[(i + j) % len(odd)]
        records.append(record)
    path = write(tmp_path, "hotline_cdr_20261001.csv", "gbk", hotline, records)
    monkeypatch.setattr(_delimited_fast, "_MAX_DISTINCT", 100 if many_distinct else 1000)

    fast, slow = both(hotline, path)

    assert fast == slow
    assert sum(1 for item in fast if isinstance(item, Row)) > 200


def test_datetimes_tested_on_their_bytes_match_where_the_regular_expression_matches():
    values = [
        f"{year}-{month:02d}-{day:02d} {hour:02d}:{minute:02d}:{minute:02d}"
        for year in ("0999", "1000", "2024", "2026", "9999")
        for month in range(14)
        for day in range(33)
        for hour, minute in ((0, 0), (23, 59), (24, 0), (8, 60))
    ]
    values += ["2026-10-01T08:00:00", "2026/10/01 08:00:00", "2026-10-01 08:00:0a", None, ""]
    column = pa.chunked_array([pa.array(values[:5000]), pa.array(["x", *values[5000:]]).slice(1)])
    regex = pc.match_substring_regex(column, _delimited_fast.LOCAL_DATETIME)

    quick = certain_datetimes(column)

    valid = pc.is_valid(column).to_pylist()
    want = [bool(m) for m, v in zip(regex.to_pylist(), valid, strict=True) if v]
    got = [m for m, v in zip(quick.to_pylist(), valid, strict=True) if v]
    assert got == want
    assert sum(want) == 4 * 365 * 2  # 1000, 2024, 2026, 9999; 29 February left to the calendar
    assert certain_datetimes(pa.array(["2026-10-01 08:00:00.5"])) is None  # the regex decides


def test_the_chunks_double_from_the_first_up_to_their_size(monkeypatch):
    # A small first chunk starts the COPY; the next ones double, so that PostgreSQL, done with
    # one, has the next (the first 8 MB chunk kept it waiting at the start of every load).
    import io

    from channel_dw.sources import columnar

    monkeypatch.setattr(columnar, "FIRST_CHUNK_BYTES", 100)
    data = b"".join(b"line %04d\n" % i for i in range(300))  # 10 bytes a line
    chunks = list(columnar.read_chunks(io.BytesIO(data), 800))

    assert [len(chunk) for chunk, _ in chunks] == [100, 200, 400, 800, 800, 700]
    assert [first for _, first in chunks] == [1, 11, 31, 71, 151, 231]
    assert b"".join(chunk for chunk, _ in chunks) == data
