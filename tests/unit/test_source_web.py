"""The web event-log reader: rows as delivered, row rules, file rules."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from channel_dw.errors import FileRejected
from channel_dw.sources import web
from channel_dw.sources.base import Rejection, Row

FIXTURE = Path(__file__).parents[1] / "fixtures" / "web" / "web_events_20261001.jsonl"

# The raw values of the fixture's good lines, written out by hand.
LINE_1 = (
    "w-0001",
    "2026-10-01T08:15:02.123+08:00",
    "s-01",
    "v-01",
    None,
    None,
    "page_view",
    None,
    None,
    None,
    None,
    None,
    "/home",
    None,
)
LINE_2 = (
    "w-0002",
    "2026-10-01T08:16:00+08:00",
    "s-01",
    "v-01",
    "M00012345",
    "+86 138-1234-5678",
    "login",
    None,
    None,
    None,
    None,
    None,
    "/login",
    '{"ab_bucket":"B","geo":{"city":"TY","lat":37.87}}',
)
LINE_3 = (
    "w-0003",
    "2026-10-01T08:17:30+08:00",
    "s-01",
    "v-01",
    "M00012345",
    "13812345678",
    "biz_submit",
    "WEB_PAY",
    "O-0001",
    "50.00",
    None,
    None,
    "/biz/pay",
    None,
)
LINE_4 = (
    "w-0004",
    "2026-10-01T08:17:35+08:00",
    "s-01",
    "v-01",
    "M00012345",
    "13812345678",
    "biz_result",
    "WEB_PAY",
    "O-0001",
    "50.00",
    "success",
    None,
    "/biz/pay",
    None,
)
LINE_10 = (
    "w-0007",
    "2026-09-30T23:59:59Z",
    "s-03",
    "v-03",
    None,
    None,
    "biz_result",
    "WEB_BILLQ",
    None,
    None,
    "fail",
    "timeout",
    "/biz/bill",
    None,
)


def event(**overrides: object) -> dict[str, object]:
    """A valid page_view event, changed by ``overrides`` (a value of ... drops the key)."""
    base: dict[str, object] = {
        "event_id": "w-1",
        "ts": "2026-10-01T08:00:00+08:00",
        "session_id": "s-1",
        "visitor_id": "v-1",
        "event": "page_view",
        "page": "/home",
    }
    base.update(overrides)
    return {key: value for key, value in base.items() if value is not ...}


def write_lines(tmp_path: Path, lines: list[str], name: str = "web_events_20261001.jsonl") -> Path:
    path = tmp_path / name
    data = "".join(line + "\n" for line in lines).encode()
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    return path


def read_one(tmp_path: Path, **overrides: object) -> Row | Rejection:
    items = list(web.read(write_lines(tmp_path, [json.dumps(event(**overrides))])))
    assert len(items) == 1
    return items[0]


# --- the checked-in fixture ------------------------------------------------------------------


def test_fixture_yields_rows_and_rejections_with_physical_line_numbers() -> None:
    items = list(web.read(FIXTURE))

    assert [(type(i).__name__, i.line) for i in items] == [
        ("Row", 1),
        ("Row", 2),
        ("Row", 3),
        ("Row", 4),
        ("Row", 5),
        ("Rejection", 6),
        ("Rejection", 7),
        ("Rejection", 9),
        ("Row", 10),
    ]
    assert items[0] == Row(1, LINE_1)
    assert items[2] == Row(3, LINE_3)
    assert items[8] == Row(10, LINE_10)


def test_duplicate_events_are_both_yielded_for_staging_to_deduplicate() -> None:
    items = list(web.read(FIXTURE))

    assert items[3] == Row(4, LINE_4)
    assert items[4] == Row(5, LINE_4)


def test_vendor_keys_are_kept_in_extra_as_compact_json() -> None:
    items = list(web.read(FIXTURE))

    assert items[1] == Row(2, LINE_2)
    assert json.loads(items[1].values[-1]) == {
        "ab_bucket": "B",
        "geo": {"city": "TY", "lat": 37.87},
    }


def test_masked_phone_is_quarantined_with_its_line() -> None:
    rejection = list(web.read(FIXTURE))[5]

    assert rejection == Rejection(
        6,
        "bad_phone",
        "msisdn '138****5678' is masked",
        FIXTURE.read_text().splitlines()[5],
    )


def test_impossible_date_is_quarantined_as_bad_timestamp_with_its_line() -> None:
    rejection = list(web.read(FIXTURE))[6]

    assert rejection.line == 7
    assert rejection.rule == "bad_timestamp"
    assert rejection.message == (
        "ts '2026-10-32T08:00:00+08:00' is not an ISO 8601 timestamp with an offset"
    )
    assert rejection.text == FIXTURE.read_text().splitlines()[6]


def test_line_that_is_not_json_is_quarantined_as_invalid_json() -> None:
    rejection = list(web.read(FIXTURE))[7]

    assert (rejection.line, rejection.rule, rejection.text) == (9, "invalid_json", "{oops")
    assert rejection.message.startswith("the line is not valid JSON")


def test_gzip_file_gives_the_same_items_as_the_plain_file(tmp_path: Path) -> None:
    gz = tmp_path / "web_events_20261001.jsonl.gz"
    gz.write_bytes(gzip.compress(FIXTURE.read_bytes()))

    assert list(web.read(gz)) == list(web.read(FIXTURE))


# --- phones ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape",
    [
        "13812345678",
        "+86 138-1234-5678",
        "0086 13812345678",
        "138 1234 5678",
        "86 13812345678",
        "+8613812345678",
        "(+86) 138.1234.5678",
    ],
)
def test_every_phone_shape_is_accepted_and_stored_as_delivered(tmp_path: Path, shape: str) -> None:
    item = read_one(tmp_path, event="login", member_id="M1", msisdn=shape)

    assert isinstance(item, Row)
    assert item.values[5] == shape


@pytest.mark.parametrize(
    ("msisdn", "message"),
    [
        ("138****5678", "msisdn '138****5678' is masked"),
        ("0351-7654321", "msisdn '0351-7654321' is not a mainland mobile number"),
        ("1381234567", "msisdn '1381234567' is not a mainland mobile number"),
        ("23812345678", "msisdn '23812345678' is not a mainland mobile number"),
    ],
)
def test_phone_that_is_no_mobile_number_is_quarantined(
    tmp_path: Path, msisdn: str, message: str
) -> None:
    item = read_one(tmp_path, event="login", msisdn=msisdn)

    assert isinstance(item, Rejection)
    assert (item.rule, item.message) == ("bad_phone", message)


def test_empty_phone_is_stored_as_null_not_quarantined(tmp_path: Path) -> None:
    item = read_one(tmp_path, msisdn="  ")

    assert isinstance(item, Row)
    assert item.values[5] is None


# --- row rules -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "rule", "message"),
    [
        (
            {"ts": ...},
            "missing_field",
            "ts is missing (every event needs event_id, ts, visitor_id and event)",
        ),
        (
            {"event_id": "", "visitor_id": None},
            "missing_field",
            "event_id and visitor_id are missing "
            "(every event needs event_id, ts, visitor_id and event)",
        ),
        (
            {"ts": "2026-10-01T08:00:00"},
            "bad_timestamp",
            "ts '2026-10-01T08:00:00' is not an ISO 8601 timestamp with an offset",
        ),
        (
            {"ts": "2026-10-01 08:00:00+08:00"},
            "bad_timestamp",
            "ts '2026-10-01 08:00:00+08:00' is not an ISO 8601 timestamp with an offset",
        ),
        (
            {"ts": "20261001T080000+0800"},
            "bad_timestamp",
            "ts '20261001T080000+0800' is not an ISO 8601 timestamp with an offset",
        ),
        (
            {"ts": 1759277702123},
            "bad_timestamp",
            "ts '1759277702123' is not an ISO 8601 timestamp with an offset",
        ),
        (
            {"event": "click"},
            "unknown_code",
            "event 'click' is not one of page_view, login, register, biz_submit, biz_result",
        ),
        (
            {"event": "biz_submit"},
            "missing_field",
            "biz_code is missing on a biz_submit event",
        ),
        (
            {"event": "biz_submit", "biz_code": "PAY01"},
            "unknown_code",
            "biz_code 'PAY01' on a biz_submit event is not a web business code",
        ),
        (
            {"event": "biz_result", "biz_code": "WEB_PAY"},
            "missing_field",
            "result is missing on a biz_result event",
        ),
        (
            {"event": "biz_result", "biz_code": "WEB_PAY", "result": "ok"},
            "bad_value",
            "result 'ok' on a biz_result event is not success or fail",
        ),
        (
            {"amount": "¥50.00"},
            "bad_amount",
            "amount '¥50.00' is not a decimal number of yuan",
        ),
        (
            {"amount": "50,00"},
            "bad_amount",
            "amount '50,00' is not a decimal number of yuan",
        ),
    ],
)
def test_row_rule_quarantines_the_line_with_a_message_naming_field_and_value(
    tmp_path: Path, overrides: dict[str, object], rule: str, message: str
) -> None:
    item = read_one(tmp_path, **overrides)

    assert isinstance(item, Rejection)
    assert (item.line, item.rule, item.message) == (1, rule, message)
    assert item.text == json.dumps(event(**overrides))


@pytest.mark.parametrize("line", ["[1, 2]", '"page_view"', "null"])
def test_json_that_is_not_an_object_is_quarantined_as_invalid_json(
    tmp_path: Path, line: str
) -> None:
    (item,) = web.read(write_lines(tmp_path, [line]))

    assert isinstance(item, Rejection)
    assert (item.rule, item.text) == ("invalid_json", line)


def test_codes_only_checked_on_the_events_that_carry_them(tmp_path: Path) -> None:
    item = read_one(tmp_path, biz_code="SOMETHING", result="maybe")

    assert isinstance(item, Row)
    assert (item.values[7], item.values[10]) == ("SOMETHING", "maybe")


@pytest.mark.parametrize("amount", ["50.00", "0", "-12.5", "199"])
def test_decimal_amounts_are_accepted(tmp_path: Path, amount: str) -> None:
    item = read_one(tmp_path, amount=amount)

    assert isinstance(item, Row)
    assert item.values[9] == amount


def test_values_are_stripped_and_non_strings_kept_as_json_text(tmp_path: Path) -> None:
    item = read_one(
        tmp_path,
        event_id="  w-9 ",
        session_id=12345,
        member_id=True,
        amount=50,
        page="",
        fail_reason={"code": 7},
    )

    assert item == Row(
        1,
        (
            "w-9",
            "2026-10-01T08:00:00+08:00",
            "12345",
            "v-1",
            "true",
            None,
            "page_view",
            None,
            None,
            "50",
            None,
            '{"code":7}',
            None,
            None,
        ),
    )


def test_blank_lines_and_a_byte_order_mark_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "web_events_20261001.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(event()).encode() + b"\r\n\r\n  \n")

    items = list(web.read(path))

    assert [(type(i).__name__, i.line) for i in items] == [("Row", 1)]


# --- file rules ------------------------------------------------------------------------------


def test_invalid_utf8_rejects_the_file_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "web_events_20261001.jsonl"
    good = json.dumps(event()).encode()
    bad = json.dumps(event(page="/x")).encode().replace(b"/x", b"/\xff")
    path.write_bytes(good + b"\n" + bad + b"\n")

    with pytest.raises(FileRejected) as caught:
        list(web.read(path))

    assert (caught.value.file, caught.value.line, caught.value.rule) == (
        "web_events_20261001.jsonl",
        2,
        "bad_encoding",
    )
    assert caught.value.message.startswith("line 2 is not valid UTF-8")


def test_gz_file_that_is_not_gzip_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "web_events_20261001.jsonl.gz"
    path.write_bytes(json.dumps(event()).encode() + b"\n")

    with pytest.raises(FileRejected) as caught:
        list(web.read(path))

    assert (caught.value.file, caught.value.line, caught.value.rule) == (
        "web_events_20261001.jsonl.gz",
        None,
        "unreadable",
    )


def test_gz_file_cut_short_is_unreadable_after_its_first_rows(tmp_path: Path) -> None:
    lines = [json.dumps(event(event_id=f"w-{i}")) for i in range(2000)]
    whole = write_lines(tmp_path, lines, "web_events_20261001.jsonl.gz").read_bytes()
    path = tmp_path / "web_events_20261002.jsonl.gz"
    path.write_bytes(whole[: len(whole) // 2])

    with pytest.raises(FileRejected) as caught:
        list(web.read(path))

    assert caught.value.rule == "unreadable"


def gz_of_events(tmp_path: Path, count: int) -> bytes:
    lines = [json.dumps(event(event_id=f"w-{i}")) for i in range(count)]
    return write_lines(tmp_path, lines, "web_events_20261001.jsonl.gz").read_bytes()


def test_gz_file_with_a_damaged_stream_is_unreadable_and_names_the_file(tmp_path: Path) -> None:
    data = bytearray(gz_of_events(tmp_path, 2000))
    data[20:84] = b"\xff" * 64  # the deflate stream's first block: no valid symbol
    path = tmp_path / "web_events_20261002.jsonl.gz"
    path.write_bytes(bytes(data))

    with pytest.raises(FileRejected) as caught:
        list(web.read(path))

    assert (caught.value.file, caught.value.rule) == ("web_events_20261002.jsonl.gz", "unreadable")
    assert "web_events_20261002.jsonl.gz is not a readable gzip file" in caught.value.message


def test_gz_file_whose_checksum_does_not_match_is_unreadable(tmp_path: Path) -> None:
    data = bytearray(gz_of_events(tmp_path, 50))
    data[-8] ^= 0x01  # the trailer's CRC-32 of the inflated bytes
    path = tmp_path / "web_events_20261002.jsonl.gz"
    path.write_bytes(bytes(data))

    with pytest.raises(FileRejected) as caught:
        list(web.read(path))

    assert caught.value.rule == "unreadable"
    assert "CRC" in caught.value.message


def test_gz_file_of_two_members_gives_the_lines_of_both(tmp_path: Path) -> None:
    first = [json.dumps(event(event_id=f"w-{i}")) for i in range(3)]
    second = [json.dumps(event(event_id=f"w-{i}")) for i in range(3, 5)]
    path = tmp_path / "web_events_20261001.jsonl.gz"
    path.write_bytes(
        gzip.compress(("\n".join(first) + "\n").encode())
        + gzip.compress(("\n".join(second) + "\n").encode())
    )

    rows = [item for item in web.read(path) if isinstance(item, Row)]

    assert [(row.line, row.values[web.COLUMNS.index("event_id")]) for row in rows] == [
        (1, "w-0"),
        (2, "w-1"),
        (3, "w-2"),
        (4, "w-3"),
        (5, "w-4"),
    ]


def test_gz_files_are_inflated_by_isal(tmp_path: Path) -> None:
    path = tmp_path / "web_events_20261001.jsonl.gz"
    path.write_bytes(gzip.compress(b"{}\n"))

    with web._open(path) as fh:
        assert type(fh).__module__ == "isal.igzip"
        assert fh.read() == b"{}\n"


@pytest.mark.parametrize("content", [b"", b"\n\n  \n"])
def test_file_without_any_event_is_rejected_as_empty(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "web_events_20261001.jsonl"
    path.write_bytes(content)

    with pytest.raises(FileRejected) as caught:
        list(web.read(path))

    assert caught.value.rule == "empty_file"


def test_empty_gz_file_is_rejected_as_empty(tmp_path: Path) -> None:
    path = write_lines(tmp_path, [], "web_events_20261001.jsonl.gz")

    with pytest.raises(FileRejected) as caught:
        list(web.read(path))

    assert caught.value.rule == "empty_file"


# --- the spec --------------------------------------------------------------------------------


def test_spec_matches_plain_and_gzip_names_and_gives_the_business_date() -> None:
    spec = web.SPEC

    assert (spec.name, spec.raw_table, spec.json_columns) == ("web", "web_events", ("extra",))
    assert spec.columns[-1] == "extra" and len(spec.columns) == 14
    assert spec.match("web_events_20261001.jsonl") is not None
    assert spec.match("web_events_20261001.jsonl.gz") is not None
    assert spec.match("web_events_20261001.json") is None
    assert spec.match("web_events_2026100.jsonl") is None
    assert str(spec.business_date("web_events_20261001.jsonl.gz")) == "2026-10-01"
