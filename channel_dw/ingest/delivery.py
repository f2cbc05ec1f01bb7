"""The delivered file as fingerprinted, watched until its COPY ends (see :class:`Delivery`).

A file written to between its fingerprint and the end of its COPY (the sender still appending)
is rejected as ``file_changed_during_load``: what was read may not be what was fingerprinted.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

from channel_dw.errors import FileRejected

# What identifies one version of a delivered file: a write changes the size or the modification
# time (nanoseconds), a replacement (another file renamed over it) the inode.
FileVersion = tuple[int, int, int, int]


def _version(st: os.stat_result) -> FileVersion:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


class Delivery:
    """The delivered file as fingerprinted, watched until its COPY ends.

    The fingerprint reads the bytes the file had when it was opened and no more (a file that keeps
    growing ends the reading), and the file stays open, so that the version read can be checked
    even after another file was renamed over its name. :meth:`check` rejects the delivery as
    ``file_changed_during_load`` when what the reader read may not be what was fingerprinted:

    * the fingerprinted file was written to, cut or grown (its size or modification time moved);
    * its name leads to another file and the reader may have opened that one: the name changed
      before the reader's first batch (every reader opens the file before its first batch).

    Another file renamed over the name after that is harmless: the reader reads the fingerprinted
    one to its end, and the next run loads the new file as a corrected delivery.

    The checksum (SHA-256) is taken on a thread of its own, so that a load need not wait for it:
    :attr:`sha256` waits for it where it is wanted (the comparison with an earlier delivery of the
    name, the ledger row's end). It cost 0.05-0.35 s before every load of a 58-316 MB file, 16 %
    of the web's load. The thread starts at the reader's first batch (:meth:`first_batch`), or
    when the checksum is asked for first: begun with the file, it took a core from the reading of
    the first chunk while PostgreSQL had nothing to do yet (the first rows reached the COPY
    0.045-0.18 s after the start of a crm load, 0.017-0.11 s without it).

    Use it as a context manager, or :meth:`close` it: that stops the checksum and closes the
    file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fh = path.open("rb")
        self.version = _version(os.fstat(self.fh.fileno()))
        self.size = self.version[2]  # the size when opened, as fingerprinted
        self.opened_by_reader = False  # the name still led to this file at the first batch
        self._digest: str | None = None
        self._failed: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._checksum, name="checksum", daemon=True)

    def _start(self) -> None:
        if self._thread.ident is None and not self._stop.is_set():
            self._thread.start()

    def _checksum(self) -> None:
        """The SHA-256 of the bytes the file had when it was opened (a file that keeps growing
        does not keep the reading going), read from the file held open."""
        try:
            digest = hashlib.sha256()  # hashes a large block without the GIL
            left = self.size
            while left > 0 and not self._stop.is_set():
                chunk = os.pread(self.fh.fileno(), min(1 << 20, left), self.size - left)
                if not chunk:
                    break  # cut short: check() rejects the delivery
                digest.update(chunk)
                left -= len(chunk)
            if self._stop.is_set() and left > 0:
                raise RuntimeError(f"the checksum of {self.path.name} was stopped half-way")
            self._digest = digest.hexdigest()
        except BaseException as exc:  # raised where the checksum is asked for
            self._failed = exc

    @property
    def sha256(self) -> str:
        """The file's checksum (waits until it has been taken)."""
        if self._thread.ident is None and self._stop.is_set():
            raise RuntimeError(f"the checksum of {self.path.name} was asked for after close()")
        self._start()
        self._thread.join()
        if self._failed is not None:
            raise self._failed
        assert self._digest is not None
        return self._digest

    def close(self) -> None:
        self._stop.set()
        if self._thread.ident is not None:
            self._thread.join()
        self.fh.close()

    def __enter__(self) -> Delivery:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def first_batch(self) -> None:
        """The reader gave its first batch: the name's file is the one it reads (see
        :meth:`check`), and the checksum starts, beside the COPY."""
        if not self.opened_by_reader:
            self.check("before it was read")
            self.opened_by_reader = True
            self._start()

    def check(self, when: str) -> None:
        changed = self.change(when)
        if changed is not None:
            raise changed

    def change(self, when: str) -> FileRejected | None:
        """The rejection, if the file changed (see the class); None if it did not."""
        was = self.version
        now = _version(os.fstat(self.fh.fileno()))
        if now[2:] != was[2:]:
            what = (
                f"changed size from {was[2]:,} to {now[2]:,} bytes"
                if now[2] != was[2]
                else "was rewritten"
            )
        else:
            try:
                named = _version(os.stat(self.path))
            except FileNotFoundError:
                named = None
            if named == was or self.opened_by_reader:
                return None
            what = "was removed" if named is None else "was replaced by another file"
        return FileRejected(
            file=self.path.name,
            line=None,
            rule="file_changed_during_load",
            message=f"the file {what} {when}: the sender was probably still writing it. Nothing "
            "of it was loaded; the next run loads it again once it has stopped changing",
        )
