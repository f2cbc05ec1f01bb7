"""Streaming rows into PostgreSQL ``COPY ... FROM STDIN`` without holding them."""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from channel_dw.sources.ahead import Done, in_order

if TYPE_CHECKING:
    from channel_dw.sources.columnar import Batch

# COPY text format from Arrow, rendered by pyarrow's CSV writer: tab-delimited, NULL as \N, nothing
# quoted. The writer refuses (rather than quotes) a value holding a tab, a line break or a double
# quote, so a text column that holds any of these, a backslash or a NUL is escaped first, as
# copy_field() escapes one value: `"` as \x22, which COPY reads back as the quote. Text because
# PostgreSQL parses it fastest: the same rows as CSV took it 1.3-1.4 x as long (docs/ingestion.md).
_TEXT_OPTIONS = pcsv.WriteOptions(
    include_header=False, delimiter="\t", null_string="\\N", quoting_style="none"
)
_TEXT_ESCAPES = (
    ("\\", "\\\\"),  # first: the escapes below add backslashes
    ("\t", "\\t"),
    ("\n", "\\n"),
    ("\r", "\\r"),
    ('"', "\\x22"),
    ("\x00", ""),  # PostgreSQL text cannot hold NUL
)
# one value (copy_field) can hold a double quote as it is
_ESCAPES = str.maketrans({special: escaped for special, escaped in _TEXT_ESCAPES if special != '"'})


def copy_field(value: str | None) -> str:
    """One field in COPY text format: NULL is ``\\N``; backslash, tab and newlines escaped.

    PostgreSQL text cannot hold NUL characters; they are the only thing removed.
    """
    if value is None:
        return "\\N"
    return value.translate(_ESCAPES)


def copy_line(values: Iterable[str | None]) -> str:
    return "\t".join([copy_field(v) for v in values]) + "\n"


def _may_need_escapes(column: pa.ChunkedArray) -> bool:
    """Whether any byte of the column's values is a control character, `"` or a backslash: a
    look at the raw value bytes (some 40 ms per 100 MB), where a regular expression per value
    costs ten times that. A byte outside the column's slice can only cause an escape pass that
    changes nothing."""
    for chunk in column.chunks:
        data = chunk.buffers()[2]
        if data is None:
            continue
        raw = np.frombuffer(data, dtype=np.uint8)
        if (raw < 0x20).any() or (raw == 0x22).any() or (raw == 0x5C).any():
            return True
    return False


def copy_text(rows: pa.Table) -> bytes:
    """The rows as COPY text format, one line per row, columns in the table's order."""
    columns = []
    for column in rows.columns:
        if (
            pa.types.is_string(column.type) or pa.types.is_large_string(column.type)
        ) and _may_need_escapes(column):
            for special, escaped in _TEXT_ESCAPES:
                column = pc.replace_substring(column, special, escaped)
        columns.append(column)
    table = pa.Table.from_arrays(columns, names=rows.column_names)
    sink = pa.BufferOutputStream()
    with pcsv.CSVWriter(sink, table.schema, write_options=_TEXT_OPTIONS) as writer:
        # Empty chunks left out: pyarrow 26's CSV writer renders a table whose first chunk is
        # empty as a buffer of NUL bytes, not as its rows.
        for part in table.to_batches():
            if part.num_rows:
                writer.write_batch(part)
    return sink.getvalue().to_pybytes()


# A batch with no more rows to render than this is rendered in the thread that takes it (under a
# millisecond), not on the rendering pool. A job on the pool is often not done yet when the next
# one is taken (in_order), and taking the next one waits for the reader's next chunk, so the
# finished text waited for that chunk too, with PostgreSQL idle: 20-30 ms a chunk at the start of
# a crm load, whose compiled reader leaves some 50 rows a chunk to render (2026-12-05).
RENDER_HERE_ROWS = 1_000


def _render(batch: Batch) -> list[bytes]:
    """A batch's rows as COPY text: those a compiled reader wrote already, then the others. The
    file id is not in it: the per-file table's default gives it (core._copy_rows)."""
    parts = [batch.text] if batch.text else []
    if batch.rows.num_rows:
        parts.append(copy_text(batch.rows))
    return parts


class BatchStream:
    """A read-only file object for ``cursor.copy_expert`` over a reader's batches, in COPY's text
    format.

    A thread pulls the batches (the reader's parsing and checks run in pyarrow, which releases the
    GIL, on the reader's own threads), renders each as COPY text (:func:`copy_text`: NULL is
    ``\\N``, an empty text stays empty; what a compiled reader wrote as COPY text passes as it
    is), without the file id (the table's default gives it), on a pool of the reader threads'
    size (:func:`~channel_dw.sources.ahead.in_order`, in order), and queues a few of them;
    ``read()`` hands them to psycopg2, which sends them while the next chunks are being parsed.
    Memory stays at the few queued chunks. ``on_batch`` sees every batch first, in order
    (counting, quarantine, progress).

    An exception in the reader (a :class:`FileRejected`, a bug) is kept in ``error`` and raised in
    ``read()``, which makes psycopg2 abort the COPY; the caller re-raises ``error``.
    """

    _DONE = object()

    def __init__(
        self,
        batches: Iterator[Batch],
        on_batch: Callable[[Batch], None],
        queued: int = 4,
    ) -> None:
        self._batches = batches
        self._on_batch = on_batch
        self._queue: queue.Queue = queue.Queue(maxsize=queued)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, name="copy-reader", daemon=True)
        self._finished = False
        self.error: BaseException | None = None

    def __enter__(self) -> BatchStream:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        while self._thread.is_alive():  # unblock a producer waiting on a full queue
            with contextlib.suppress(queue.Empty):
                self._queue.get(timeout=0.05)
        self._thread.join()

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self) -> None:
        try:
            for parts in in_order(self._renders(), name="copy-render"):
                for text in parts:
                    if not self._put(text):
                        return
        except BaseException as exc:
            self._put(exc)
            return
        self._put(self._DONE)

    def _renders(self) -> Iterator[Callable[[], list[bytes]]]:
        """One job per batch with rows: its COPY text (rendered ahead, on the reader threads'
        pool size, see :mod:`~channel_dw.sources.ahead`). ``on_batch`` sees the batches here,
        in order, as they come from the reader."""
        for batch in self._batches:
            self._on_batch(batch)
            if batch.rows.num_rows > RENDER_HERE_ROWS:
                yield partial(_render, batch)
            elif batch.rows.num_rows or batch.text_rows:
                yield Done(_render(batch))  # little or nothing to render: on at once

    def read(self, size: int = -1) -> bytes:
        if self._finished:
            return b""
        item = self._queue.get()
        if item is self._DONE:
            self._finished = True
            return b""
        if isinstance(item, BaseException):
            self._finished = True
            self.error = item
            raise item
        return item
