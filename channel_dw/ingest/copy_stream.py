"""Streaming rows into PostgreSQL ``COPY ... FROM STDIN`` (text format) without holding them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\x00": ""})


def copy_field(value: str | None) -> str:
    """One field in COPY text format: NULL is ``\\N``; backslash, tab and newlines escaped.

    PostgreSQL text cannot hold NUL characters; they are the only thing removed.
    """
    if value is None:
        return "\\N"
    return value.translate(_ESCAPES)


def copy_line(values: Iterable[str | None]) -> str:
    return "\t".join([copy_field(v) for v in values]) + "\n"


def copy_row(values: tuple[str | None, ...]) -> str:
    """:func:`copy_line` without its trailing newline, fast for the common row.

    Most values need no escaping: join them once and check the joined text with C-speed string
    operations; only a row that holds a backslash, tab, newline or NUL takes the per-field path.
    """
    nulls = values.count(None)
    text = "\t".join([_NULL if v is None else v for v in values]) if nulls else "\t".join(values)
    if (
        text.count("\t") != len(values) - 1
        or text.count("\\") != nulls
        or "\n" in text
        or "\r" in text
        or "\x00" in text
    ):
        return "\t".join([copy_field(v) for v in values])
    return text


_NULL = "\\N"


class LineStream:
    """A read-only file object over an iterator of COPY lines, for ``cursor.copy_expert``.

    ``copy_expert`` calls ``read(size)`` until it returns nothing; each call pulls just enough lines
    from the iterator, so memory stays at one chunk whatever the size of the file.
    """

    def __init__(self, lines: Iterator[str], chunk_chars: int = 1 << 18) -> None:
        self._lines = lines
        self._chunk = chunk_chars
        self._done = False
        # psycopg2 turns an exception raised inside read() into QueryCanceled; the caller
        # re-raises this original one (a FileRejected, or the real cause of a failure).
        self.error: BaseException | None = None

    def read(self, size: int = -1) -> bytes:
        if self._done:
            return b""
        want = self._chunk if size is None or size < 0 else max(size, self._chunk)
        parts: list[str] = []
        total = 0
        append = parts.append
        try:
            for line in self._lines:
                append(line)
                total += len(line)
                if total >= want:
                    break
            else:
                self._done = True
        except BaseException as exc:
            self.error = exc
            raise
        return "".join(parts).encode("utf-8")
