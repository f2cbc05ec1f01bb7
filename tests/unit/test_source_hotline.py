"""The hotline reader: GBK or UTF-8-with-BOM call records in, raw rows or rejections out."""

from __future__ import annotations

from pathlib import Path

import pytest

from channel_dw.errors import FileRejected
from channel_dw.sources.base import Rejection, Row
from channel_dw.sources.hotline import SPEC

HEADER = (
    "呼叫流水号,主叫号码,受理号码,进线时间,IVR结束时间,应答时间,挂机时间,"
    "服务类型,坐席工号,业务代码,办理结果,满意度,是否投诉,地市"
)
AGENT_CALL = (
    "C0001,+86 138-1234-5678,13812345678,2026-10-01 08:00:00,2026-10-01 08:01:10,"
    "2026-10-01 08:02:00,2026-10-01 08:06:30,人工,A1001,2001,成功,5,否,TY"
)
AGENT_CALL_ROW = Row(
    2,
    (
        "C0001",
        "+86 138-1234-5678",
        "13812345678",
        "2026-10-01 08:00:00",
        "2026-10-01 08:01:10",
        "2026-10-01 08:02:00",
        "2026-10-01 08:06:30",
        "人工",
        "A1001",
        "2001",
        "成功",
        "5",
        "否",
        "TY",
    ),
)
# A landline caller who stays in the IVR and asks for the bill; no agent, no survey.
IVR_CALL = (
    "C0002,0351-7654321,,2026-10-01 09:00:00,2026-10-01 09:02:00,,2026-10-01 09:02:00,"
    "IVR自助,,1001,,,否,"
)
IVR_CALL_ROW = Row(
    3,
    (
        "C0002",
        "0351-7654321",
        None,
        "2026-10-01 09:00:00",
        "2026-10-01 09:02:00",
        None,
        "2026-10-01 09:02:00",
        "IVR自助",
        None,
        "1001",
        None,
        None,
        "否",
        None,
    ),
)


def write(folder: Path, lines: list[str], encoding: str = "gbk", bom: bool = False) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / "hotline_cdr_20261001.csv"
    data = "".join(line + "\r\n" for line in lines).encode(encoding)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    return path


def read(path: Path) -> list[Row | Rejection]:
    return list(SPEC.read(path))


def the_rejection(tmp_path: Path, record: str) -> Rejection:
    (item,) = read(write(tmp_path, [HEADER, record]))
    assert isinstance(item, Rejection)
    return item


def test_spec_names_the_raw_table_and_its_columns_in_contract_order():
    assert SPEC.name == "hotline"
    assert SPEC.raw_table == "hotline_cdr"
    assert SPEC.columns == (
        "call_id",
        "caller_number",
        "verified_number",
        "call_start",
        "ivr_end",
        "answer_time",
        "hangup_time",
        "service_type",
        "agent_id",
        "biz_code",
        "biz_result",
        "satisfaction",
        "is_complaint",
        "region_code",
    )
    assert SPEC.match("hotline_cdr_20261001.csv") is not None
    assert SPEC.match("hotline_cdr_20261001.csv.bak") is None


def test_gbk_file_is_read_as_delivered(tmp_path):
    assert read(write(tmp_path, [HEADER, AGENT_CALL, IVR_CALL])) == [AGENT_CALL_ROW, IVR_CALL_ROW]


def test_utf8_file_with_bom_gives_the_same_rows_as_gbk(tmp_path):
    lines = [HEADER, AGENT_CALL, IVR_CALL]
    gbk = read(write(tmp_path / "gbk", lines))
    utf8 = read(write(tmp_path / "utf8", lines, encoding="utf-8", bom=True))
    assert utf8 == gbk == [AGENT_CALL_ROW, IVR_CALL_ROW]


def test_utf8_file_without_bom_is_rejected_as_bad_encoding(tmp_path):
    path = write(tmp_path, [HEADER, AGENT_CALL], encoding="utf-8")
    with pytest.raises(FileRejected) as caught:
        read(path)
    assert caught.value.rule == "bad_encoding"
    assert caught.value.file == "hotline_cdr_20261001.csv"
    assert caught.value.line == 1
    assert "is the file UTF-8 without a BOM?" in caught.value.message
    assert caught.value.text == HEADER  # shown as it reads in UTF-8, not as GBK garbage


def test_utf8_header_that_happens_to_decode_as_gbk_asks_about_the_bom(tmp_path):
    # "主叫号码,地市" in UTF-8 is valid GBK: it decodes, as garbage, and fails the header check.
    path = write(tmp_path, ["主叫号码,地市", "13812345678,TY"], encoding="utf-8")
    with pytest.raises(FileRejected) as caught:
        read(path)
    assert caught.value.rule == "bad_header"
    assert caught.value.line == 1
    assert caught.value.message.startswith(
        "the header is not the contract's; is the file UTF-8 without a BOM?"
    )
    assert "'主叫号码', '地市'" in caught.value.message


def test_garbage_bytes_reject_the_file_naming_their_line(tmp_path):
    path = tmp_path / "hotline_cdr_20261001.csv"
    path.write_bytes(
        (HEADER + "\r\n" + AGENT_CALL + "\r\n").encode("gbk") + b"C0003,\xff\xfe\xff,,\r\n"
    )
    items = SPEC.read(path)
    assert next(items) == AGENT_CALL_ROW  # rows may come first; the core then drops them
    with pytest.raises(FileRejected) as caught:
        next(items)
    assert (caught.value.rule, caught.value.line) == ("bad_encoding", 3)
    assert caught.value.message == "the line is not valid GBK (byte ff at offset 6)"


def test_header_missing_a_column_is_rejected_naming_it(tmp_path):
    header = HEADER.replace(",满意度", "")
    with pytest.raises(FileRejected) as caught:
        read(write(tmp_path, [header]))
    assert caught.value.rule == "bad_header"
    assert caught.value.message == "the header is not the contract's: missing '满意度'"


def test_header_with_an_unexpected_column_is_rejected_naming_it(tmp_path):
    with pytest.raises(FileRejected) as caught:
        read(write(tmp_path, [HEADER + ",录音文件"]))
    assert caught.value.message == "the header is not the contract's: unexpected '录音文件'"


def test_empty_file_is_rejected_as_bad_header(tmp_path):
    path = tmp_path / "hotline_cdr_20261001.csv"
    path.write_bytes(b"")
    with pytest.raises(FileRejected) as caught:
        read(path)
    assert caught.value.rule == "bad_header"


def test_columns_in_another_order_are_mapped_by_name(tmp_path):
    header = "地市,呼叫流水号,主叫号码,受理号码,进线时间,IVR结束时间,应答时间,挂机时间,服务类型,坐席工号,业务代码,办理结果,满意度,是否投诉"  # noqa: E501
    record = "TY," + AGENT_CALL.removesuffix(",TY")
    assert read(write(tmp_path, [header, record])) == [AGENT_CALL_ROW]


def test_landline_and_empty_callers_are_accepted(tmp_path):
    landline = IVR_CALL
    no_caller_id = IVR_CALL.replace("C0002,0351-7654321,", "C0003,,")
    items = read(write(tmp_path, [HEADER, landline, no_caller_id]))
    assert [(item.line, item.values[:2]) for item in items] == [
        (2, ("C0002", "0351-7654321")),
        (3, ("C0003", None)),
    ]


def test_abandoned_call_with_empty_answer_time_is_a_row(tmp_path):
    abandoned = "C0004,13900001111,,2026-10-01 10:00:00,2026-10-01 10:00:40,,2026-10-01 10:03:05,放弃,,,,,否,DT"  # noqa: E501
    assert read(write(tmp_path, [HEADER, abandoned])) == [
        Row(
            2,
            (
                "C0004",
                "13900001111",
                None,
                "2026-10-01 10:00:00",
                "2026-10-01 10:00:40",
                None,
                "2026-10-01 10:03:05",
                "放弃",
                None,
                None,
                None,
                None,
                "否",
                "DT",
            ),
        )
    ]


def test_quoted_fields_keep_their_commas_and_spaces_are_stripped(tmp_path):
    record = (
        '"C0005"," 0086 13812345678 ",,"2026-10-01 11:00:00",,,"2026-10-01 11:01:00",'
        '"IVR自助",,"3001",成功,,"否"," YQ "'
    )
    quoted_comma = IVR_CALL.replace(",0351-7654321,", ',"0351-7654321,0351-7654322",')
    items = read(write(tmp_path, [HEADER, record, quoted_comma]))
    assert items[0] == Row(
        2,
        (
            "C0005",
            "0086 13812345678",
            None,
            "2026-10-01 11:00:00",
            None,
            None,
            "2026-10-01 11:01:00",
            "IVR自助",
            None,
            "3001",
            "成功",
            None,
            "否",
            "YQ",
        ),
    )
    # the comma stays inside the value, so the field count is right; two numbers are no phone
    assert items[1] == Rejection(
        3,
        "bad_phone",
        "主叫号码 '0351-7654321,0351-7654322' is neither a mobile nor a landline number",
        quoted_comma,
    )


def test_record_with_a_quoted_newline_is_numbered_by_its_first_line(tmp_path):
    two_lines = (
        '"C0006\r\nX",13812345678,,2026-10-01 12:00:00,,,2026-10-01 12:00:30,IVR自助,,,,,否,'
    )
    items = read(write(tmp_path, [HEADER, two_lines, AGENT_CALL]))
    assert [(item.line, item.values[0]) for item in items] == [(2, "C0006\r\nX"), (4, "C0001")]


def test_blank_lines_are_skipped_and_lines_keep_their_physical_numbers(tmp_path):
    items = read(write(tmp_path, [HEADER, "", AGENT_CALL, "   ", IVR_CALL, ""]))
    assert [item.line for item in items] == [3, 5]


def test_record_with_a_missing_field_is_quarantined_and_reading_goes_on(tmp_path):
    short = AGENT_CALL.removesuffix(",TY")
    items = read(write(tmp_path, [HEADER, short, IVR_CALL]))
    assert items == [
        Rejection(2, "wrong_column_count", "expected 14 fields, found 13", short),
        IVR_CALL_ROW,
    ]


def test_unquoted_comma_is_quarantined_with_a_hint(tmp_path):
    extra = AGENT_CALL.replace(",A1001,", ",A1001,A1002,")
    assert the_rejection(tmp_path, extra) == Rejection(
        2,
        "wrong_column_count",
        "expected 14 fields, found 15 (a value with an unquoted comma?)",
        extra,
    )


@pytest.mark.parametrize(
    ("old", "new", "rule", "message"),
    [
        ("C0001,", ",", "missing_field", "呼叫流水号 is empty"),
        (
            "2026-10-01 08:00:00",
            "2026-10-01 25:00:00",
            "bad_timestamp",
            "进线时间 '2026-10-01 25:00:00' is not a YYYY-MM-DD HH:MM:SS time",
        ),
        (
            "2026-10-01 08:06:30",
            "2026/10/01 08:06:30",
            "bad_timestamp",
            "挂机时间 '2026/10/01 08:06:30' is not a YYYY-MM-DD HH:MM:SS time",
        ),
        ("2026-10-01 08:06:30", "", "missing_field", "挂机时间 is empty"),
        (
            "2026-10-01 08:02:00",
            "08:02:00",
            "bad_timestamp",
            "应答时间 '08:02:00' is not a YYYY-MM-DD HH:MM:SS time",
        ),
        (
            ",人工,",
            ",转人工,",
            "unknown_code",
            "服务类型 '转人工' is not one of IVR自助, 人工, 放弃",
        ),
        (
            ",2001,",
            ",2003,",
            "unknown_code",
            "业务代码 '2003' is not one of "
            "1001, 1002, 2001, 2002, 3001, 3002, 3003, 4001, 5001, 9001, 9002",
        ),
        (",成功,", ",办结,", "bad_value", "办理结果 '办结' is not one of 成功, 失败"),
        (",5,", ",6,", "bad_value", "满意度 '6' is not one of 1, 2, 3, 4, 5"),
        (",否,", ",N,", "bad_value", "是否投诉 'N' is not one of 是, 否"),
        (",否,", ",,", "missing_field", "是否投诉 is empty"),
        (
            ",TY",
            ",BJ",
            "unknown_code",
            "地市 'BJ' is not one of CZ, DT, JC, JZ, LF, LL, SZ, TY, XZ, YC, YQ",
        ),
        (
            ",13812345678,",
            ",1381234567,",
            "bad_phone",
            "受理号码 '1381234567' is not a mobile number",
        ),
        (
            "+86 138-1234-5678",
            "138****5678",
            "bad_phone",
            "主叫号码 '138****5678' is neither a mobile nor a landline number",
        ),
    ],
)
def test_record_breaking_a_row_rule_is_quarantined(tmp_path, old, new, rule, message):
    record = AGENT_CALL.replace(old, new, 1)
    assert the_rejection(tmp_path, record) == Rejection(2, rule, message, record)


def test_record_with_several_problems_names_them_all_under_the_first_rule(tmp_path):
    record = AGENT_CALL.replace("C0001,", ",").replace(",5,", ",9,")
    rejection = the_rejection(tmp_path, record)
    assert rejection.rule == "missing_field"
    assert rejection.message == "呼叫流水号 is empty; 满意度 '9' is not one of 1, 2, 3, 4, 5"


def test_unclosed_quote_swallowing_the_file_rejects_it_as_unreadable(tmp_path):
    # csv reads on to the end of the file looking for the closing quote, up to its field limit
    runaway = AGENT_CALL.replace("C0001,", '"C0001,', 1)
    path = write(
        tmp_path, [HEADER, IVR_CALL.replace("C0002", "C0000"), runaway] + [IVR_CALL] * 2000
    )
    with pytest.raises(FileRejected) as caught:
        read(path)
    assert (caught.value.rule, caught.value.line) == ("unreadable", 3)
    assert "field larger than field limit" in caught.value.message
