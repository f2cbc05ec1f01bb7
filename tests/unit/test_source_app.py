"""The app export reader: streamed events, nested vendor keys, count and shape checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from channel_dw.errors import FileRejected
from channel_dw.sources import app
from channel_dw.sources.base import Rejection, Row

FIXTURE = Path(__file__).parents[1] / "fixtures" / "app" / "app_events_20261001.json"
NAME = "app_events_20261001.json"


def biz_event(**overrides: Any) -> dict[str, Any]:
    """A valid biz event (the contract's example), changed by ``overrides`` (... drops a key)."""
    base: dict[str, Any] = {
        "id": "a-01",
        "time_ms": 1759277702123,
        "user": {"uid": "U0001", "msisdn": "+86 138-1234-5678"},
        "device": {"os": "android", "app_version": "9.2.1"},
        "type": "biz",
        "biz": {"code": "PAY01", "amount_fen": 5000, "status": 1, "err": None},
    }
    base.update(overrides)
    return {key: value for key, value in base.items() if value is not ...}


BIZ_ROW = (
    "a-01",
    "1759277702123",
    "U0001",
    "+86 138-1234-5678",
    "android",
    "9.2.1",
    "biz",
    "PAY01",
    "5000",
    "1",
    None,
    None,
    "2026-10-01",
    None,
)


def write_doc(tmp_path: Path, doc: dict[str, Any] | str, name: str = NAME) -> Path:
    """Write a document; a dict keeps its key order, so tests choose where count goes."""
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc, ensure_ascii=False))
    return path


def doc_of(*events: Any) -> dict[str, Any]:
    return {"export_date": "2026-10-01", "app": "hall-app", "count": len(events), "events": events}


def read_one(tmp_path: Path, event: Any) -> Row | Rejection:
    items = list(app.read(write_doc(tmp_path, doc_of(event))))
    assert len(items) == 1
    return items[0]


# --- the checked-in fixture ------------------------------------------------------------------


def test_fixture_events_become_rows_numbered_by_position_in_the_events_array() -> None:
    items = list(app.read(FIXTURE))

    assert [(type(i).__name__, i.line) for i in items] == [
        ("Row", 1),
        ("Row", 2),
        ("Rejection", 3),
        ("Row", 4),
    ]
    assert items[0] == Row(1, BIZ_ROW)
    assert items[1] == Row(
        2,
        (
            "a-02",
            "1759277800000",
            "U0001",
            None,
            "ios",
            "9.2.0",
            "rate",
            None,
            None,
            None,
            None,
            "4",
            "2026-10-01",
            None,
        ),
    )


def test_masked_phone_quarantines_the_event_re_serialised_as_json() -> None:
    rejection = list(app.read(FIXTURE))[2]

    assert rejection == Rejection(
        3,
        "bad_phone",
        "user.msisdn '138****5678' is masked",
        '{"id":"a-03","time_ms":1759277900000,"user":{"uid":"U0002","msisdn":"138****5678"},'
        '"device":{"os":"ios","app_version":"9.2.0"},"type":"launch"}',
    )


def test_unknown_keys_go_to_extra_nested_under_their_parent() -> None:
    row = list(app.read(FIXTURE))[3]

    assert row == Row(
        4,
        (
            "a-04",
            "1759278000000",
            "U0003",
            "0086 13912345678",
            "android",
            "9.1.0",
            "biz",
            "DATA01",
            "1000",
            "0",
            "E042",
            None,
            "2026-10-01",
            '{"channel_tag":"push","user":{"vip_level":3},"device":{"model":"P60"},'
            '"biz":{"coupon":{"id":"C1"}},"rating":{"comment":"slow"}}',
        ),
    )


# --- document layout -------------------------------------------------------------------------


def test_count_written_after_the_events_is_still_checked(tmp_path: Path) -> None:
    doc = {"export_date": "2026-10-01", "events": [biz_event(), biz_event(id="a-02")], "count": 2}

    items = list(app.read(write_doc(tmp_path, doc)))

    assert [i.values[0] for i in items] == ["a-01", "a-02"]


def test_count_after_the_events_that_does_not_match_rejects_the_file(tmp_path: Path) -> None:
    doc = {"export_date": "2026-10-01", "events": [biz_event()], "count": 2}

    with pytest.raises(FileRejected) as caught:
        list(app.read(write_doc(tmp_path, doc)))

    assert (caught.value.rule, caught.value.line) == ("count_mismatch", None)


def test_export_date_written_after_the_events_goes_into_every_row(tmp_path: Path) -> None:
    doc = {"count": 1, "events": [biz_event()], "app": "hall-app", "export_date": "2026-10-01"}

    (row,) = app.read(write_doc(tmp_path, doc))

    assert row == Row(1, BIZ_ROW)


def test_missing_export_date_leaves_the_column_null(tmp_path: Path) -> None:
    (row,) = app.read(write_doc(tmp_path, {"count": 1, "events": [biz_event()]}))

    assert row == Row(1, (*BIZ_ROW[:12], None, None))


def test_truncated_export_whose_count_exceeds_its_events_is_rejected(tmp_path: Path) -> None:
    doc = {"export_date": "2026-10-01", "count": 1204, "events": [biz_event()] * 1203}

    with pytest.raises(FileRejected) as caught:
        list(app.read(write_doc(tmp_path, doc)))

    assert caught.value.file == NAME
    assert caught.value.rule == "count_mismatch"
    assert caught.value.message.startswith(
        "count says 1,204 events but the document holds 1,203: the export is truncated"
    )


def test_document_cut_mid_event_is_unreadable_after_the_events_it_did_hold(
    tmp_path: Path,
) -> None:
    text = json.dumps(doc_of(biz_event(), biz_event(id="a-02"), biz_event(id="a-03")))
    path = write_doc(tmp_path, text[: text.index('"a-03"') + 10])
    items: list[Row | Rejection] = []

    with pytest.raises(FileRejected) as caught:
        items.extend(app.read(path))

    assert [i.values[0] for i in items] == ["a-01", "a-02"]
    assert (caught.value.rule, caught.value.line) == ("unreadable", 3)
    assert caught.value.message == "the document is not valid JSON after event 2 " + (
        "(the file looks cut short)"
    )


def test_empty_day_with_count_zero_is_valid_and_yields_nothing(tmp_path: Path) -> None:
    doc = {"export_date": "2026-10-01", "app": "hall-app", "count": 0, "events": []}

    assert list(app.read(write_doc(tmp_path, doc))) == []


def test_byte_order_mark_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / NAME
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(doc_of(biz_event())).encode())

    assert list(app.read(path)) == [Row(1, BIZ_ROW)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1, 2]", "the document is a JSON array, not an object with an events array"),
        ('{"count": 0}', "the document has no events array"),
        ('{"count": 0, "events": {}}', "events is a JSON object, not an array"),
        ('{"count": 0, "events": null}', "events is a JSON null, not an array"),
        (
            '{"export_date": "2026-10-01", "events": []}',
            "the document has no count so it cannot be checked for truncation",
        ),
        (
            '{"count": "two", "events": []}',
            "the document has count 'two', not an integer, so it cannot be checked for truncation",
        ),
    ],
)
def test_document_of_the_wrong_shape_is_unreadable(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(FileRejected) as caught:
        list(app.read(write_doc(tmp_path, text)))

    assert (caught.value.rule, caught.value.message) == ("unreadable", message)


def test_count_that_is_not_an_integer_rejects_before_any_row(tmp_path: Path) -> None:
    doc = {"export_date": "2026-10-01", "count": 1.5, "events": [biz_event()]}
    items: list[Row | Rejection] = []

    with pytest.raises(FileRejected) as caught:
        items.extend(app.read(write_doc(tmp_path, doc)))

    assert items == []
    assert caught.value.rule == "unreadable"


def test_text_that_is_not_json_is_unreadable(tmp_path: Path) -> None:
    with pytest.raises(FileRejected) as caught:
        list(app.read(write_doc(tmp_path, "export_date=2026-10-01")))

    assert (caught.value.rule, caught.value.line) == ("unreadable", None)


@pytest.mark.parametrize("content", [b"", b"  \n"])
def test_empty_file_is_rejected_as_empty(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / NAME
    path.write_bytes(content)

    with pytest.raises(FileRejected) as caught:
        list(app.read(path))

    assert caught.value.rule == "empty_file"


def test_invalid_utf8_rejects_the_file_naming_the_event(tmp_path: Path) -> None:
    text = json.dumps(doc_of(biz_event(), biz_event(id="a-\u00e9")), ensure_ascii=False)
    path = tmp_path / NAME
    path.write_bytes(text.encode().replace("é".encode(), b"\xe9"))

    with pytest.raises(FileRejected) as caught:
        list(app.read(path))

    assert (caught.value.rule, caught.value.line) == ("bad_encoding", 2)
    assert caught.value.message == (
        "the document is not valid UTF-8 after event 1; the export must be UTF-8"
    )


# --- row rules -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "rule", "message"),
    [
        (
            biz_event(id=...),
            "missing_field",
            "id is missing (every event needs id, time_ms and type)",
        ),
        (
            biz_event(time_ms=None, type=""),
            "missing_field",
            "time_ms and type are missing (every event needs id, time_ms and type)",
        ),
        (
            biz_event(time_ms=1759277702123.5),
            "bad_timestamp",
            "time_ms '1759277702123.5' is not an integer number of epoch milliseconds",
        ),
        (
            biz_event(time_ms="2026-10-01 08:15:02"),
            "bad_timestamp",
            "time_ms '2026-10-01 08:15:02' is not an integer number of epoch milliseconds",
        ),
        (
            biz_event(time_ms=1759277702),
            "bad_timestamp",
            "time_ms '1759277702' is not between 2000 and 2100 in epoch milliseconds "
            "(seconds instead of milliseconds?)",
        ),
        (
            biz_event(type="share"),
            "unknown_code",
            "type 'share' is not one of launch, view, register, biz, rate",
        ),
        (
            biz_event(user={"uid": "U1", "msisdn": "0351-7654321"}),
            "bad_phone",
            "user.msisdn '0351-7654321' is not a mainland mobile number",
        ),
        (
            biz_event(biz=...),
            "missing_field",
            "biz.code is missing on a biz event",
        ),
        (
            biz_event(biz={"code": "WEB_PAY", "status": 1}),
            "unknown_code",
            "biz.code 'WEB_PAY' on a biz event is not an app business code",
        ),
        (
            biz_event(biz={"code": "PAY01", "amount_fen": 5000}),
            "missing_field",
            "biz.status is missing on a biz event",
        ),
        (
            biz_event(biz={"code": "PAY01", "status": 2}),
            "bad_value",
            "biz.status '2' is not 0 (failure) or 1 (success)",
        ),
        (
            biz_event(biz={"code": "PAY01", "status": True}),
            "bad_value",
            "biz.status 'true' is not 0 (failure) or 1 (success)",
        ),
        (
            biz_event(biz={"code": "PAY01", "status": 1, "amount_fen": 49.9}),
            "bad_amount",
            "biz.amount_fen '49.9' is not an integer of fen",
        ),
        (
            biz_event(biz={"code": "PAY01", "status": 1, "amount_fen": "¥49.90"}),
            "bad_amount",
            "biz.amount_fen '¥49.90' is not an integer of fen",
        ),
        (
            biz_event(type="rate", biz=...),
            "missing_field",
            "rating.score is missing on a rate event",
        ),
        (
            biz_event(type="rate", biz=..., rating={"score": 6}),
            "bad_value",
            "rating.score '6' is not a score from 1 to 5",
        ),
        (
            biz_event(user="U0001"),
            "invalid_json",
            "user is a JSON string, not an object",
        ),
    ],
)
def test_row_rule_quarantines_the_event_with_a_message_naming_field_and_value(
    tmp_path: Path, event: dict[str, Any], rule: str, message: str
) -> None:
    item = read_one(tmp_path, event)

    assert isinstance(item, Rejection)
    assert (item.line, item.rule, item.message) == (1, rule, message)
    assert json.loads(item.text) == event


def test_event_that_is_not_an_object_is_quarantined(tmp_path: Path) -> None:
    item = read_one(tmp_path, "a-01")

    assert item == Rejection(1, "invalid_json", "event 1 is a JSON string, not an object", '"a-01"')


def test_integers_given_as_strings_are_accepted_and_stored_as_delivered(tmp_path: Path) -> None:
    event = biz_event(
        time_ms=" 1759277702123 ",
        biz={"code": "PAY01", "amount_fen": "5000", "status": "1", "err": 0},
    )

    item = read_one(tmp_path, event)

    assert item == Row(1, (*BIZ_ROW[:10], "0", None, "2026-10-01", None))


def test_optional_parts_may_be_absent_or_null(tmp_path: Path) -> None:
    event = {"id": "a-09", "time_ms": 1759277702123, "type": "launch", "user": None}

    item = read_one(tmp_path, event)

    assert item == Row(
        1,
        (
            "a-09",
            "1759277702123",
            None,
            None,
            None,
            None,
            "launch",
            None,
            None,
            None,
            None,
            None,
            "2026-10-01",
            None,
        ),
    )


def test_codes_only_checked_on_the_events_that_carry_them(tmp_path: Path) -> None:
    event = biz_event(type="view", biz={"code": "NOPE", "status": 7}, rating={"score": 9})

    item = read_one(tmp_path, event)

    assert isinstance(item, Row)
    assert (item.values[7], item.values[9], item.values[11]) == ("NOPE", "7", "9")


# --- the spec --------------------------------------------------------------------------------


def test_spec_matches_app_export_names_and_gives_the_business_date() -> None:
    spec = app.SPEC

    assert (spec.name, spec.raw_table, spec.json_columns) == ("app", "app_events", ("extra",))
    assert len(spec.columns) == 14 and spec.columns[-2:] == ("export_date", "extra")
    assert spec.match(NAME) is not None
    assert spec.match("app_events_20261001.json.gz") is None
    assert str(spec.business_date(NAME)) == "2026-10-01"
