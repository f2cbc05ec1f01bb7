"""One compiled pass over a chunk of an export: split, check and render as COPY text.

The columnar path (:mod:`_delimited_fast`, :mod:`web`) parses a chunk into Arrow columns, runs a
vectorised mask per rule and renders the rows it clears as COPY text: three passes over the data,
each in compiled code but each a pass of its own, and together more CPU than PostgreSQL spends
parsing the COPY (the loader's profile in docs/benchmarks.md). This module does the three in one
pass, in a small C function (``_compiled.c`` for the delimited exports, ``_compiled_json.c`` for
the web's JSON lines): for each line of a chunk it finds the fields, tests each against its
column's rule, and, when every test passes, writes the record straight into the COPY text the
loader sends (columns in contract order, an empty value as ``\\N``, the line number last). Every
other line goes to the per-record path, exactly as a line the masks did not clear does.

The rules here admit a subset of what :class:`_delimited.RowChecks` admits, as the masks do; they
are declared per column with :class:`Rule` beside each source's ``_clear`` masks. A line the
kernel takes holds no quote character, no byte below 0x20 (a trailing ``\\r`` aside), no
backslash (so nothing in it needs a COPY escape), and no value whose first or last byte may belong
to white space. In a file that is not UTF-8 (the hotline's GBK) a line is taken only when every
byte above 0x7F is part of a listed value, which the kernel writes in UTF-8.

The C file is built once per machine with its C compiler (``cc``, or ``$CC``) into a shared
library kept beside this module in ``__pycache__`` (or in the temporary directory when that is not
writable), named by a hash of its source (``make setup`` builds it; otherwise the first load does,
in about a second), and called through ctypes, which releases the GIL: the
reader threads of :mod:`ahead` run it side by side. (numba was measured first: its kernel was as
fast, but loading it cost 1.2 CPU-s in every new process, as much as the COPY of a million rows.)
Without a C compiler the readers keep to the columnar path (:func:`available`), which gives the
same rows and rejections, more slowly; the loader says so once in its log.
"""

from __future__ import annotations

import copy
import ctypes
import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from channel_dw.sources import columnar as col
from channel_dw.sources.base import Item
from channel_dw.sources.columnar import Batch

# The kinds of rule (Rule.kind).
FREE = 0  # any text (its ends and bytes checked as every value's are)
MEMBER = 1  # one of Rule.values
MOBILE = 2  # columnar.MOBILE_SHAPES
MOBILE_OR_LANDLINE = 3  # MOBILE_SHAPES or _delimited_fast.LANDLINE
DATETIME = 4  # YYYY-MM-DD HH:MM:SS that certainly exists (columnar.certain_date/time)
DATE = 5  # YYYY-MM-DD that certainly exists
YUAN = 6  # _delimited_fast.DECIMAL_YUAN: -?[0-9]+(\.[0-9]{1,2})?
HALL_CODE = 7  # two letters of Rule.values, a dash, four digits
HAS_AT = 8  # text holding an @ (the e-mail's fast check)
ISO_TS = 9  # the web's ts: YYYY-MM-DDTHH:MM:SS[.f{1,6}] with Z or an offset (JSON lines only)
DECIMAL = 10  # columnar.DECIMAL: [+-]?[0-9]+(\.[0-9]+)? (JSON lines only)
INTEGER = 11  # a JSON integer (not text) within Rule.bounds (the app's events only)
COMPACT_DATETIME = 12  # YYYYMMDDHHMMSS that certainly exists (as DATETIME, no separators)
FEN = 13  # -?[0-9]{1,12}, an amount in fen; the pass adds up those of the lines it takes
COMMAND = 14  # one of Rule.values, or BLTC_<plan> with a plan of [A-Za-z0-9_-] (the SMS hall's)
RECORD_ID = 15  # FREE text whose first byte is an ASCII letter or digit (not a trailer's #)

_INT64 = (-(2**63), 2**63 - 1)


@dataclass(frozen=True)
class Rule:
    """What the kernel asks of one contract column: ``kind`` (above), whether it must be given,
    for MEMBER and HALL_CODE the values allowed (HALL_CODE: its region prefixes), and for
    INTEGER the least and greatest value allowed."""

    kind: int
    required: bool = True
    values: tuple[str, ...] = ()
    bounds: tuple[int, int] = _INT64


@dataclass(frozen=True)
class SamePrefix:
    """A cross-field rule: the first ``length`` bytes of column ``whole`` are column ``part``
    (the halls' hall_code ``TY-0012`` and region_code ``TY``)."""

    whole: str
    part: str
    length: int


class Plan:
    """A source's rules as the kernel's arrays, for a file whose contract column k is at file
    position ``order[k]``, in ``encoding``."""

    def __init__(
        self,
        columns: Sequence[str],
        rules: dict[str, Rule],
        order: Sequence[int],
        encoding: str,
        separator: bytes = b",",
        same_prefix: Sequence[SamePrefix] = (),
    ) -> None:
        n = len(columns)
        self.separator = separator[0]
        self.fields = len(order)
        self.order = np.asarray(order, dtype=np.int64)
        self.kinds = np.array([rules[c].kind for c in columns], dtype=np.int64)
        self.required = np.array([rules[c].required for c in columns], dtype=np.uint8)
        self.set_of = np.full(n, -1, dtype=np.int64)
        match: list[bytes] = []
        emit: list[bytes] = []
        bounds = [0]
        for k, c in enumerate(columns):
            if rules[c].values:
                self.set_of[k] = len(bounds) - 1
                for v in rules[c].values:
                    match.append(v.encode(encoding))
                    emit.append(v.encode("utf-8"))
                bounds.append(len(match))
        self.set_bounds = np.array(bounds, dtype=np.int64)
        self.match_off, self.match_bytes = _packed(match)
        self.emit_off, self.emit_bytes = _packed(emit)
        at = {c: k for k, c in enumerate(columns)}
        self.pairs = np.array(
            [(at[p.whole], at[p.part], p.length) for p in same_prefix], dtype=np.int64
        ).reshape(-1, 3)
        self.ascii_only = encoding.replace("-", "").lower() not in ("utf8",)
        # A listed value is written in UTF-8, up to this many times as long as it is in the file
        # (GBK's two bytes for 人 become three); anything else is written as it is read.
        self.growth = max([-(-len(e) // len(m)) for e, m in zip(emit, match, strict=True)] + [1])

    def run(self, data: bytes, first: int) -> tuple[bytes, int, np.ndarray]:
        """The chunk's records the kernel takes, as COPY text, their count, and the other lines
        (blank lines are neither): a row each of the line's index in the chunk, and where its
        bytes start and end (after its ``\n``)."""
        return self.run_adding(data, first)[:3]

    def run_adding(self, data: bytes, first: int) -> tuple[bytes, int, np.ndarray, int]:
        """As :meth:`run`, and the sum of the FEN values of the records taken."""
        total = ctypes.c_int64()
        # Every value is written at most `growth` times as long as it is read, a missing one as
        # \N, plus a tab each and the line number.
        return *_run(
            _library().render,
            data,
            first,
            self.growth,
            2 * len(self.kinds) + 24,
            self.separator,
            self.fields,
            _pointer(self.order),
            len(self.kinds),
            _pointer(self.kinds),
            _pointer(self.required),
            _pointer(self.set_of),
            _pointer(self.set_bounds),
            _pointer(self.match_off),
            _pointer(self.match_bytes),
            _pointer(self.emit_off),
            _pointer(self.emit_bytes),
            _pointer(self.pairs),
            len(self.pairs),
            int(self.ascii_only),
            ctypes.byref(total),
        ), total.value


class JsonPlan:
    """The rules of a source of JSON lines (the web's) as the arrays of ``render_json`` in
    ``_compiled.c``: a :class:`Rule` per contract key (FREE, MEMBER, MOBILE, ISO_TS or DECIMAL),
    and the rule that an event of ``needs`` requires a listed ``biz_code`` (1) and a listed
    ``result`` too (2). The last column is the keys the contract does not name."""

    def __init__(
        self,
        keys: Sequence[str],
        rules: dict[str, Rule],
        event: str,
        needs: dict[str, int],
        biz_code: tuple[str, Sequence[str]],
        result: tuple[str, Sequence[str]],
    ) -> None:
        self.key_off, self.keys = _packed([k.encode() for k in keys])
        self.kinds = np.array([rules[k].kind for k in keys], dtype=np.int64)
        self.required = np.array([rules[k].required for k in keys], dtype=np.uint8)
        sets = [(k, rules[k].values) for k in keys if rules[k].values]
        sets += [biz_code, result]
        self.set_of = np.full(len(keys), -1, dtype=np.int64)
        values: list[bytes] = []
        bounds = [0]
        for i, (key, allowed) in enumerate(sets):
            if i < len(sets) - 2:
                self.set_of[list(keys).index(key)] = i
            values += [v.encode() for v in allowed]
            bounds.append(len(values))
        self.set_bounds = np.array(bounds, dtype=np.int64)
        self.match_off, self.match_bytes = _packed(values)
        at = list(keys).index
        self.cond = np.array(
            [at(event), at(biz_code[0]), len(sets) - 2, at(result[0]), len(sets) - 1],
            dtype=np.int64,
        )
        self.event_needs = np.array(
            [needs.get(v, 0) for v in rules[event].values] or [0], dtype=np.uint8
        )

    def run(self, data: bytes, first: int) -> tuple[bytes, int, np.ndarray]:
        """As :meth:`Plan.run`: the COPY text of the lines taken, their count, the others."""
        # A taken line is written no longer than it is, but for \N per key and the line number.
        return _run(
            _library().render_json,
            data,
            first,
            1,
            3 * len(self.kinds) + 30,
            len(self.kinds),
            _pointer(self.key_off),
            _pointer(self.keys),
            _pointer(self.kinds),
            _pointer(self.required),
            _pointer(self.set_of),
            _pointer(self.set_bounds),
            _pointer(self.match_off),
            _pointer(self.match_bytes),
            _pointer(self.cond),
            _pointer(self.event_needs),
        )


class NestedPlan:
    """The rules of JSON lines whose objects hold parts one level deep (the app's events) as the
    arrays of ``render_app`` in ``_compiled_app.c``. ``rules`` names each contract column by its
    key, ``part.key`` for a key of a part (``user.msisdn``), in the order of the COPY columns;
    ``when[value]`` adds the rules that hold when the column ``event`` has that value (a column
    then required, MEMBER or INTEGER). Each file's plan (:meth:`with_tail`) adds the COPY text of
    the columns that follow (the export date, the same for every line of a file); after it comes
    the keys the contract does not name, as a JSON object."""

    def __init__(
        self, rules: dict[str, Rule], event: str, when: dict[str, dict[str, Rule]]
    ) -> None:
        paths = [key.split(".", 1) if "." in key else [None, key] for key in rules]
        parents = list(dict.fromkeys(part for part, _ in paths if part is not None))
        self.parent_off, self.parent_keys = _packed([p.encode() for p in parents])
        self.parent_of = np.array(
            [-1 if part is None else parents.index(part) for part, _ in paths], dtype=np.int64
        )
        self.key_off, self.keys = _packed([key.encode() for _, key in paths])
        columns = list(rules)
        self.kinds = np.array([r.kind for r in rules.values()], dtype=np.int64)
        self.required = np.array([r.required for r in rules.values()], dtype=np.uint8)
        self.lo = np.array([r.bounds[0] for r in rules.values()], dtype=np.int64)
        self.hi = np.array([r.bounds[1] for r in rules.values()], dtype=np.int64)
        sets: list[tuple[str, ...]] = []
        self.set_of = np.full(len(columns), -1, dtype=np.int64)
        for k, r in enumerate(rules.values()):
            if r.values:
                self.set_of[k] = len(sets)
                sets.append(r.values)
        events = rules[event].values
        conds = []
        for value, extra in when.items():
            for column, r in extra.items():
                listed = -1
                if r.values:
                    listed = len(sets)
                    sets.append(r.values)
                conds.append((events.index(value), columns.index(column), listed, *r.bounds))
        self.conds = np.array(conds, dtype=np.int64).reshape(-1, 5)
        self.event = columns.index(event)
        values = [v.encode() for s in sets for v in s]
        self.set_bounds = np.cumsum([0] + [len(s) for s in sets]).astype(np.int64)
        self.match_off, self.match_bytes = _packed(values)
        self.tail, self.tail_len = np.zeros(1, dtype=np.uint8), 0

    def with_tail(self, tail: bytes) -> NestedPlan:
        """The same rules with another ``tail`` (a file's export date)."""
        plan = copy.copy(self)
        plan.tail = np.frombuffer(tail or b"\0", dtype=np.uint8).copy()
        plan.tail_len = len(tail)
        return plan

    def run(self, data: bytes, first: int) -> tuple[bytes, int, np.ndarray]:
        """As :meth:`Plan.run`: the COPY text of the lines taken, their count, the others."""
        # A taken line is written no longer than it is, but for \N per key, the tail and the
        # line number.
        return _run(
            _library().render_app,
            data,
            first,
            1,
            3 * len(self.kinds) + self.tail_len + 32,
            len(self.kinds),
            _pointer(self.key_off),
            _pointer(self.keys),
            _pointer(self.parent_of),
            len(self.parent_off) - 1,
            _pointer(self.parent_off),
            _pointer(self.parent_keys),
            _pointer(self.kinds),
            _pointer(self.required),
            _pointer(self.lo),
            _pointer(self.hi),
            _pointer(self.set_of),
            _pointer(self.set_bounds),
            _pointer(self.match_off),
            _pointer(self.match_bytes),
            self.event,
            len(self.conds),
            _pointer(self.conds),
            _pointer(self.tail),
            self.tail_len,
        )


def _run(render, data: bytes, first: int, growth: int, per_line: int, *rules):
    """A pass of ``render`` (a function of _compiled.c) over the chunk with the plan's ``rules``
    (its arguments after the chunk and its length), with room for what it may write: ``growth``
    bytes per byte read and ``per_line`` more per line."""
    lines = count_byte(data, b"\n", len(data)) + 1
    out = np.empty(len(data) * growth + lines * per_line, dtype=np.uint8)
    slow = np.empty((lines, 3), dtype=np.int64)
    taken, n_slow = ctypes.c_int64(), ctypes.c_int64()
    size = render(
        data,
        len(data),
        *rules,
        _pointer(_FIRST_BYTES),
        _pointer(_LAST_BYTES),
        first,
        _pointer(out),
        _pointer(slow),
        ctypes.byref(taken),
        ctypes.byref(n_slow),
    )
    if size < 0:
        raise ValueError("the compiled pass reads at most 256 fields")
    return out[:size].tobytes(), taken.value, slow[: n_slow.value]


def batch_of(
    plan: Plan | JsonPlan,
    data: bytes,
    first: int,
    columns: Sequence[str],
    per_record: Callable[[int, bytes], Iterable[Item | None]],
) -> Batch:
    """A chunk's batch: what the plan's pass takes, as COPY text, and the items the per-record
    path makes of the other lines (``per_record(number, line)``), which may raise the file's
    rejection."""
    text, taken, slow = plan.run(data, first)
    items = (
        item
        for index, start, stop in slow.tolist()
        for item in per_record(first + index, data[start:stop])
    )
    batch = col.batch_from_items(columns, items)
    batch.text, batch.text_rows = text, taken
    return batch


def count_byte(data: bytes, byte: bytes, end: int) -> int:
    """How many of ``data[:end]`` are ``byte`` (see :func:`columnar.count_byte`)."""
    if _loaded is None and not available():
        return data.count(byte, 0, end)
    return _library().count_byte(data, end, byte[0])


def find_byte(data: bytes, byte: bytes) -> np.ndarray:
    """The offsets of ``byte`` in ``data`` (see :meth:`columnar.Lines.of`)."""
    if _loaded is None and not available():
        return np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == byte[0])
    # Room for every byte (virtual memory: only what is written is touched), then the found.
    at = np.empty(len(data), dtype=np.int64)
    return at[: _library().find_byte(data, len(data), byte[0], _pointer(at))].copy()


def _packed(values: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    off = np.zeros(len(values) + 1, dtype=np.int64)
    off[1:] = np.cumsum([len(v) for v in values])
    data = np.frombuffer(b"".join(values) or b"\0", dtype=np.uint8).copy()
    return off, data


_FIRST_BYTES = col._FIRST_BYTES.astype(np.uint8)
_LAST_BYTES = col._LAST_BYTES.astype(np.uint8)
_FOLDER = Path(__file__).parent
# The library's C files.
_SOURCES = (
    "_compiled.h",
    "_compiled.c",
    "_compiled_json.c",
    "_compiled_app.c",
    "_compiled_xlsx.h",
    "_compiled_sst.c",
    "_compiled_stores.c",
)
log = logging.getLogger(__name__)


def _pointer(array: np.ndarray) -> ctypes.c_void_p:
    return ctypes.c_void_p(array.ctypes.data)


_lock = threading.Lock()
_loaded: ctypes.CDLL | None = None
_missing: str | None = None  # why the library cannot be had, once found out


def available() -> bool:
    """Whether the compiled pass can run here (built now if it was not yet); the first time it
    cannot, the reason is logged."""
    try:
        _library()
    except OSError:
        return False
    return True


def _library() -> ctypes.CDLL:
    global _loaded, _missing
    if _loaded is not None:
        return _loaded
    with _lock:
        if _loaded is None:
            if _missing is not None:
                raise OSError(_missing)
            try:
                _loaded = _load(_built())
            except OSError as exc:
                _missing = str(exc)
                log.warning(
                    "the compiled reader pass is not available, so the delimited, web, app and "
                    "store readers load through their slower columnar paths (same rows and "
                    "rejections): %s",
                    _missing,
                )
                raise
    return _loaded


def _load(path: Path) -> ctypes.CDLL:
    lib = ctypes.CDLL(str(path))
    p, i64 = ctypes.c_void_p, ctypes.c_int64
    lib.render.restype = i64
    lib.render.argtypes = [
        ctypes.c_char_p, i64, ctypes.c_uint8, i64, p, i64, p, p, p, p, p, p, p, p, p, i64,
        ctypes.c_int, p, p, p, i64, p, p, p, p,
    ]  # fmt: skip
    lib.count_byte.restype = i64
    lib.count_byte.argtypes = [ctypes.c_char_p, i64, ctypes.c_uint8]
    lib.find_byte.restype = i64
    lib.find_byte.argtypes = [ctypes.c_char_p, i64, ctypes.c_uint8, p]
    lib.render_json.restype = i64
    lib.render_json.argtypes = [ctypes.c_char_p, i64, i64, *[p] * 12, i64, p, p, p, p]
    lib.render_app.restype = i64
    lib.render_app.argtypes = [
        ctypes.c_char_p, i64, i64, p, p, p, i64, p, p, p, p, p, p, p, p, p, p, i64, i64, p, p, i64,
        p, p, i64, p, p, p, p,
    ]  # fmt: skip
    lib.index_strings.restype = i64
    lib.index_strings.argtypes = [ctypes.c_char_p, i64, p, p, i64, p]
    lib.render_stores.restype = i64
    lib.render_stores.argtypes = [
        p, i64, p, p, p, p, p, p, p, p, i64, i64, p, i64, ctypes.c_char_p, i64, p, i64,
        p, p, p, p, p, p, p, p,
    ]  # fmt: skip
    return lib


def _built() -> Path:
    """The shared library of the C files, built now if these sources have not been built yet."""
    source = b"".join((_FOLDER / name).read_bytes() for name in _SOURCES)
    name = f"_compiled-{hashlib.sha256(source).hexdigest()[:16]}.so"
    folders = (_FOLDER / "__pycache__", Path(tempfile.gettempdir()) / "channel-dw")
    for folder in folders:
        if (folder / name).exists():
            return folder / name
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise OSError("no C compiler found (cc, gcc, or $CC)")
    for folder in folders:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd, partial = tempfile.mkstemp(suffix=".so", dir=folder)
        except OSError:
            continue
        os.close(fd)
        done = subprocess.run(
            [compiler, "-O2", "-shared", "-fPIC", "-o", partial]
            + [str(_FOLDER / name) for name in _SOURCES if name.endswith(".c")]
            + ["-lm"],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            os.unlink(partial)
            raise OSError(f"{compiler} could not build _compiled.c: {done.stderr[-2000:]}")
        os.replace(partial, folder / name)  # whole or not at all, beside a build running at once
        for old in folder.glob("_compiled-*.so"):  # the builds of earlier sources
            if old.name != name:
                old.unlink(missing_ok=True)
        return folder / name
    raise OSError("no writable folder to build _compiled.c in")
