"""The delivered file as fingerprinted, watched until its COPY ends (see :class:`Delivery`).

A file written to between its fingerprint and the end of its COPY (the sender still appending)
is rejected as ``file_changed_during_load``: what was read may not be what was fingerprinted.
"""

from __future__ import annotations

import hashlib
import os
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
    one to its end, and the next run loads the new file as a corrected delivery."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fh = path.open("rb")
        self.version = _version(os.fstat(self.fh.fileno()))
        digest = hashlib.sha256()
        size, left = 0, self.version[2]
        while left > 0 and (chunk := self.fh.read(min(1 << 20, left))):
            digest.update(chunk)
            size += len(chunk)
            left -= len(chunk)
        self.size, self.sha256 = size, digest.hexdigest()
        self.opened_by_reader = False  # the name still led to this file at the first batch

    def __enter__(self) -> Delivery:
        return self

    def __exit__(self, *exc_info) -> None:
        self.fh.close()

    def first_batch(self) -> None:
        if not self.opened_by_reader:
            self.check("before it was read")
            self.opened_by_reader = True

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
