"""The SMS hall log reader: pipe-separated records and the #TRAILER check."""

from __future__ import annotations

from pathlib import Path

import pytest

from channel_dw.errors import FileRejected
from channel_dw.sources import sms
from channel_dw.sources.base import Rejection, Row

FIXTURE = Path(__file__).parents[1] / "fixtures" / "sms" / "sms_hall_20261001.txt"
NAME = "sms_hall_20261001.txt"
GOOD = "S0001|13812345678|20261001081502|CXHF|0||TY"


def write_lines(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / NAME
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def with_trailer(records: list[str], count: int, total: int) -> list[str]:
    return [*records, f"#TRAILER|{count}|{total}"]


def rejection_of(tmp_path: Path, record: str, amount_fen: int = 0) -> Rejection:
    (item,) = sms.read(write_lines(tmp_path, with_trailer([record], 1, amount_fen)))
    assert isinstance(item, Rejection)
    return item


# --- the checked-in fixture ------------------------------------------------------------------


def test_fixture_records_become_rows_with_values_as_delivered() -> None:
    items = list(sms.read(FIXTURE))

    assert [(type(i).__name__, i.line) for i in items] == [
        ("Row", 1),
        ("Row", 2),
        ("Row", 3),
        ("Row", 4),
        ("Row", 5),
        ("Rejection", 6),
        ("Row", 7),
        ("Rejection", 8),
        ("Row", 9),
    ]
    rows = [i.values for i in items if isinstance(i, Row)]
    assert rows == [
        ("S0001", "13812345678", "20261001081502", "CXHF", "0", None, "TY"),
        ("S0002", "+86 138-1234-5678", "20261001081510", "JF", "0", "5000", "DT"),
        ("S0003", "13912345678", "20261001090000", "KTLL30", "0", "3000", None),
        ("S0004", "13912345678", "20261001090100", "MYD5", "0", None, None),
        ("S0005", "15012345678", "20261001100000", "BLTC_4G128", "0", None, "CZ"),
        ("S0007", "15012345678", "20261001101000", "TD", "E102", None, "LL"),
        ("S0009", "18612345678", "20260930235959", "KTLL100", "0", "10000", "XZ"),
    ]


def test_masked_phone_and_short_line_are_quarantined_with_their_lines() -> None:
    items = list(sms.read(FIXTURE))

    assert items[5] == Rejection(
        6,
        "bad_phone",
        "msisdn '138****5678' is masked",
        "S0006|138****5678|20261001100500|CXYE|0||TY",
    )
    assert items[7] == Rejection(
        8,
        "wrong_column_count",
        "the line has 5 fields, a record has 7: "
        "msg_id|msisdn|recv_time|command|reply_code|amount_fen|region",
        "S0008|15012345678|20261001101000|TD|0",
    )


# --- commands --------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["MYD1", "MYD2", "MYD3", "MYD4", "MYD5"])
def test_satisfaction_replies_one_to_five_are_accepted(tmp_path: Path, command: str) -> None:
    record = f"S1|13812345678|20261001081502|{command}|0||"

    (item,) = sms.read(write_lines(tmp_path, with_trailer([record], 1, 0)))

    assert item == Row(1, ("S1", "13812345678", "20261001081502", command, "0", None, None))


@pytest.mark.parametrize("command", ["BLTC_4G128", "BLTC_58", "BLTC_5G-FAMILY_199"])
def test_plan_change_to_any_plan_is_accepted(tmp_path: Path, command: str) -> None:
    record = f"S1|13812345678|20261001081502|{command}|0||TY"

    (item,) = sms.read(write_lines(tmp_path, with_trailer([record], 1, 0)))

    assert isinstance(item, Row)
    assert item.values[3] == command


@pytest.mark.parametrize(
    "command", ["MYD0", "MYD6", "MYD", "BLTC_", "BLTC_4G 128", "cxhf", "KTLL20", "XYZ"]
)
def test_command_outside_the_contract_is_quarantined_as_unknown_code(
    tmp_path: Path, command: str
) -> None:
    item = rejection_of(tmp_path, f"S1|13812345678|20261001081502|{command}|0||TY")

    assert item.rule == "unknown_code"
    assert item.message == (
        f"command {command!r} is not an SMS hall command (CXHF, CXYE, JF, KTLL10, KTLL30, "
        "KTLL100, KTLDXS, TD, BLTC_<plan>, MYD1 to MYD5)"
    )


# --- row rules -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "rule", "message"),
    [
        (
            "S1|13812345678|20261001081502|CXHF|0|TY",
            "wrong_column_count",
            "the line has 6 fields, a record has 7: "
            "msg_id|msisdn|recv_time|command|reply_code|amount_fen|region",
        ),
        (
            "|13812345678|20261001081502|CXHF|0||TY",
            "missing_field",
            "msg_id is empty",
        ),
        (
            "S1| |20261001081502|CXHF|||TY",
            "missing_field",
            "msisdn and reply_code are empty",
        ),
        (
            "S1|0351-7654321|20261001081502|CXHF|0||TY",
            "bad_phone",
            "msisdn '0351-7654321' is not a mainland mobile number",
        ),
        (
            "S1|13812345678|2026-10-01 08:15:02|CXHF|0||TY",
            "bad_timestamp",
            "recv_time '2026-10-01 08:15:02' is not a YYYYMMDDHHMMSS time",
        ),
        (
            "S1|13812345678|20261301081502|CXHF|0||TY",
            "bad_timestamp",
            "recv_time '20261301081502' is not a YYYYMMDDHHMMSS time",
        ),
        (
            "S1|13812345678|20261001081502|JF|0|50.00|TY",
            "bad_amount",
            "amount_fen '50.00' is not an integer of fen",
        ),
        (
            "S1|13812345678|20261001081502|CXHF|0||BJ",
            "unknown_code",
            "region 'BJ' is not one of the 11 region codes",
        ),
    ],
)
def test_row_rule_quarantines_the_record_with_a_message_naming_field_and_value(
    tmp_path: Path, record: str, rule: str, message: str
) -> None:
    item = rejection_of(tmp_path, record)

    assert item == Rejection(1, rule, message, record)


@pytest.mark.parametrize("msisdn", ["13812345678", "+86 138-1234-5678", "0086 13812345678"])
def test_phone_shapes_are_accepted_and_stored_as_delivered(tmp_path: Path, msisdn: str) -> None:
    record = f"S1|{msisdn}|20261001081502|CXHF|0||"

    (item,) = sms.read(write_lines(tmp_path, with_trailer([record], 1, 0)))

    assert isinstance(item, Row)
    assert item.values[1] == msisdn


def test_blank_lines_are_skipped_and_not_counted(tmp_path: Path) -> None:
    path = tmp_path / NAME
    path.write_bytes(("\ufeff" + GOOD + "\r\n\r\n" + GOOD + "\r\n#TRAILER|2|0\r\n\n").encode())

    items = list(sms.read(path))

    assert [(type(i).__name__, i.line) for i in items] == [("Row", 1), ("Row", 3)]
    assert items[0].values[0] == "S0001"


# --- the trailer -----------------------------------------------------------------------------


def test_trailer_only_file_is_a_valid_day_without_messages(tmp_path: Path) -> None:
    assert list(sms.read(write_lines(tmp_path, ["#TRAILER|0|0"]))) == []


def test_trailer_counts_quarantined_records_and_their_amounts(tmp_path: Path) -> None:
    records = [
        "S1|13812345678|20261001081502|JF|0|5000|TY",
        "S2|138****5678|20261001081502|JF|0|700|TY",  # bad_phone, amount still counted
        "S3|13812345678|20261001081502|JF|0|12.5|TY",  # bad_amount: counted, adds nothing
        "S4|13812345678|20261001081502|JF",  # wrong_column_count: counted, adds nothing
    ]

    items = list(sms.read(write_lines(tmp_path, with_trailer(records, 4, 5700))))

    assert [type(i).__name__ for i in items] == ["Row", "Rejection", "Rejection", "Rejection"]


def test_trailer_with_the_wrong_record_count_rejects_the_file(tmp_path: Path) -> None:
    records = [GOOD, "S2|13812345678|20261001081502|JF|0|305500|TY"]
    path = write_lines(tmp_path, with_trailer(records, 3, 305500))

    with pytest.raises(FileRejected) as caught:
        list(sms.read(path))

    assert (caught.value.file, caught.value.line, caught.value.rule) == (NAME, 3, "bad_trailer")
    assert caught.value.message == (
        "trailer says 3 records summing 305,500 fen, the file has 2 records summing 305,500 fen"
    )


def test_trailer_with_the_wrong_amount_sum_rejects_the_file(tmp_path: Path) -> None:
    records = [f"S{i}|13812345678|20261001081502|JF|0|250|TY" for i in range(1, 1204)]
    path = write_lines(tmp_path, with_trailer(records, 1203, 310500))

    with pytest.raises(FileRejected) as caught:
        list(sms.read(path))

    assert caught.value.rule == "bad_trailer"
    assert caught.value.message == (
        "trailer says 1,203 records summing 310,500 fen, "
        "the file has 1,203 records summing 300,750 fen"
    )


def test_rows_are_yielded_before_a_bad_trailer_rejects_the_file(tmp_path: Path) -> None:
    items: list[Row | Rejection] = []

    with pytest.raises(FileRejected):
        items.extend(sms.read(write_lines(tmp_path, with_trailer([GOOD], 2, 0))))

    assert items == [Row(1, ("S0001", "13812345678", "20261001081502", "CXHF", "0", None, "TY"))]


def test_file_without_a_trailer_is_rejected_as_missing_trailer(tmp_path: Path) -> None:
    with pytest.raises(FileRejected) as caught:
        list(sms.read(write_lines(tmp_path, [GOOD, GOOD])))

    assert (caught.value.line, caught.value.rule, caught.value.text) == (
        2,
        "missing_trailer",
        GOOD,
    )
    assert caught.value.message == (
        "the last line (line 2) is a record, not a #TRAILER line: the file is incomplete"
    )


@pytest.mark.parametrize(
    "trailer", ["#TRAILER|1", "#TRAILER|1|0|0", "#TRAILER|one|0", "#TRAILER|1|1,000", "#END|1|0"]
)
def test_malformed_trailer_rejects_the_file(tmp_path: Path, trailer: str) -> None:
    with pytest.raises(FileRejected) as caught:
        list(sms.read(write_lines(tmp_path, [GOOD, trailer])))

    assert (caught.value.line, caught.value.rule, caught.value.text) == (2, "bad_trailer", trailer)
    assert caught.value.message == (
        "the trailer is not #TRAILER|<record_count>|<sum_of_amount_fen>"
    )


def test_trailer_followed_by_records_rejects_the_file(tmp_path: Path) -> None:
    lines = [GOOD, "#TRAILER|1|0", GOOD, "#TRAILER|1|0"]

    with pytest.raises(FileRejected) as caught:
        list(sms.read(write_lines(tmp_path, lines)))

    assert (caught.value.line, caught.value.rule) == (2, "bad_trailer")


def test_empty_file_is_rejected_as_empty(tmp_path: Path) -> None:
    path = tmp_path / NAME
    path.write_bytes(b"\n")

    with pytest.raises(FileRejected) as caught:
        list(sms.read(path))

    assert caught.value.rule == "empty_file"


def test_invalid_utf8_rejects_the_file_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / NAME
    path.write_bytes(GOOD.encode() + b"\nS2|13812345678|20261001081502|CX\xc8F|0||TY\n")

    with pytest.raises(FileRejected) as caught:
        list(sms.read(path))

    assert (caught.value.line, caught.value.rule) == (2, "bad_encoding")
    assert caught.value.message.startswith("line 2 is not valid UTF-8")


# --- the spec --------------------------------------------------------------------------------


def test_spec_matches_sms_export_names_and_gives_the_business_date() -> None:
    spec = sms.SPEC

    assert (spec.name, spec.raw_table, spec.json_columns) == ("sms", "sms_hall", ())
    assert spec.columns == (
        "msg_id",
        "msisdn",
        "recv_time",
        "command",
        "reply_code",
        "amount_fen",
        "region_code",
    )
    assert spec.match(NAME) is not None
    assert spec.match("sms_hall_20261001.csv") is None
    assert str(spec.business_date(NAME)) == "2026-10-01"
