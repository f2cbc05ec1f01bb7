"""The compiled pass of the delimited readers (``_compiled.c``) takes only what the columnar masks
take, and what it takes it renders as the loader would.

tests/unit/test_columnar_delimited.py compares whole files with the per-record path (which the
readers now read through this pass); here each test of the C file is compared, value by value,
with the regular expression of the columnar path it stands for.
"""

from __future__ import annotations

import itertools
import json

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channel_dw import generate
from channel_dw.sources import _compiled, _delimited_fast, columnar, halls, hotline, sms, web
from channel_dw.sources._compiled import Rule
from channel_dw.sources.base import REGIONS, Row

pytestmark = pytest.mark.skipif(not _compiled.available(), reason="no C compiler here")

REGEX = {
    _compiled.MOBILE: columnar.MOBILE_SHAPES,
    _compiled.MOBILE_OR_LANDLINE: f"{columnar.MOBILE_SHAPES}|{_delimited_fast.LANDLINE}",
    _compiled.DATETIME: _delimited_fast.LOCAL_DATETIME,
    _compiled.DATE: _delimited_fast.LOCAL_DATE,
    _compiled.YUAN: _delimited_fast.DECIMAL_YUAN,
    _compiled.HALL_CODE: rf"^(?:{'|'.join(REGIONS)})-[0-9]{{4}}$",
    # the SMS hall's (sms._CLEAR's parts; taken() lists REGIONS as the commands)
    _compiled.COMPACT_DATETIME: rf"^{sms._RECV_TIME}$",
    _compiled.FEN: r"^-?[0-9]{1,12}$",
    _compiled.COMMAND: rf"^(?:{'|'.join(REGIONS)}|{sms.PLAN_CHANGE_PREFIX}{sms._PLAN})$",
    _compiled.RECORD_ID: r"^[0-9A-Za-z][^,]*$",  # (a comma is taken()'s separator)
}


def taken(kind: int, values: list[str]) -> list[bool]:
    """Whether the compiled pass takes each value as a record's one required column."""
    plan = _compiled.Plan(["v"], {"v": Rule(kind, values=REGIONS)}, [0], "utf-8")
    data = "".join(f"{v}\n" for v in values).encode()
    _, _, slow = plan.run(data, 1)
    doubted = set(slow[:, 0].tolist())
    return [i not in doubted for i in range(len(values))]


def regex_takes(kind: int, values: list[str]) -> list[bool]:
    return [bool(m) for m in pc.match_substring_regex(pa.array(values), REGEX[kind]).to_pylist()]


EDGES = [
    "13812345678",
    "+86 138-1234-5678",
    "+8613812345678",
    "0086-138 1234 5678",
    "86 13812345678",
    "8613812345678",
    "86-23812345678",
    "+86  13812345678",
    "138-1234-567",
    "138 1234 56789",
    "23812345678",
    "+86",
    "86",
    "0351-7654321",
    "03517654321",
    "035176543210",
    "0351-765432",
    "010-12345678",
    "0-12345678",
    "01-1234567",
    "0351--7654321",
    "50.00",
    "-5",
    "-",
    "5.",
    ".5",
    "5.123",
    "1,299",
    "--5",
    "2026-10-01",
    "2026-02-28",
    "2026-02-29",
    "2024-02-29",
    "2026-04-31",
    "2026-12-31",
    "0999-01-01",
    "1000-01-01",
    "2026-13-01",
    "2026-00-10",
    "2026-10-00",
    "2026-10-01 23:59:59",
    "2026-10-01 24:00:00",
    "2026-10-01 08:60:00",
    "2026-10-01 08:00:60",
    "2026-10-01T08:00:00",
    "2026-10-01 8:00:00",
    "TY-0012",
    "ty-0012",
    "XX-0012",
    "TY-012",
    "TY-00123",
    "TY_0012",
    "20261001081502",
    "20261231235959",
    "20261001240000",
    "20261001086000",
    "20261001080060",
    "20260229081502",
    "20280229081502",
    "20260431081502",
    "20261301081502",
    "20261000081502",
    "09991231235959",
    "10000101000000",
    "2026100108150",
    "202610010815021",
    "2026-10-0108:15",
    "999999999999",
    "-999999999999",
    "1000000000000",
    "-0",
    "007",
    "5-",
    "BLTC_",
    "BLTC__",
    "BLTC_-",
    "BLTC_a",
    "BLTC_5G-FAMILY_199",
    "BLTC_a.b",
    "BLTC_短",
    "bltc_a",
    "BLTCa",
    "#TRAILER",
    "S1",
    "_1",
    "短信1",
]


@pytest.mark.parametrize("kind", sorted(REGEX))
def test_each_test_takes_exactly_what_its_regular_expression_matches_on_the_edges(kind):
    assert taken(kind, EDGES) == regex_takes(kind, EDGES)


@pytest.mark.parametrize("kind", sorted(REGEX))
@settings(max_examples=150, deadline=None)
@given(
    values=st.lists(
        st.text(alphabet="0123456789+- .:TYX", min_size=1, max_size=20).filter(
            lambda v: v.strip() == v
        ),
        min_size=1,
        max_size=40,
    )
)
def test_each_test_takes_exactly_what_its_regular_expression_matches_at_random(kind, values):
    assert taken(kind, values) == regex_takes(kind, values)


def test_every_datetime_of_a_leap_and_a_common_year_is_judged_as_the_regex_judges_it():
    values = [
        f"{year}-{month:02d}-{day:02d} {hour:02d}:{minute:02d}:00"
        for year, month, day in itertools.product((2024, 2026), range(14), range(33))
        for hour, minute in ((0, 0), (23, 59), (24, 0))
    ]
    assert taken(_compiled.DATETIME, values) == regex_takes(_compiled.DATETIME, values)


def test_every_compact_datetime_of_a_leap_and_a_common_year_is_judged_as_the_regex_judges_it():
    values = [
        f"{year}{month:02d}{day:02d}{hour:02d}{minute:02d}{second:02d}"
        for year, month, day in itertools.product((2024, 2026), range(14), range(33))
        for hour, minute, second in ((0, 0, 0), (23, 59, 59), (24, 0, 0), (8, 60, 0), (8, 0, 60))
    ]
    kind = _compiled.COMPACT_DATETIME
    assert taken(kind, values) == regex_takes(kind, values)


def test_a_record_is_rendered_as_copy_text_in_contract_order_with_its_line_number():
    # the file's columns in another order than the contract's; a GBK listed value written in UTF-8
    columns = ("id", "service", "region")
    rules = {
        "id": Rule(_compiled.FREE),
        "service": Rule(_compiled.MEMBER, values=hotline.SERVICE_TYPES),
        "region": Rule(_compiled.MEMBER, required=False, values=REGIONS),
    }
    plan = _compiled.Plan(columns, rules, [1, 2, 0], "gbk")
    data = "TY,C1,人工\r\n\r\n,C2,放弃\nTY,C3 ,人工\n,,人工\nTY,C5,坐席\n".encode("gbk")

    text, count, slow = plan.run(data, 7)

    assert text.decode() == "C1\t人工\tTY\t7\nC2\t放弃\t\\N\t9\n"
    assert count == 2
    # white space at an end, a required value missing, a value not listed: the per-record path
    assert slow.tolist() == [[3, 23, 35], [4, 35, 42], [5, 42, 53]]
    assert data[23:35] == "TY,C3 ,人工\n".encode("gbk")


def test_without_a_compiler_the_readers_give_the_same_items(tmp_path, monkeypatch):
    path = tmp_path / "hall_txn_20261001.csv"
    lines = [",".join(halls.COLUMNS)]
    lines += [f"H{i},TY-0012,TY,13812345678,2026-10-01 08:00:00,B_PAY,,OK,,R{i}" for i in range(50)]
    lines[20] = lines[20].replace("B_PAY", "B_NOPE")
    path.write_text("\n".join(lines) + "\n")
    compiled_items = list(halls.read(path))
    assert all(batch.text_rows for batch in halls.read_batches(path))
    monkeypatch.setattr(_compiled, "available", lambda: False)

    assert list(halls.read(path)) == compiled_items
    assert [type(i).__name__ for i in compiled_items].count("Rejection") == 1


TS_EDGES = [
    "2026-10-01T08:15:02+08:00",
    "2026-10-01T08:15:02.123+08:00",
    "2026-10-01T08:15:02.1234567+08:00",
    "2026-10-01T08:15:02.+08:00",
    "2026-10-01T08:15:02Z",
    "2026-10-01T08:15:02z",
    "2026-10-01T08:15:02",
    "2026-10-01T08:15:02+24:00",
    "2026-10-01T08:15:02+08:60",
    "2026-10-01T08:15:02+0800",
    "2026-10-01T08:15:02-05:30",
    "2026-10-01 08:15:02+08:00",
    "2026-02-29T08:15:02+08:00",
    "2026-10-01T24:15:02+08:00",
]
AMOUNT_EDGES = ["50", "50.00", "+5", "-5.5", "5.", ".5", "1,299", "¥50", "5e3", "--5", "0.123456"]


def json_taken(key: str, values: list[str]) -> list[bool]:
    """Whether the web's compiled pass takes a page view whose ``key`` is each value."""
    base = {"event_id": "e", "ts": "2026-10-01T08:00:00Z", "visitor_id": "v", "event": "page_view"}
    lines = [json.dumps({**base, key: v}, ensure_ascii=False) for v in values]
    _, _, slow = web._PLAN.run(("\n".join(lines) + "\n").encode(), 1)
    doubted = set(slow[:, 0].tolist())
    return [i not in doubted for i in range(len(values))]


@pytest.mark.parametrize(
    ("key", "regex", "values"),
    [("ts", web._TS, TS_EDGES), ("amount", columnar.DECIMAL, AMOUNT_EDGES)],
)
def test_the_web_pass_takes_ts_and_amount_where_the_columnar_regex_matches(key, regex, values):
    want = [bool(m) for m in pc.match_substring_regex(pa.array(values), regex).to_pylist()]
    assert json_taken(key, values) == want


def test_the_web_pass_gives_what_the_columnar_path_gives_on_a_generated_day(tmp_path, monkeypatch):
    path = tmp_path / "web_events_20261001.jsonl"
    generate.write_web_events(path, 3000)
    with path.open("a", encoding="utf-8") as fh:  # what the pass leaves to the per-record path
        fh.write('{"event_id":"x1","ts":"2026-10-01T08:00:00Z","visitor_id":"v","event":"login",')
        fh.write('"ua":"a\\"b"}\n{"event_id":"x2","ts":1,"visitor_id":"v","event":"login"}\n')
        fh.write('{"event_id":"x3", "ts":"2026-10-01T08:00:00Z","visitor_id":"v",')
        fh.write('"event":"biz_result","biz_code":"WEB_PAY","sdk":"3.1","sdk":null}\n')
    batches = list(web.read_batches(path))
    compiled_items = list(web.read(path))
    monkeypatch.setattr(_compiled, "available", lambda: False)
    columnar_items = list(web.read(path))

    assert sum(b.text_rows for b in batches) >= 2900  # the pass read the file
    assert [i.line for i in compiled_items] == [i.line for i in columnar_items]
    for got, want in zip(compiled_items, columnar_items, strict=True):
        if isinstance(want, Row) and want.values[-1] is not None:  # jsonb keeps no key order
            got = (got.values[:-1], json.loads(got.values[-1]))
            want = (want.values[:-1], json.loads(want.values[-1]))
        assert got == want


def test_the_library_is_built_once_and_a_failed_build_says_why(tmp_path, monkeypatch):
    for name in _compiled._SOURCES:
        (tmp_path / name).write_bytes((_compiled._FOLDER / name).read_bytes())
    monkeypatch.setattr(_compiled, "_FOLDER", tmp_path)
    monkeypatch.setattr(_compiled.tempfile, "gettempdir", lambda: str(tmp_path / "tmp"))
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "_compiled-0000000000000000.so").write_bytes(b"an older build")

    built = _compiled._built()

    assert built.parent == tmp_path / "__pycache__"
    assert [p.name for p in built.parent.iterdir()] == [built.name]  # the older build removed
    assert _compiled._built() == built  # not built again
    assert _compiled._load(built).count_byte(b"a\nb\n", 4, 10) == 2

    built.unlink()
    monkeypatch.setenv("CC", "false")  # a compiler that fails
    with pytest.raises(OSError, match="could not build"):
        _compiled._built()
