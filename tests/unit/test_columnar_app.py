"""The app reader's columnar path gives exactly what the whole-document streaming parse gives.

The reference below is the reader as it was before the columnar path: ijson over the whole
document, each event through ``_app_event._event_item``, then the count check. Rows come out of a
batch with NUL characters removed (PostgreSQL text cannot hold them), so the reference removes them
too.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ijson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channel_dw.errors import FileRejected
from channel_dw.sources import _app_event, _app_lines, app
from channel_dw.sources import _compiled as compiled
from channel_dw.sources.base import Item, Row
from tests.fuzz import examples

NAME = "app_events_20261001.json"


def reference(path: Path) -> Iterator[Item]:
    """The streaming reader: ijson over the whole document (app.read before the fast path)."""
    name = path.name
    with path.open("rb") as f:
        start = app._content_start(f, name)
        header = app._scan_header(f, name)
        if "export_date" in header:
            export_date = header["export_date"]
        else:
            f.seek(start)
            export_date = app._first_top_level_value(f, name, "export_date")
        scalar = export_date is not _app_event._NOT_A_SCALAR
        export_date_text = _app_event._text(export_date) if scalar else None
        expected = app._expected_count(name, header["count"]) if "count" in header else None
        f.seek(start)
        position = 0
        try:
            for position, event in enumerate(ijson.items(f, "events.item", use_float=True), 1):
                item = _app_event._event_item(position, event, export_date_text)
                if isinstance(item, Row):
                    item = Row(item.line, tuple(_no_nul(v) for v in item.values))
                yield item
        except ijson.JSONError as exc:
            raise app._not_json(name, exc, after=position) from exc
        if expected is None:
            f.seek(start)
            expected = app._expected_count(name, app._first_top_level_value(f, name, "count"))
    if expected != position:
        raise FileRejected(file=name, line=None, rule="count_mismatch", message=f"{expected}")


def _no_nul(value: str | None) -> str | None:
    return None if value is None else value.replace("\x00", "")


def outcome(read, path: Path) -> tuple[list[Item], tuple | None]:
    """The items a reader yields and the file rejection it ends with, if any (the message of a
    count mismatch is left out: the reference words it shortly)."""
    items: list[Item] = []
    try:
        items.extend(read(path))
    except FileRejected as exc:
        message = None if exc.rule == "count_mismatch" else exc.message
        return items, (exc.file, exc.line, exc.rule, message, exc.text)
    return items, None


def event(n: int, **overrides: Any) -> dict[str, Any]:
    """An ordinary event as the generator writes them (... drops a key)."""
    kind = ("launch", "view", "biz", "rate", "register")[n % 5]
    base: dict[str, Any] = {
        "id": f"a-20261001-{n:07d}",
        "time_ms": 1790784000000 + n * 1000,
        "user": {"uid": f"U{n:08d}", "msisdn": None if n % 3 else "13812345678"},
        "device": {"os": "ios", "app_version": "9.2.1"},
        "type": kind,
    }
    if kind == "view":
        base["page"] = "home"
    if kind == "biz":
        base["biz"] = {"code": "PAY01", "amount_fen": 5000, "status": n % 2, "err": None}
    if kind == "rate":
        base["rating"] = {"score": n % 5 + 1}
    base.update(overrides)
    return {key: value for key, value in base.items() if value is not ...}


def line_doc(events: list[str], count: int | None = None, tail: str = "]}", head: str = "") -> str:
    """The usual layout: a header line, one event a line, then the tail."""
    count = len(events) if count is None else count
    header = head or f'{{"export_date":"2026-10-01","app":"hall-app","count":{count},"events":['
    body = ",\n".join(events)
    return f"{header}\n{body}\n{tail}\n" if events else f"{header}\n{tail}\n"


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# --- a file of several chunks ----------------------------------------------------------------

PLANTED: dict[int, str] = {  # event position -> the event line, left to the per-record rules
    3: dumps(event(3, user={"uid": "U1", "msisdn": "138****5678"})),  # bad_phone
    10: dumps(event(10, type="share")),  # unknown_code
    11: dumps(event(11, time_ms="17592777021x3")),  # bad_timestamp, a string in an int column
    12: dumps(event(12, time_ms=" 1790784012000 ")),  # an integer as text: a row
    13: dumps(event(13, time_ms=1759277702)),  # seconds
    14: dumps(event(14, time_ms=1790784014000.0)),  # a float
    15: dumps(event(15, biz={"code": "PAY01", "amount_fen": 5000.0, "status": 1})),
    16: dumps(event(16, biz={"code": "PAY01", "amount_fen": "5000", "status": "1"})),
    17: dumps(event(17, biz={"code": "PAY01", "status": True})),  # bad_value
    18: dumps(event(18, user="U0001")),  # invalid_json
    19: '"a-19"',  # not an object
    20: "null",
    21: "[1, 2]",
    22: dumps(event(22, page=None)),  # a vendor key given as null goes to extra
    23: dumps(event(23, user={"uid": "U1", "vip": 3})),  # a nested vendor key
    24: dumps(event(24, page=5)),  # a vendor value that is not text
    25: dumps(event(25, page='say "hi"')),  # text that needs escaping in extra
    26: dumps(event(26, channel_tag="push")),  # two vendor keys
    27: dumps(event(27, id=" a-27 ")),  # stripped
    28: dumps(event(28, id="")),  # missing_field
    29: dumps(event(29, id="a\x0029")),  # NUL: removed from the row
    30: dumps(event(30, device={"os": "android\u3000", "app_version": None})),
    31: json.dumps(event(31, uid="短信")),  # escaped non-ASCII (ensure_ascii)
    32: dumps(event(32, id=12345)),  # a number as id: its text
    33: dumps(event(33, id=1.5)),
    34: dumps(event(34, time_ms=9223372036854775807)),  # the largest int64
    35: '{"id":"a-35","id":"b-35","time_ms":1790784035000,"type":"launch"}',  # duplicate key
    36: '{ "id" : "a-36" , "time_ms" : 1790784036000 , "type" : "view" , "page" : null }',
    37: dumps(event(37, rating={"score": 6}, type="rate")),
    38: dumps(event(38, rating={"score": None}, type="rate")),
    39: dumps(event(39, biz={"code": "PAY01", "status": 1, "amount_fen": -0})),
    40: dumps(event(40, biz=None, rating=[])),
    41: dumps(event(41, user={"uid": "U1", "msisdn": "+86 138-1234-5678"})),
    42: dumps(event(42, user={"uid": "U1", "msisdn": "0351-7654321"})),
    43: dumps(event(43, type="biz", biz={"code": "GIFT01", "status": 1})),
    44: dumps(event(44, type="biz", biz={"code": "PAY01", "status": 2})),
    45: '{"id":"a-45","time_ms":1790784045000,"type":"view","p\\u0061ge":"x"}',  # escaped key
    46: '{"id":"a-46","time_ms":1790784046000,"type":"view","p\\u0061ge":null}',
    47: dumps(event(47, err=None, extra={"a": [1, {"b": None}]})),
    48: '{"id":"a-48","time_ms":1790784048000,"type":"view","page":"\\ud83d\\ude00"}',
    49: '{"id":"a-49","time_ms":1790784049000,"type":"view","page":"\\ud800"}',  # lone surrogate
    50: '  {"id":"a-50","time_ms":1790784050000,"type":"view"}  ',  # spaces around
    51: dumps(event(51, type="rate", rating={"score": "4"})),
    52: dumps(event(52, biz={"code": "PAY01", "err": 0})),
    53: dumps(event(53, biz={"code": "PAY01", "status": 1, "amount_fen": 999999999999999999})),
    54: dumps(event(54, biz={"code": "PAY01", "status": 1, "amount_fen": 10**18})),  # 19 digits
    55: dumps(event(55, biz={"code": "PAY01", "status": 1, "amount_fen": 1e3})),
    56: dumps(event(56, biz={}, rating=None)),
    57: '{"id":"a-57","time_ms":1790784057000,"type":"view","user":{"uid":"a"},"user":{"uid":"b"}}',
    58: '{"id":"a-58",\t"time_ms":1790784058000,"type":"view"}',  # a tab between tokens
    59: dumps(event(59, uid="U59")),  # a part's key at the top: a vendor key
    60: dumps(event(60, type="biz", biz={"status": 1})),  # no code on a biz event
    61: dumps(event(61, time_ms=4102444799999)),  # the last millisecond of 2099
    62: dumps(event(62, time_ms=4102444800000)),
    63: dumps(event(63, time_ms=-1)),
    64: dumps(event(64, page="")),
    65: dumps(event(65, type="view", page="首页", device={"os": "鸿蒙", "app_version": "9"})),
    66: dumps(event(66, type="biz", biz={"code": "PAY01", "status": None})),
}


def big_doc(events: int = 600, planted: dict[int, str] = PLANTED, **kwargs: Any) -> str:
    lines = [planted.get(n) or dumps(event(n)) for n in range(1, events + 1)]
    return line_doc(lines, **kwargs)


@pytest.fixture(params=["compiled", "columns"])
def line_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Which path reads the event lines: the compiled pass, or pyarrow's columns (where there is
    no C compiler). Both must give what the streaming parser gives."""
    if request.param == "compiled":
        assert compiled.available()
    else:
        monkeypatch.setattr(_app_lines, "_plan_for", lambda export_date: None)
    return request.param


def write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / NAME
    path.write_bytes(
        text.encode("utf-8", errors="surrogatepass") if isinstance(text, str) else text
    )
    return path


@pytest.mark.parametrize("chunk_bytes", [1, 700, 4096, 8 << 20])
def test_a_file_of_many_chunks_gives_exactly_the_streamed_items(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk_bytes: int, line_path: str
) -> None:
    monkeypatch.setattr(_app_lines, "CHUNK_BYTES", chunk_bytes)
    path = write(tmp_path, big_doc())

    items, rejected = outcome(app.read, path)

    assert rejected is None
    assert items == list(reference(path))
    by_line = {item.line: item for item in items}
    assert len(items) == 600
    assert by_line[3].rule == "bad_phone"
    assert by_line[12].values[1] == "1790784012000"
    assert by_line[14].rule == "bad_timestamp"
    assert by_line[15].rule == "bad_amount"
    assert by_line[22].values[-1] == '{"page":null}'
    assert by_line[29].values[0] == "a29"
    assert by_line[32].values[0] == "12345"
    assert by_line[39].values[8] == "0"
    assert by_line[101].values[-1] == '{"page":"home"}'


def test_ordinary_events_are_cleared_by_the_fast_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, line_path: str
) -> None:
    monkeypatch.setattr(_app_lines, "CHUNK_BYTES", 4096)
    per_record: list[int] = []
    line_item = _app_lines._line_item

    def spy(position: int, raw: bytes, export_date: str | None) -> Item:
        per_record.append(position)
        return line_item(position, raw, export_date)

    monkeypatch.setattr(_app_lines, "_line_item", spy)
    path = write(tmp_path, big_doc(2000))

    batches = list(app.read_batches(path))

    assert len(batches) > 20
    assert sum(b.num_rows + len(b.rejections) for b in batches) == 2000
    if line_path == "compiled":
        # Every planted event but those the pass takes itself: a vendor key given as null (22),
        # two vendor keys (26), spaces between the tokens (36, 50), -0 as Python writes it (39),
        # a phone in another shape (41), 18 digits (53), parts empty or null (56), a part's key
        # at the top (59), the last millisecond (61), empty vendor text (64), Chinese text (65).
        assert set(per_record) == set(PLANTED) - {22, 26, 36, 39, 41, 50, 53, 56, 59, 61, 64, 65}
        assert sum(b.text_rows for b in batches) == 2000 - len(per_record)
    else:
        assert set(range(3, 31)) - {4, 5, 6, 7, 8, 9, 12} <= set(per_record)
        # the planted events, and the neighbours of those pyarrow cannot parse (pieces of 256)
        assert len(per_record) < 1000
    for batch in batches:
        assert batch.rows.column_names == [*app.COLUMNS, "_line"]


def test_a_clean_file_is_read_without_the_per_record_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, line_path: str
) -> None:
    monkeypatch.setattr(_app_lines, "CHUNK_BYTES", 4096)

    def fail(*args: Any) -> Any:
        raise AssertionError("the per-record path was taken")

    monkeypatch.setattr(_app_lines, "_line_item", fail)
    monkeypatch.setattr(app, "_streamed_events", fail)
    path = write(tmp_path, big_doc(1000, planted={}))

    items = list(app.read(path))

    assert len(items) == 1000 and all(isinstance(i, Row) for i in items)
    assert items[1] == Row(
        2,
        (
            "a-20261001-0000002",
            "1790784002000",
            "U00000002",
            None,
            "ios",
            "9.2.1",
            "biz",
            "PAY01",
            "5000",
            "0",
            None,
            None,
            "2026-10-01",
            None,
        ),
    )


# --- layouts: what the line reading cannot vouch for goes to the streaming parser -----------

_EVENTS = [dumps(event(n)) for n in range(1, 301)]
_LINES = line_doc(_EVENTS)
_HEADER = '{"export_date":"2026-10-01","app":"hall-app","count":300,"events":['

LAYOUTS: dict[str, str | bytes] = {
    "usual": _LINES,
    "crlf": _LINES.replace("\n", "\r\n"),
    "bom": "\ufeff" + _LINES,
    "count after": line_doc(
        _EVENTS, head='{"export_date":"2026-10-01","events":[', tail=('],"count":300}')
    ),
    "count after, wrong": line_doc(_EVENTS, head='{"events":[', tail='],"count":299}'),
    "count after, twice": line_doc(_EVENTS, head='{"events":[', tail='],"count":300,"count":1}'),
    "export_date after": line_doc(
        _EVENTS, head='{"count":300,"events":[', tail=('],"export_date":"2026-10-02"}')
    ),
    "no export_date": line_doc(_EVENTS, head='{"count":300,"events":['),
    "wrong count": line_doc(_EVENTS, count=301),
    "empty day": line_doc([], count=0),
    "empty day, wrong count": line_doc([], count=2),
    "pretty": json.dumps(
        {"export_date": "2026-10-01", "count": 300, "events": [event(n) for n in range(1, 301)]},
        indent=2,
    ),
    "one line": dumps(
        {"export_date": "2026-10-01", "count": 300, "events": [event(n) for n in range(1, 301)]}
    ),
    "blank line": _LINES.replace(_EVENTS[150] + ",\n", _EVENTS[150] + ",\n\n"),
    "missing comma": _LINES.replace(_EVENTS[150] + ",\n", _EVENTS[150] + "\n"),
    "trailing comma": line_doc([*_EVENTS[:-1], _EVENTS[-1] + ","], count=300),
    "two on a line": _LINES.replace(_EVENTS[150] + ",\n", _EVENTS[150] + ","),
    "two on a line, spaced": _LINES.replace(_EVENTS[150] + ",\n", _EVENTS[150] + ", "),
    "one across lines": _LINES.replace(_EVENTS[150], _EVENTS[150].replace(',"type"', ',\n"type"')),
    "closed on the last line": _LINES.replace(_EVENTS[-1] + "\n]}", _EVENTS[-1] + "]}"),
    "cut mid event": _LINES[: _LINES.index(_EVENTS[200]) + 40],
    "cut after an event": _LINES[: _LINES.index(_EVENTS[200]) + len(_EVENTS[200]) + 2],
    "not closed": _LINES[: _LINES.rindex("]}")],
    "garbage after": _LINES + "x",
    "second document": _LINES + _LINES,
    "second events array": _LINES.replace("]}", '],"events":[1,2]}'),
    "trailing keys": _LINES.replace("]}", '],"vendor":{"a":[1,2,{"b":"]"}]},"n":null}'),
    "closing indented": _LINES.replace("\n]}", "\n  ]\n}\n\n"),
    "header keys after events opened": _HEADER + _EVENTS[0] + ",\n" + _LINES.split("\n", 2)[2],
    "header spaced": _LINES.replace(_HEADER, _HEADER.replace(":", ": ").replace(",", ", ")),
    "header with events twice": _LINES.replace('"app":"hall-app"', '"app":"events"'),
    "header escaped": _LINES.replace('"hall-app"', '"hall\\u002dapp"'),
    "events not an array": '{"count":0,"events":{}}',
    "events in a nested object": '{"count":0,"x":{"events":[\n]},"events":[]}',
    "bad utf-8 in an event": _LINES.encode().replace(b"U00000150", b"U\xff0000150"),
    "bad utf-8 after the events": _LINES.encode().replace(b"]}", b'],"x":"\xff"}'),
    "int64 minimum": _LINES.replace('"amount_fen":5000', f'"amount_fen":{-(2**63)}', 1),
    "integer overflow": _LINES.replace(
        '"time_ms":1790784150000', '"time_ms":12345678901234567890123'
    ),
    "nan": _LINES.replace('"time_ms":1790784150000', '"time_ms":NaN'),
    "nan in a vendor key": _LINES.replace('"page":"home"', '"page":NaN', 1),
    "comment": _LINES.replace(_EVENTS[9] + ",", _EVENTS[9] + ", // x"),
    "indented events": _LINES.replace("\n{", "\n  {"),
    "trailing comma in an event": _LINES.replace(_EVENTS[9], _EVENTS[9][:-1] + ",}"),
    "trailing comma in a part": _LINES.replace('"9.2.1"}', '"9.2.1",}', 1),
    "leading zero": _LINES.replace('"amount_fen":5000', '"amount_fen":05000', 1),
    "a part not closed": _LINES.replace(_EVENTS[9], _EVENTS[9][:-1]),
}


# Chunks of one line each through the C pass only: the columnar path is the fall-back.
@pytest.mark.parametrize(
    ("chunk_bytes", "line_path"),
    [
        (1, "compiled"),
        (3000, "compiled"),
        (3000, "columns"),
        (8 << 20, "compiled"),
        (8 << 20, "columns"),
    ],
    indirect=["line_path"],
)
@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_every_layout_reads_as_the_streaming_parser_reads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk_bytes: int, layout: str, line_path: str
) -> None:
    monkeypatch.setattr(_app_lines, "CHUNK_BYTES", chunk_bytes)
    path = write(tmp_path, LAYOUTS[layout])

    assert outcome(app.read, path) == outcome(reference, path)


def test_count_mismatch_keeps_its_message(tmp_path: Path) -> None:
    path = write(tmp_path, LAYOUTS["count after, wrong"])

    with pytest.raises(FileRejected) as caught:
        list(app.read(path))

    assert caught.value.rule == "count_mismatch"
    assert caught.value.message.startswith("count says 299 events but the document holds 300")


# --- the property: whatever the values, the columnar path reads as the streaming one --------

_SPACE = st.sampled_from(
    [" ", "\t", "\u3000", "\xa0", "\x1c", "\x85", "\x00", "\r", "\n", "\ufeff"]
)
_PIECE = st.sampled_from(
    ["a", "é", "短", '"', "\\", "0", "1", "-", ".", "e", "+86", "138", "1234", "5678", "null"]
)
_TEXT = st.lists(st.one_of(_SPACE, _PIECE), max_size=5).map("".join)
_INTS = st.one_of(
    st.integers(-5, 10),
    st.integers(946_684_799_990, 946_684_800_010),
    st.integers(4_102_444_799_990, 4_102_444_800_010),
    st.integers(1790784000000, 1790870400000),
    st.integers(-(2**63), 2**63 - 1),
)
_SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    _INTS,
    _INTS.map(str),
    _INTS.map(lambda i: f" {i}"),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([5000.0, 1.0, -0.0, 1e3, 1.5, 1e20]),
    _TEXT,
)
_ODD = st.one_of(
    _SCALAR, st.lists(_SCALAR, max_size=2), st.dictionaries(_TEXT, _SCALAR, max_size=2)
)
_VALUES = {
    "id": st.one_of(st.sampled_from(["a-1", "a 2", "Z"]), _ODD),
    "time_ms": st.one_of(st.integers(1790784000000, 1790870400000), _ODD),
    "type": st.one_of(st.sampled_from(sorted(_app_event.EVENT_TYPES)), _ODD),
    "uid": st.one_of(st.sampled_from(["U1", "U 2"]), _ODD),
    "msisdn": st.one_of(
        st.sampled_from(["13812345678", "+86 138-1234-5678", "0086 13812345678", "138****5678"]),
        _ODD,
    ),
    "os": st.one_of(st.just("ios"), _ODD),
    "app_version": st.one_of(st.just("9.2.1"), _ODD),
    "code": st.one_of(st.sampled_from(sorted(_app_event.BIZ_CODES)), _ODD),
    "amount_fen": st.one_of(st.integers(-10, 100000), _ODD),
    "status": st.one_of(st.sampled_from([0, 1]), _ODD),
    "err": st.one_of(st.just("E1001"), _ODD),
    "score": st.one_of(st.integers(1, 5), _ODD),
}
_ABSENT = object()


@st.composite
def _event(draw: st.DrawFn) -> Any:
    """An event close to an ordinary one: some values drawn from odd ones, some keys dropped,
    vendor keys added at the top or inside a part, a part that is no object."""
    if draw(st.integers(0, 30)) == 0:
        return draw(_ODD)
    value = {key: draw(strategy) for key, strategy in _VALUES.items()}
    for key in draw(st.lists(st.sampled_from(sorted(value)), max_size=2)):
        value[key] = _ABSENT
    doc: dict[str, Any] = {}
    for key in ("id", "time_ms", "type"):
        doc[key] = value[key]
    parts = {
        "user": {"uid": value["uid"], "msisdn": value["msisdn"]},
        "device": {"os": value["os"], "app_version": value["app_version"]},
        "biz": {k: value[k] for k in ("code", "amount_fen", "status", "err")},
        "rating": {"score": value["score"]},
    }
    for parent, part in parts.items():
        doc[parent] = {k: v for k, v in part.items() if v is not _ABSENT}
    for key in draw(st.lists(st.sampled_from(["user", "device", "biz", "rating"]), max_size=2)):
        doc[key] = draw(st.one_of(st.none(), _SCALAR, st.just({})))
    for _ in range(draw(st.integers(0, 2))):
        where = draw(st.sampled_from([None, "user", "biz"]))
        key = draw(st.one_of(st.sampled_from(["page", "tag", "vip", 'q"k', "id"]), _TEXT))
        extra = draw(st.one_of(st.sampled_from(["home", "me"]), _ODD))
        if where is None:
            doc.setdefault(key, extra)
        elif isinstance(doc.get(where), dict):
            doc[where].setdefault(key, extra)
    keys = list(doc)
    order = draw(st.permutations(keys)) if draw(st.booleans()) else keys
    return {k: doc[k] for k in order if doc[k] is not _ABSENT}


_EVENT = _event()


@settings(
    max_examples=examples(100, 300),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    events=st.lists(_EVENT, min_size=0, max_size=25),
    ascii_only=st.booleans(),
    spaced=st.booleans(),
    chunk_bytes=st.sampled_from([1, 500, 8 << 20]),
)
def test_any_events_read_as_the_streaming_parser_reads_them(
    events: list[Any], ascii_only: bool, spaced: bool, chunk_bytes: int
) -> None:
    separators = (", ", ": ") if spaced else (",", ":")
    lines = [json.dumps(e, ensure_ascii=ascii_only, separators=separators) for e in events]
    old = _app_lines.CHUNK_BYTES
    _app_lines.CHUNK_BYTES = chunk_bytes
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = write(Path(tmp), line_doc(lines))
            got = outcome(app.read, path)
            assert got == outcome(reference, path)
    finally:
        _app_lines.CHUNK_BYTES = old
    if got[1] is None:  # (-2**63 makes the document unreadable)
        assert [item.line for item in got[0]] == list(range(1, len(events) + 1))


@settings(max_examples=examples(100, 300), deadline=None)
@given(odd=_EVENT)
def test_one_event_among_ordinary_ones_reads_as_streamed(odd: Any) -> None:
    lines = [dumps(event(n)) for n in range(1, 40)]
    lines.insert(17, dumps(odd))
    with tempfile.TemporaryDirectory() as tmp:
        path = write(Path(tmp), line_doc(lines))
        got = outcome(app.read, path)
        assert got == outcome(reference, path)
    if got[1] is None:
        assert [item.line for item in got[0]] == list(range(1, 41))
