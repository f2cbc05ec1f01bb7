"""The loader's COPY text rendering against PostgreSQL itself: what goes in comes back.

The loading core renders each chunk's rows as COPY text with pyarrow's CSV writer, escaping the
columns that hold a tab, a line break, a backslash, a double quote or a NUL
(channel_dw/ingest/copy_stream.py). Here any text, NULL and the empty text included, goes through
that rendering and a real ``COPY ... FROM STDIN`` and is read back unchanged (NUL dropped: text
cannot hold it).
"""

from __future__ import annotations

import contextlib
import io

import psycopg2
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channel_dw.ingest.copy_stream import copy_text

pytestmark = pytest.mark.integration

AWKWARD = [
    None,
    "",
    "\\N",
    "\\",
    "\\.",
    'say "hi"',
    "a\tb",
    "line\nbreak",
    "carriage\rreturn\r\n",
    "nul\x00byte",
    "\\x22",
    "太原 市",
    " ",
    "#TRAILER|1|2",
    "\x01\x1f\x7f",
]


@pytest.fixture(scope="module")
def conn(warehouse_url):
    with contextlib.closing(psycopg2.connect(warehouse_url)) as c:
        c.autocommit = True  # one failed COPY does not abort the examples after it
        with c.cursor() as cur:
            cur.execute("create temporary table copied (n int, a text, b text)")
        yield c


def round_trip(conn, a: list[str | None], b: list[str | None]) -> list[tuple]:
    table = pa.table(
        {
            "n": pa.array(range(len(a)), pa.int64()),
            "a": pa.array(a, pa.string()),
            "b": pa.array(b, pa.string()),
        }
    )
    with conn.cursor() as cur:
        cur.execute("truncate copied")
        cur.copy_expert("copy copied (n, a, b) from stdin", io.BytesIO(copy_text(table)))
        cur.execute("select a, b from copied order by n")
        return cur.fetchall()


def _stored(value: str | None) -> str | None:
    return None if value is None else value.replace("\x00", "")


def test_awkward_values_come_back_unchanged_beside_plain_ones(conn):
    plain = [f"plain {i}" for i in range(len(AWKWARD))]
    assert round_trip(conn, AWKWARD, plain) == [(_stored(v), p) for v, p in zip(AWKWARD, plain)]


@settings(max_examples=60, deadline=None)
@given(values=st.lists(st.one_of(st.none(), st.text()), min_size=1, max_size=12))
def test_any_text_comes_back_unchanged(conn, values):
    # column b never needs an escape: the escaped and the plain column share each line
    plain = ["x"] * len(values)
    assert round_trip(conn, values, plain) == [(_stored(v), "x") for v in values]
