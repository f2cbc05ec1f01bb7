"""Damaged export files for the fuzz tests of the readers (issue #12, "Fuzzing every reader").

One small valid file per source is generated once (:func:`make_originals`); a hypothesis strategy
(:func:`damages`) draws a list of damages and :func:`damaged` applies them to the original's bytes:
bytes flipped, dropped or inserted, the file cut short, a block repeated, the text re-encoded, a
field added, two columns swapped, the file emptied, a NUL put into a field. A gzipped web file and
an xlsx workbook are damaged inside (the text before gzip, a part of the zip before zipping) or
outside (the bytes of the container), or both.

The damages are plain data (tuples), so a failing example prints as something one can read and
paste into a regression test.
"""

from __future__ import annotations

import gzip
import io
import os
import zipfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from channel_dw.generate.app import write_app_events
from channel_dw.generate.crm import write_crm_customers
from channel_dw.generate.halls import write_hall_txn
from channel_dw.generate.hotline import write_hotline_cdr
from channel_dw.generate.sms import write_sms_hall
from channel_dw.generate.stores import write_store_orders
from channel_dw.generate.web import write_web_events

DAY = date(2026, 10, 1)
ROWS = 30  # records asked of each generator: a few dozen lines per file


@dataclass(frozen=True, repr=False)
class Original:
    """A small valid export file: what the damages start from."""

    key: str  # e.g. "web.gz", "stores.jd"
    source: str  # the reader, e.g. "web"
    name: str  # the file name (the readers take their rules from it)
    data: bytes  # the bytes as delivered
    content: bytes  # the text inside (the decompressed jsonl; the xlsx's sheet XML)
    encoding: str  # the text's encoding
    separator: bytes  # between fields on a line (b"" for JSON)
    records: int  # records the generator wrote

    def __repr__(self) -> str:
        return f"<{self.key} {self.name}, {len(self.data):,} bytes, {self.records} records>"


class Originals(dict):
    """The originals by key (a short repr: hypothesis prints the test's arguments)."""

    def __repr__(self) -> str:
        return f"<originals {', '.join(self)}>"


KEYS = (
    "web",
    "web.gz",
    "app",
    "hotline",
    "sms",
    "stores.taobao",
    "stores.jd",
    "stores.meituan",
    "halls",
    "crm",
)
SOURCES = ("web", "app", "hotline", "sms", "stores", "halls", "crm")

_WRITERS = {
    "web": (write_web_events, "web_events_{}.jsonl", "utf-8", b""),
    "web.gz": (write_web_events, "web_events_{}.jsonl.gz", "utf-8", b""),
    "app": (write_app_events, "app_events_{}.json", "utf-8", b""),
    "hotline": (write_hotline_cdr, "hotline_cdr_{}.csv", "gbk", b","),
    "sms": (write_sms_hall, "sms_hall_{}.txt", "utf-8", b"|"),
    "stores.taobao": (write_store_orders, "taobao_orders_{}.xlsx", "utf-8", b""),
    "stores.jd": (write_store_orders, "jd_orders_{}.xlsx", "utf-8", b""),
    "stores.meituan": (write_store_orders, "meituan_orders_{}.xlsx", "utf-8", b""),
    "halls": (write_hall_txn, "hall_txn_{}.csv", "utf-8", b","),
    "crm": (write_crm_customers, "crm_customers_{}.csv", "utf-8", b","),
}
SHEET = "xl/worksheets/sheet1.xml"


def make_originals(folder: Path) -> Originals:
    """One small valid file of every kind, written under ``folder``."""
    originals = Originals()
    for key in KEYS:
        writer, pattern, encoding, separator = _WRITERS[key]
        path = folder / key / pattern.format(DAY.strftime("%Y%m%d"))
        records = writer(path, ROWS, seed=12, day=DAY)
        data = path.read_bytes()
        if key == "web.gz":
            content = gzip.decompress(data)
        elif key.startswith("stores"):
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                content = z.read(_sheet_member(z))
        else:
            content = data
        source = key.split(".")[0]
        originals[key] = Original(
            key, source, path.name, data, content, encoding, separator, records
        )
    return originals


def _sheet_member(z: zipfile.ZipFile) -> str:
    names = z.namelist()
    return SHEET if SHEET in names else next(n for n in names if n.startswith("xl/worksheets/"))


def examples(usual: int, fuzz: int) -> int:
    """How many examples a property test tries: ``usual`` in ``make test``, ``fuzz`` under
    HYPOTHESIS_PROFILE=fuzz (``make fuzz``). For the tests that keep hypothesis's random seed."""
    return fuzz if os.environ.get("HYPOTHESIS_PROFILE") == "fuzz" else usual


def fuzz_settings(examples: int, fuzz_examples: int | None = None) -> settings:
    """``examples`` examples, derandomized (the same ones every run), in the usual test run; under
    HYPOTHESIS_PROFILE=fuzz (``make fuzz``) a random seed and ``fuzz_examples`` examples, or the
    profile's number."""
    checks = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
    if os.environ.get("HYPOTHESIS_PROFILE") == "fuzz":
        if fuzz_examples is not None:
            return settings(max_examples=fuzz_examples, deadline=None, suppress_health_check=checks)
        return settings(deadline=None, suppress_health_check=checks)
    return settings(
        max_examples=examples, derandomize=True, deadline=None, suppress_health_check=checks
    )


# --- damages ---------------------------------------------------------------------------------
# Each damage is a tuple: its name, then numbers in 0..1 (where in the data) or small values.
# A position in 0..1 scales to the data at hand, so one damage applies to any file.

# Bytes that mean something to one reader or another: separators, quotes, line ends, JSON and
# XML syntax, a BOM, bytes that are never UTF-8, a line as long as csv allows and longer.
TOKENS = (
    b'"',
    b",",
    b"|",
    b"\r",
    b"\r\n",
    b"\n\n",
    b"\\",
    b"{",
    b"}",
    b"[",
    b"]",
    b":",
    b"null",
    b"<",
    b">",
    b"&",
    b"&amp;",
    b"]]>",
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    b"\xc0\x80",
    b"\xed\xa0\x80",
    b"#TRAILER|0|0\n",
    b"\x00",
    b"\t",
    b"\xe3\x80\x80",
    b"x" * 140_000,
    b"9" * 30,
    b"-",
    b'{"id":"x","time_ms":1,"type":"view"},\n',
    b"\u0000",
    b"\ud800",
    b"1e400",
    b"-0",
)
ENCODINGS = ("gbk", "utf-16", "utf-16-le", "utf-8-sig", "latin-1", "big5", "utf-32")
# where in the data: anywhere, or near the start (where the header and the first chunk are)
_unit = st.one_of(st.floats(0, 1, allow_nan=False), st.floats(0, 0.05, allow_nan=False))
_damage = st.one_of(
    st.tuples(st.just("flip"), _unit, st.integers(0, 7)),
    st.tuples(st.just("drop"), _unit, st.integers(1, 64)),
    st.tuples(st.just("insert"), _unit, st.binary(min_size=1, max_size=8)),
    st.tuples(st.just("insert"), _unit, st.sampled_from(TOKENS)),
    st.tuples(st.just("cut"), _unit),
    st.tuples(st.just("repeat"), _unit, st.integers(1, 400)),
    st.tuples(st.just("encode"), st.sampled_from(ENCODINGS)),
    st.tuples(st.just("add_field"), _unit),
    st.tuples(st.just("swap_columns"), st.integers(0, 15), st.integers(0, 15)),
    st.tuples(st.just("empty")),
    st.tuples(st.just("nul"), _unit),
)
# where a damage applies: "content" is the text (inside gzip / the zip), "container" the file
_layer = st.sampled_from(("content", "container"))


def damages(original: Original | None = None, max_size: int = 4) -> st.SearchStrategy:
    """A list of (layer, damage) pairs; the layer matters for .gz and .xlsx files only."""
    return st.lists(st.tuples(_layer, _damage), min_size=1, max_size=max_size)


def damaged(original: Original, damage_list: list[tuple]) -> bytes:
    """The original's bytes after the damages, in order."""
    packed = original.key == "web.gz" or original.source == "stores"
    if not packed:
        data = original.data
        for _, d in damage_list:
            data = apply(d, data, original)
        return data
    content = original.content
    for layer, d in damage_list:
        if layer == "content":
            content = apply(d, content, original)
    data = _pack(original, content)
    for layer, d in damage_list:
        if layer == "container":
            data = apply(d, data, original)
    return data


def _pack(original: Original, content: bytes) -> bytes:
    if original.key == "web.gz":
        return gzip.compress(content, mtime=0)
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(original.data)) as src,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        sheet = _sheet_member(src)
        for info in src.infolist():
            dst.writestr(info, content if info.filename == sheet else src.read(info))
    return out.getvalue()


def _at(unit: float, n: int) -> int:
    return min(n, int(unit * n))


def apply(damage: tuple, data: bytes, original: Original) -> bytes:
    """One damage applied to some bytes."""
    kind, *args = damage
    n = len(data)
    if kind == "flip":
        if not n:
            return data
        i = min(n - 1, _at(args[0], n))
        return data[:i] + bytes([data[i] ^ (1 << args[1])]) + data[i + 1 :]
    if kind == "drop":
        i = _at(args[0], n)
        return data[:i] + data[i + args[1] :]
    if kind == "insert":
        i = _at(args[0], n)
        return data[:i] + args[1] + data[i:]
    if kind == "cut":
        return data[: _at(args[0], n)]
    if kind == "repeat":
        i = _at(args[0], n)
        return data[: i + args[1]] + data[i : i + args[1]] + data[i + args[1] :]
    if kind == "encode":
        text = data.decode(original.encoding, errors="replace")
        return text.encode(args[0], errors="replace")
    if kind == "add_field":
        return _add_field(data, original, args[0])
    if kind == "swap_columns":
        return _swap_columns(data, original, args[0], args[1])
    if kind == "empty":
        return b""
    if kind == "nul":
        return _nul_in_field(data, original, args[0])
    raise ValueError(f"unknown damage {kind!r}")


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


def _add_field(data: bytes, original: Original, unit: float) -> bytes:
    """A field more: on every line of a delimited file (the header too), or a key more in one
    JSON object, or a cell more in one sheet row."""
    if original.separator:
        return b"\n".join(
            line + original.separator + b"extra" if line.strip() else line for line in _lines(data)
        )
    if original.source == "stores":
        i = data.find(b"</row>", _at(unit, len(data)))
        cell = b'<c r="Z1" t="inlineStr"><is><t>extra</t></is></c>'
        return data if i < 0 else data[:i] + cell + data[i:]
    i = data.find(b"{", _at(unit, len(data)))
    return data if i < 0 else data[: i + 1] + b'"zz_extra":[1,{"a":null}],' + data[i + 1 :]


def _swap_columns(data: bytes, original: Original, a: int, b: int) -> bytes:
    """Two fields swapped on every line (a naive split: quoted separators are not respected), or
    two cells' contents swapped in every sheet row, or two keys' values in every JSON line."""
    if original.separator:
        out = []
        for line in _lines(data):
            fields = line.split(original.separator)
            if len(fields) > max(a, b):
                fields[a], fields[b] = fields[b], fields[a]
            out.append(original.separator.join(fields))
        return b"\n".join(out)
    if original.source == "stores":
        letters = b"ABCDEFGHIJKLMNOP"
        x, y = letters[a : a + 1], letters[b : b + 1]
        return (
            data.replace(b'r="' + x, b'r="\x01')
            .replace(b'r="' + y, b'r="' + x)
            .replace(b'r="\x01', b'r="' + y)
        )
    keys = (b'"ts"', b'"session_id"', b'"visitor_id"', b'"event"', b'"page"', b'"time_ms"')
    keys += (b'"id"', b'"type"', b'"user"', b'"device"', b'"msisdn"', b'"count"', b'"events"')
    x, y = keys[a % len(keys)], keys[b % len(keys)]
    return data.replace(x, b"\x01").replace(y, x).replace(b"\x01", y)


def _nul_in_field(data: bytes, original: Original, unit: float) -> bytes:
    """A NUL byte inside a field: after a separator, inside a JSON string, inside a cell's text."""
    start = _at(unit, len(data))
    marks = [original.separator] if original.separator else [b'":"', b"<t>", b"<v>"]
    for mark in marks:
        i = data.find(mark, start)
        if i < 0:
            i = data.find(mark)
        if i >= 0:
            j = i + len(mark)
            return data[:j] + b"\x00" + data[j:]
    return data[:start] + b"\x00" + data[start:]
