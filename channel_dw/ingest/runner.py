"""Finding export files in the landing root and loading a batch of them.

One bad file never stops a batch: a rejected file is an outcome like any other, and a file whose
load fails unexpectedly is reported at the end while the others go on.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from psycopg2.extensions import connection as PgConnection

from channel_dw.config import Settings, settings
from channel_dw.db.connection import connect
from channel_dw.ingest.core import LoadOutcome, load_file
from channel_dw.ingest.landing import (
    Ignored,
    UnusableFile,
    check_entry,
    date_of,
    outside_root,
    shown,
)
from channel_dw.sources import SOURCE_NAMES, get_source
from channel_dw.sources.base import SourceSpec

log = logging.getLogger(__name__)

# Files still being written by the sender are not picked up.
_IN_FLIGHT_SUFFIXES = (".part", ".tmp", ".partial", ".filepart")


@dataclass(frozen=True)
class FoundFile:
    spec: SourceSpec
    path: Path
    business_date: date
    # The resolved landing root the file must stay in (checked again right before its load, as
    # a symlink may have been pointed elsewhere since discovery); None: a file the user chose.
    root: Path | None = None


@dataclass
class BatchResult:
    outcomes: list[LoadOutcome]
    failures: list[tuple[Path, str]]  # files whose load failed (unreadable, or unexpectedly)
    ignored: list[Ignored] = field(default_factory=list)  # entries not loaded, with the reason

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def unrecognised(self) -> list[Path]:
        """The paths of the ignored entries."""
        return [i.path for i in self.ignored]


def discover(
    landing: Path,
    sources: Iterable[str] | None = None,
    start: date | None = None,
    end: date | None = None,
) -> tuple[list[FoundFile], list[Ignored]]:
    """Export files under ``<landing>/<source>/``, oldest business date first, CRM first in a day
    (the order of a one-process batch; several processes keep each source's order only).

    Returns the files to load and the entries that are not loaded, each with the reason (see
    :mod:`channel_dw.ingest.landing`): a name that is no export file name of the folder's source,
    a date that is no calendar date, anything but a regular file, a symlink that leads out of the
    landing root or nowhere. Hidden and in-flight files are left alone silently; a file outside
    ``start``..``end`` is not looked at.
    """
    found: list[FoundFile] = []
    ignored: list[Ignored] = []
    root = landing.resolve()
    for name in sources or SOURCE_NAMES:
        spec = get_source(name)
        folder = landing / name
        if not folder.exists() and not folder.is_symlink():
            continue
        reason = outside_root(folder, root) or (None if folder.is_dir() else "it is not a folder")
        if reason:
            ignored.append(Ignored(folder, f"{reason} (the {name} folder is skipped)"))
            continue
        for path in sorted(folder.iterdir()):
            if path.name.startswith(".") or path.name.endswith(_IN_FLIGHT_SUFFIXES):
                continue
            day = date_of(spec, path.name)
            if isinstance(day, str):
                ignored.append(Ignored(path, day))
                continue
            if (start and day < start) or (end and day > end):
                continue
            reason = check_entry(path, root)
            if reason:
                ignored.append(Ignored(path, reason))
                continue
            found.append(FoundFile(spec, path, day, root))
    order = {name: i for i, name in enumerate(SOURCE_NAMES)}
    found.sort(key=lambda f: (f.business_date, order[f.spec.name], f.path.name))
    return found, ignored


def load_found(
    f: FoundFile,
    *,
    conn: PgConnection,
    s: Settings,
    run_checks: bool = True,
    loaded_by: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> LoadOutcome | tuple[Path, str]:
    """Loads one found file on ``conn``: its outcome, or ``(path, error)`` when the load failed
    (the error logged; the caller goes on with the next file, on a new connection if this one
    closed)."""
    try:
        moved = f.root is not None and outside_root(f.path, f.root)
        if moved:
            raise UnusableFile(f.path, moved)
        return load_file(
            f.spec,
            f.path,
            s=s,
            run_checks=run_checks,
            loaded_by=loaded_by,
            progress=progress,
            conn=conn,
        )
    except Exception as exc:  # one file's failure does not stop the batch
        if isinstance(exc, UnusableFile | OSError):
            # the file's own problem (permissions, gone, not a file): no traceback
            error = (
                exc.reason
                if isinstance(exc, UnusableFile)
                else f"it cannot be read: {exc.strerror or exc}"
            )
            log.error("%s not loaded: %s", shown(f.path), error)
        else:
            error = f"{type(exc).__name__}: {exc}"
            log.exception("loading %s failed", shown(f.path))
        return (f.path, error)


def tell(
    batch: BatchResult,
    f: FoundFile,
    result: LoadOutcome | tuple[Path, str],
    done: int,
    total: int,
    progress: Callable[[str], None] | None,
) -> None:
    """Adds one file's result to ``batch`` and says it: ``[done/total] ...``."""
    if isinstance(result, LoadOutcome):
        batch.outcomes.append(result)
        said = result.summary()
    else:
        batch.failures.append(result)
        said = f"{f.spec.name}/{shown(f.path.name)}: FAILED: {result[1]}"
    if progress:
        progress(f"[{done}/{total}] {said}")


def ingest_files(
    files: list[FoundFile],
    *,
    s: Settings | None = None,
    run_checks: bool = True,
    loaded_by: str | None = None,
    progress: Callable[[str], None] | None = None,
    jobs: int = 1,
) -> BatchResult:
    """Loads ``files`` in their order, on one connection; with ``jobs`` > 1 and files of more
    than one source, on that many processes, one source's files after each other
    (:mod:`channel_dw.ingest.lanes`)."""
    s = s or settings()
    if jobs > 1 and len({f.spec.name for f in files}) > 1:
        from channel_dw.ingest.lanes import ingest_in_lanes

        return ingest_in_lanes(
            files, jobs=jobs, s=s, run_checks=run_checks, loaded_by=loaded_by, progress=progress
        )
    batch = BatchResult([], [])
    conn = connect(s, application_name="channel-dw ingest")
    try:
        for i, f in enumerate(files, start=1):
            result = load_found(
                f, conn=conn, s=s, run_checks=run_checks, loaded_by=loaded_by, progress=progress
            )
            if conn.closed:
                conn = connect(s, application_name="channel-dw ingest")
            tell(batch, f, result, i, len(files), progress)
    finally:
        conn.close()
    return batch


def ingest(
    *,
    landing: Path | None = None,
    sources: Iterable[str] | None = None,
    start: date | None = None,
    end: date | None = None,
    s: Settings | None = None,
    run_checks: bool = True,
    loaded_by: str | None = None,
    progress: Callable[[str], None] | None = None,
    jobs: int = 1,
) -> BatchResult:
    """Loads every matching file of the landing root; already-loaded files are skipped cheaply.

    Entries that cannot be loaded are logged (a warning naming the path and the reason) and
    listed in ``BatchResult.ignored``; a file that cannot be read is a failure of the batch.
    """
    s = s or settings()
    files, ignored = discover(landing or s.landing, sources, start, end)
    for entry in ignored:
        log.warning("%s", entry.message())
    result = ingest_files(
        files, s=s, run_checks=run_checks, loaded_by=loaded_by, progress=progress, jobs=jobs
    )
    result.ignored = ignored
    return result


LEDGER_COLUMNS = (
    "file_id",
    "source",
    "file_name",
    "business_date",
    "status",
    "rows_read",
    "rows_loaded",
    "rows_quarantined",
    "rule",
    "reason",
    "finished_at",
)


def ledger_rows(
    s: Settings | None = None,
    *,
    source: str | None = None,
    start: date | None = None,
    end: date | None = None,
    status: str | None = None,
) -> list[tuple]:
    """Rows of ``audit.file_ledger`` in LEDGER_COLUMNS order, newest business date last."""
    where, params = ["true"], []
    for clause, value in (
        ("source = %s", source),
        ("business_date >= %s", start),
        ("business_date <= %s", end),
        ("status = %s", status),
    ):
        if value is not None:
            where.append(clause)
            params.append(value)
    # psycopg2's `with conn` only ends the transaction; closing() really closes it
    with contextlib.closing(connect(s)) as conn, conn.cursor() as cur:
        cur.execute("select to_regclass('audit.file_ledger')")
        if cur.fetchone()[0] is None:
            return []
        cur.execute(
            f"select {', '.join(LEDGER_COLUMNS)} from audit.file_ledger"
            f" where {' and '.join(where)} order by business_date, source, file_name, file_id",
            params,
        )
        return cur.fetchall()
