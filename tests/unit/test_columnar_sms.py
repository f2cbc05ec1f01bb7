"""The SMS reader's fast paths give exactly what the per-line rules give.

The reference below is the per-line reader as it was before the fast paths: every line decoded,
blank lines skipped, the last non-blank line held back for the trailer, each record through
``sms._record``. Rows come out of a batch with NUL characters removed (PostgreSQL text cannot hold
them), so the reference removes them too.

Every test of a whole file runs twice: through the compiled pass (``_compiled.c`` under
``sms.RULES``), and through the columnar path a machine without a C compiler reads with.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from channel_dw.errors import FileRejected
from channel_dw.sources import _compiled, sms
from channel_dw.sources.base import REGION_CODES, Item, Rejection, Row
from tests.fuzz import examples

NAME = "sms_hall_20261001.txt"
PATHS = ["compiled", "columnar"] if _compiled.available() else ["columnar"]


@pytest.fixture(scope="module", params=PATHS, autouse=True)
def fast_path(request: pytest.FixtureRequest) -> Iterator[str]:
    """Which fast path the module's readings take (the columnar one as without a C compiler)."""
    with pytest.MonkeyPatch.context() as mp:
        if request.param == "columnar":
            mp.setattr(_compiled, "available", lambda: False)
        yield request.param


def reference(path: Path) -> Iterator[Item]:
    """The per-line reader: one item per record line, then the trailer check."""
    name = path.name
    tally = sms._Tally()
    held: tuple[int, str] | None = None
    with path.open("rb") as f:
        for number, raw in enumerate(f, 1):
            text = sms._decode(number, raw, name)
            if number == 1:
                text = text.removeprefix("\ufeff")
            if not text.strip():
                continue
            if held is not None:
                item = sms._record(*held, name, tally)
                if isinstance(item, Row):
                    item = Row(item.line, tuple(_no_nul(v) for v in item.values))
                yield item
            held = (number, text)
    if held is None:
        raise FileRejected(file=name, line=None, rule="empty_file", message="empty")
    sms._check_trailer(*held, name, tally)


def _no_nul(value: str | None) -> str | None:
    return None if value is None else value.replace("\x00", "")


def tally_of(records: list[str]) -> tuple[int, int]:
    """The record count and amount sum the per-line rules make of some record lines."""
    tally = sms._Tally()
    for number, text in enumerate(records, 1):
        if text.strip() and not text.startswith(sms.TRAILER_MARK):  # that one rejects the file
            sms._record(number, text, NAME, tally)
    return tally.records, tally.amount_fen


def outcome(read, path: Path) -> tuple[list[Item], tuple | None]:
    """The items a reader yields and the file rejection it ends with, if any."""
    items: list[Item] = []
    try:
        items.extend(read(path))
    except FileRejected as exc:
        return items, (exc.file, exc.line, exc.rule, exc.message, exc.text)
    return items, None


def cleared(line: str) -> bool:
    """True when the fast path's expression clears the line (as a line followed by another)."""
    texts = pa.array([line + "\n"], pa.string())
    return bool(pc.match_substring_regex(texts, sms._CLEAR)[0].as_py())


# --- a file of several chunks ----------------------------------------------------------------

GOOD = "S{n}|13812345678|20261001081502|JF|0|{n}|TY"
PLANTED = {  # line -> a line the fast path must leave to the per-line rules (or skip)
    1: "\ufeffS1|13812345678|20261001081502|CXHF|0||TY",  # BOM on line 1
    7: "",  # blank
    8: " \u3000\t",  # blank in unicode spaces
    50: "S50|13812345678|20261001081502|JF|0",  # wrong_column_count
    51: "S51|13812345678|20261001081502|JF|0|5|TY|x",  # wrong_column_count
    90: "S90| 13812345678|20261001081502|JF|0|90|TY",  # stripped msisdn: a row, value changes
    91: "S91|13812345678|20261001081502|JF|0| 91 |TY",  # stripped amount, still summed
    92: "S92|138****5678|20261001081502|JF|0|92|TY",  # bad_phone, amount summed
    93: "S93|0351-7654321|20261001081502|JF|0|93|TY",  # landline
    94: "S94|13812345678|00001001081502|JF|0|94|TY",  # year 0: bad_timestamp
    95: "S95|13812345678|20260229081502|JF|0|95|TY",  # no 29 Feb in 2026
    96: "S96|13812345678|20280229081502|JF|0|96|TY",  # 29 Feb 2028: a row (slow path)
    97: "S97|13812345678|20261001246000|JF|0|97|TY",  # bad time
    98: "S98|13812345678|20261001081502|BLTC__|0|98|TY",  # plan of only "_"
    99: "S99|13812345678|20261001081502|BLTC_5G-FAMILY_199|0|99|TY",  # a row (fast)
    100: "S100|13812345678|20261001081502|jf|0|100|TY",  # unknown command
    101: "S101|13812345678|20261001081502|JF|0|50.00|TY",  # bad_amount
    102: "S102|13812345678|20261001081502|JF|0|12345678901234567890|TY",  # huge, summed exactly
    103: "S103|13812345678|20261001081502|JF|0|+5|TY",  # not an integer
    104: "S104|13812345678|20261001081502|JF|0|104|ty",  # unknown region
    105: "S105|13812345678|20261001081502|JF||105|TY",  # missing reply_code
    106: "|13812345678|20261001081502|JF|0|106|TY",  # missing msg_id
    107: "S1\x0007|13812345678|20261001081502|JF|0|107|TY",  # NUL: removed from the row
    108: "S108\xa0|13812345678|20261001081502|JF|0|108|TY",  # no-break space stripped
    109: "短信109|13812345678|20261001081502|JF|0|109|TY",  # non-ASCII msg_id: a row (slow)
    110: "#x110|13812345678|20261001081502|JF|0|110|TY",  # a record, not a trailer
    111: "S111|13812345678|20261001081502|JF|0|111|TY\r",  # CRLF
    112: "S112|13812345678|20261001\r081502|JF|0|112|TY",  # a lone CR inside a field
    113: "S113|13812345678|20261001081502|JF|0|-113|",  # negative amount, no region
    114: "S114|+86 138-1234-5678|20261001081502|KTLL100|E 1|114|YQ",  # shapes, inner space
    115: "S115|13812345678|20261001081502|JF|0|-|TY",  # "-" is no integer
    116: "S116|13812345678|20261001081502|JF|0|999999999999|TY",  # 12 digits: fast
    117: "S117|13812345678|20261001081502|JF|0|1000000000000|TY",  # 13 digits: slow
    118: "S118|8613812345678|20261001081502|JF|0|118|TY",
    119: "S119|13812345678|20261001081502|JF|0|119|TY ",  # trailing space in region
}


def big_file(tmp_path: Path, lines: int = 3000, planted: dict[int, str] = PLANTED) -> Path:
    records = []
    for n in range(1, lines + 1):
        text = planted.get(n)
        if text is None:
            text = GOOD.format(n=n)
            # every 500th line further on: more odd lines, in later chunks
            if n % 500 == 0:
                text = text.replace("|TY", "|BJ")
            elif n % 500 == 1:
                text = text.replace("|JF|", "| JF |")
            elif n % 700 == 0:
                text = ""
        records.append(text)
    count, total = tally_of(records)
    path = tmp_path / NAME
    lines_ = [*records, f"#TRAILER|{count}|{total}", "", "  "]
    path.write_bytes("".join(f"{line}\n" for line in lines_).encode("utf-8"))
    return path


@pytest.mark.parametrize("chunk_bytes", [1, 97, 4096, 8 << 20])
def test_a_file_of_many_chunks_gives_exactly_the_per_line_items(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk_bytes: int
) -> None:
    monkeypatch.setattr(sms, "CHUNK_BYTES", chunk_bytes)
    path = big_file(tmp_path)

    items, rejected = outcome(sms.read, path)

    assert rejected is None
    assert items == list(reference(path))
    assert len(items) == 3000 - 2 - 4  # blank lines 7, 8, 700, 1400, 2100, 2800 carry nothing
    by_line = {item.line: item for item in items}
    assert by_line[90] == Row(90, ("S90", "13812345678", "20261001081502", "JF", "0", "90", "TY"))
    assert by_line[107].values[0] == "S107"
    assert isinstance(by_line[96], Row)
    assert isinstance(by_line[109], Row)
    assert by_line[500].rule == "unknown_code"
    assert isinstance(by_line[501], Row) and by_line[501].values[3] == "JF"


def test_the_fast_path_clears_ordinary_records_and_batches_carry_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fast_path: str
) -> None:
    monkeypatch.setattr(sms, "CHUNK_BYTES", 4096)
    slow_lines: list[int] = []
    per_line = sms._per_line

    def spy(lines, indices, name, state, items):
        indices = list(indices)
        slow_lines.extend(lines.first + i for i in indices)
        per_line(lines, indices, name, state, items)

    monkeypatch.setattr(sms, "_per_line", spy)
    path = big_file(tmp_path)

    batches = list(sms.read_batches(path))

    assert len(batches) > 20
    assert sum(b.num_rows + len(b.rejections) for b in batches) == 2994
    # line 7 is empty: the compiled pass passes over it, as the per-line rules would
    assert set(PLANTED) - {7, 99, 111, 113, 114, 116, 118} <= set(slow_lines)
    assert len(slow_lines) < 400  # the planted lines, the odd ones and the last of each chunk
    for batch in batches:
        assert batch.rows.column_names == [*sms.COLUMNS, "_line"]
    assert (sum(b.text_rows for b in batches) > 2500) == (fast_path == "compiled")


@pytest.mark.parametrize("chunk_bytes", [4096, 8 << 20])
@pytest.mark.parametrize(
    "planted",
    [
        {2500: "S2500|13812345678|20261001081502|JF|0|1|TY\udcc8"},  # bad UTF-8 (surrogate)
        {2500: "#TRAILER|1|0"},  # a trailer followed by more records
        {2000: "#TRAILER|1|0", 2500: "S2500|13812345678|20261001081502|CX\udcc8F|0||TY"},
        {2000: "#TRAILER|1|0", 2001: "S2001|13812345678|20261001081502|CX\udcc8F|0||TY"},
        {2000: "S2000|\udcc8", 2500: "#TRAILER|1|0"},
    ],
)
def test_file_rules_met_in_a_later_chunk_reject_the_file_as_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk_bytes: int, planted: dict[int, str]
) -> None:
    monkeypatch.setattr(sms, "CHUNK_BYTES", chunk_bytes)
    lines = [planted.get(n, GOOD.format(n=n)) for n in range(1, 3001)]
    path = tmp_path / NAME
    data = "".join(f"{line}\n" for line in [*lines, "#TRAILER|3000|0"])
    path.write_bytes(data.encode("utf-8", errors="surrogateescape"))

    items, rejected = outcome(sms.read, path)
    expected = outcome(reference, path)

    assert expected[1] is not None
    assert (items, rejected) == expected  # the same rows before the file is rejected, too


@pytest.mark.parametrize("chunk_bytes", [64, 8 << 20])
def test_trailer_mismatch_reports_the_same_tally(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk_bytes: int
) -> None:
    monkeypatch.setattr(sms, "CHUNK_BYTES", chunk_bytes)
    records = [GOOD.format(n=n) for n in range(1, 400)] + [PLANTED[92], PLANTED[102]]
    path = tmp_path / NAME
    path.write_text("".join(f"{r}\n" for r in [*records, "#TRAILER|1|1"]), encoding="utf-8")

    _, rejected = outcome(sms.read, path)

    assert rejected == outcome(reference, path)[1]
    assert rejected is not None and rejected[3] == (
        "trailer says 1 records summing 1 fen, the file has 401 records summing "
        f"{sum(range(1, 400)) + 92 + 12345678901234567890:,} fen"
    )


def test_trailer_alone_after_blank_chunks_is_a_quiet_day(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sms, "CHUNK_BYTES", 16)
    path = tmp_path / NAME
    path.write_bytes(b"\n" * 50 + b"  \r\n" * 20 + b"#TRAILER|0|0\r\n" + b"\n" * 30)

    assert outcome(sms.read, path) == ([], None)


# --- the property: the fast path never clears what the rules would reject or alter -----------

_PIECES = st.sampled_from(
    [
        " ",
        "\t",
        "\u3000",
        "\xa0",
        "\x1c",
        "\x85",
        "\x00",
        "\r",
        "\ufeff",
        "|",
        "#",
        "-",
        "+",
        "_",
        "*",
        ".",
        "0",
        "1",
        "9",
        "86",
        "+86",
        "0086",
        "138",
        "1234",
        "5678",
        "2026",
        "2028",
        "0000",
        "0229",
        "1001",
        "1231",
        "081502",
        "235959",
        "240000",
        "BLTC_",
        "MYD",
        "KTLL",
        "CXHF",
        "TY",
        "S",
        "a",
        "é",
        "短",
    ]
)
_TEXTS = st.lists(_PIECES, max_size=6).map("".join)
_SPACES = st.sampled_from([" ", "\t", "\u3000", "\xa0", "\x1c", "\x85", "\x00", "\r", "\x0b"])
_TIMES = st.builds(
    "{}{:02}{:02}{:02}{:02}{:02}".format,
    st.sampled_from(["0001", "1000", "1999", "2026", "2028", "2100", "9999"]),
    st.integers(1, 12),
    st.integers(1, 28),
    st.integers(0, 23),
    st.integers(0, 59),
    st.integers(0, 59),
)
_NEAR_TIMES = st.builds(
    "{}{:02}{:02}{:02}{:02}{:02}".format,
    st.sampled_from(["0000", "0001", "0999", "2026", "2028", "2100"]),
    st.integers(0, 13),
    st.integers(0, 32),
    st.integers(0, 24),
    st.integers(0, 60),
    st.integers(0, 61),
)
_VALID = (  # per field, values that pass
    st.sampled_from(["S1", "S0001", "a-b_c", "x y", "Z~", "9"]),
    st.sampled_from(["13812345678", "+86 138-1234-5678", "0086 13812345678", "8613812345678"]),
    _TIMES,
    st.sampled_from([*sorted(sms.COMMANDS), "BLTC_4G128", "BLTC_-a", "BLTC_a_"]),
    st.sampled_from(["0", "E102", "E 1", "~", "\\"]),
    st.one_of(st.just(""), st.integers(-(10**12) + 1, 10**12 - 1).map(str)),
    st.sampled_from(["", *sorted(REGION_CODES)]),
)
_NEAR = (  # per field, values beside those
    st.sampled_from(["#TRAILER", "#T", "", "S\x001"]),
    st.sampled_from(["138****5678", "0351-7654321", "+8613812345678", "1381234567", "86 1"]),
    _NEAR_TIMES,
    st.sampled_from(["BLTC_", "BLTC__", "BLTC_-", "MYD6", "MYD0", "KTLL", "cxhf", "KTLL1000"]),
    st.sampled_from(["", "\x00"]),
    st.sampled_from(["-", "+5", "1.0", "0" * 13, "-" + "9" * 13, "1" * 20, "1e3", "٣"]),
    st.sampled_from(["BJ", "ty", "T", "TYY"]),
)


@st.composite
def _fields(draw: st.DrawFn) -> tuple[str, ...]:
    """A record that passes or nearly does: up to three fields changed, to a value beside a
    good one or by a piece of text (in place of the field, before, after or inside it)."""
    values = [draw(strategy) for strategy in _VALID]
    for _ in range(draw(st.integers(0, 3))):
        i = draw(st.integers(0, len(values) - 1))
        piece = draw(st.one_of(st.just(" "), _SPACES, _TEXTS))
        at = draw(st.integers(0, len(values[i])))
        values[i] = draw(
            st.sampled_from(
                [
                    piece,
                    piece + values[i],
                    values[i] + piece,
                    values[i][:at] + piece + values[i][at:],
                ]
            )
            | _NEAR[i]
        )
    return tuple(values)


_FIELDS = _fields()
_LINES = st.one_of(_FIELDS.map("|".join), _TEXTS)


@settings(max_examples=examples(1000, 3000), deadline=None)
@given(fields=_FIELDS)
@example(fields=("S1 ", "13812345678", "20261001081502", "JF", "0", "1", "TY"))
@example(fields=("S1", "13812345678", "20261001081502", "JF", "0 ", "1", "TY"))
@example(fields=("S1", "13812345678", "20261001081502", "JF", "\t0", "1", "TY"))
@example(fields=("S1", " 13812345678", "20261001081502", "JF", "0", "1", "TY"))
@example(fields=("S1", "13812345678", "00001001081502", "JF", "0", "1", "TY"))
@example(fields=("S1", "13812345678", "20261001081502", "BLTC__", "0", "1", "TY"))
@example(fields=("S1", "13812345678", "20261001081502", "JF", "0", "1" * 19, "TY"))
@example(fields=("S1", "13812345678", "10000101000000", "CXHF", "0", "", "\r"))
def test_a_cleared_line_is_a_row_of_its_fields_as_they_are(fields: tuple[str, ...]) -> None:
    line = "|".join(fields)
    if not cleared(line):
        return
    fields = tuple(line.rstrip("\r").split("|"))  # a CR before the LF ends the line
    tally = sms._Tally()
    item = sms._record(2, line.rstrip("\r"), NAME, tally)

    assert item == Row(2, tuple(f or None for f in fields))
    assert (tally.records, tally.amount_fen) == (1, int(fields[5] or 0))
    assert abs(int(fields[5] or 0)) < 10**12


def taken_by_the_pass(line: str) -> tuple[list[str | None], int] | None:
    """The values and the sum of amount_fen the compiled pass writes for a line followed by
    another, or None when it leaves the line to the per-line rules."""
    text, taken, _, amount = sms._COMPILED.run_adding(f"{line}\n".encode(), 2)
    if not taken:
        return None
    *values, number = text.decode().rstrip("\n").split("\t")
    assert number == "2"
    return [None if v == "\\N" else v for v in values], amount


@pytest.mark.skipif(not _compiled.available(), reason="no C compiler here")
@settings(max_examples=examples(1000, 3000), deadline=None)
@given(fields=_FIELDS)
@example(fields=("#TRAILER", "13812345678", "20261001081502", "JF", "0", "1", "TY"))
@example(fields=("\ufeffS1", "13812345678", "20261001081502", "JF", "0", "1", "TY"))
@example(fields=("S1", "13812345678", "20261001081502", "JF", "0", "-" + "9" * 12, "TY"))
@example(fields=("S1", "13812345678", "20261001081502", "JF", "0", "1" * 13, "TY"))
@example(fields=("S1", "13812345678", "20261001081502", "JF", "短信 0", "-0", ""))
@example(fields=("S1", "13812345678", "20280229081502", "BLTC_a_", "0", "", "TY"))
@example(fields=("S1", "13812345678", "20261231235960", "JF", "0", "", "TY"))
def test_a_line_the_compiled_pass_takes_is_a_row_of_its_fields_and_adds_its_amount(
    fields: tuple[str, ...],
) -> None:
    line = "|".join(fields)
    if "\n" in line or not sms.col.is_utf8(line.encode("utf-8", "surrogatepass")):
        return  # a chunk is split at its line ends, and read by the pass only when it is UTF-8
    took = taken_by_the_pass(line)
    if took is None:
        return
    tally = sms._Tally()
    item = sms._record(2, line.removesuffix("\r"), NAME, tally)

    assert item == Row(2, tuple(took[0]))
    assert (tally.records, tally.amount_fen) == (1, took[1])


def test_the_compiled_pass_takes_ordinary_records_and_adds_their_amounts() -> None:
    if not _compiled.available():
        pytest.skip("no C compiler here")
    lines = [
        "S1|13812345678|20261001081502|CXHF|0||TY",
        "S2|+86 138-1234-5678|20281231235959|BLTC_5G-FAMILY_199|E102|-5000|",
        "S3|13812345678|20261001081502|MYD5|0|999999999999|YQ",
        "S4|13812345678|20280229081502|CXHF|0|7|TY",  # left to the calendar
        "#TRAILER|3|999999994999",  # not a record: left to the per-line rules
    ]
    text, taken, slow, amount = sms._COMPILED.run_adding("\n".join(lines).encode(), 10)

    assert (taken, amount) == (3, 999999999999 - 5000)
    assert slow[:, 0].tolist() == [3, 4]
    assert text.decode().splitlines()[1] == (
        "S2\t+86 138-1234-5678\t20281231235959\tBLTC_5G-FAMILY_199\tE102\t-5000\t\\N\t11"
    )


def test_ordinary_records_are_cleared() -> None:
    assert cleared("S1|13812345678|20261001081502|CXHF|0||TY")
    assert cleared("S1|+86 138-1234-5678|20281231235959|BLTC_5G-FAMILY_199|E102|-5000|")
    assert not cleared("S1|13812345678|20280229081502|CXHF|0||TY")  # left to the calendar


@settings(
    max_examples=examples(150, 400),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(lines=st.lists(_LINES, min_size=0, max_size=12), crlf=st.booleans(), bom=st.booleans())
def test_any_file_reads_as_the_per_line_reader_reads_it(
    lines: list[str], crlf: bool, bom: bool
) -> None:
    count, total = tally_of(lines)
    end = "\r\n" if crlf else "\n"
    text = ("\ufeff" if bom else "") + "".join(f"{line}{end}" for line in lines)
    text += f"#TRAILER|{count}|{total}{end}"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / NAME
        path.write_bytes(text.encode("utf-8"))
        expected = outcome(reference, path)
        for chunk_bytes in (8, 8 << 20):
            sms.CHUNK_BYTES, saved = chunk_bytes, sms.CHUNK_BYTES
            try:
                assert outcome(sms.read, path) == expected
            finally:
                sms.CHUNK_BYTES = saved


def test_rejections_keep_their_text_and_rule(tmp_path: Path) -> None:
    path = big_file(tmp_path, lines=200)

    rejections = [i for i in sms.read(path) if isinstance(i, Rejection)]

    assert [(r.line, r.rule) for r in rejections][:3] == [
        (50, "wrong_column_count"),
        (51, "wrong_column_count"),
        (92, "bad_phone"),
    ]
    assert rejections[0].text == PLANTED[50]
