"""What may be loaded from the landing root, whatever the names and the kinds of its entries.

The landing root is written by other systems, so its entries are untrusted: a name may hold
spaces, quotes, ``;``, ``$(...)``, a newline, bytes that are not UTF-8 or look like SQL; an entry
may be a folder, a FIFO, a device, a dangling symlink or a symlink to anywhere. The rules
(docs/ingestion.md, "Names and paths"):

* a name is only ever compared with its source's pattern (a full match, ASCII only); it is never
  run, never part of SQL (the ledger gets it as a bound parameter) and never a path to follow;
* only a regular file whose name is an export file name of its folder's source is loaded, under
  that name; everything else is reported (the path, shown safely, and the reason) and ignored;
* a symlink is followed only when its target is a regular file inside the landing root: one that
  leads out of the root (or a source folder that does) is never followed, nor read;
* a file the loader cannot read is a failure of the batch (reported, the other files go on), so
  that the run is retried once its permissions are fixed.

``ingest --file PATH`` applies the same rules to a path in the landing root; a path outside it was
chosen by the user and is loaded wherever it lives (symlinks followed) if it is a regular file
named like an export of its folder's source.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from channel_dw.sources import SOURCE_NAMES, get_source
from channel_dw.sources.base import SourceSpec


def shown(path: Path | str) -> str:
    """The path as text that is safe to print and to log, and still names the file.

    Bytes that are not UTF-8 become ``\\xNN``; a path with a newline, a control or format
    character (e.g. a right-to-left override) is shown as a quoted Python string literal, so one
    message stays one line and says exactly which name it is about.
    """
    text = os.fsencode(path).decode("utf-8", "backslashreplace")
    return text if text.isprintable() else repr(text)


class UnusableFile(Exception):
    """A path that cannot be loaded as an export file; ``reason`` says why, for people."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"{shown(path)}: {reason}")
        self.path = Path(path)
        self.reason = reason


@dataclass(frozen=True)
class Ignored:
    """An entry of the landing root that is not loaded, and why."""

    path: Path
    reason: str

    @property
    def name(self) -> str:
        return self.path.name

    def message(self) -> str:
        return f"ignored {shown(self.path)}: {self.reason}"


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder, not a file"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe), not a regular file: it is never opened"
    if stat.S_ISSOCK(mode):
        return "a socket, not a regular file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device, not a regular file"
    return "not a regular file"


def not_regular(path: Path) -> str | None:
    """Why ``path`` (symlinks followed) is not a regular file, or None when it is one."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        if path.is_symlink():
            return f"it is a dangling symlink (to {shown(os.readlink(path))}, which does not exist)"
        return "it does not exist"
    except OSError as exc:
        return f"it cannot be looked at: {exc.strerror or exc}"
    return None if stat.S_ISREG(mode) else f"it is {_kind(mode)}"


def outside_root(path: Path, root: Path) -> str | None:
    """Why ``path`` leads out of the landing root ``root`` (already resolved), or None."""
    try:
        real = path.resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop: RuntimeError before Python 3.13
        return f"its symlinks cannot be resolved ({exc}): not followed"
    if real.is_relative_to(root):
        return None
    return (
        f"it leads to {shown(real)}, outside the landing root {shown(root)}"
        " (a symlink): not followed"
    )


def check_entry(path: Path, root: Path) -> str | None:
    """None when ``path`` in the landing root ``root`` (resolved) may be read, else why not."""
    return outside_root(path, root) or not_regular(path)


def date_of(spec: SourceSpec, file_name: str) -> date | str:
    """The business date in an export file name, or why the name is not one of ``spec``'s."""
    if spec.match(file_name) is None:
        return f"its name does not match the {spec.name} file pattern {spec.file_pattern.pattern}"
    try:
        return spec.business_date(file_name)
    except ValueError:
        return "the date in its name is not a calendar date"


def explicit_file(path: Path, landing: Path) -> tuple[SourceSpec, Path, date, Path | None]:
    """The source, absolute path, business date and the landing root it must stay in (None
    outside it) of a file named by the user (``--file``): the fields of a ``FoundFile``.

    Its source is the name of the folder it is in, as given (symlinks are not resolved for
    that). In the landing root it obeys the landing root's rules; elsewhere it is followed.
    Raises :class:`UnusableFile` with the reason when it cannot be loaded.
    """
    given = Path(os.path.abspath(path))
    source = given.parent.name
    if source not in SOURCE_NAMES:
        raise UnusableFile(
            path,
            f"its folder {shown(source)} is not a source (the file's source is the name of"
            f" its folder, one of: {', '.join(SOURCE_NAMES)})",
        )
    spec = get_source(source)
    day = date_of(spec, given.name)
    if isinstance(day, str):
        raise UnusableFile(path, day)
    root = landing.resolve()
    try:
        in_landing = given.is_relative_to(os.path.abspath(landing)) or (
            given.parent.resolve().is_relative_to(root)
        )
    except (OSError, RuntimeError):
        in_landing = True  # cannot tell: the stricter rules
    reason = check_entry(given, root) if in_landing else not_regular(given)
    if reason:
        raise UnusableFile(path, reason)
    return spec, given, day, root if in_landing else None
