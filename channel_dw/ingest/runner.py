"""Finding export files in the landing root and loading a batch of them.

One bad file never stops a batch: a rejected file is an outcome like any other, and a file whose
load fails unexpectedly is reported at the end while the others go on.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from channel_dw.config import Settings, settings
from channel_dw.db.connection import connect
from channel_dw.ingest.core import LoadOutcome, load_file
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


@dataclass
class BatchResult:
    outcomes: list[LoadOutcome]
    failures: list[tuple[Path, str]]  # files whose load failed unexpectedly, with the error
    unrecognised: list[Path]

    @property
    def ok(self) -> bool:
        return not self.failures


def discover(
    landing: Path,
    sources: Iterable[str] | None = None,
    start: date | None = None,
    end: date | None = None,
) -> tuple[list[FoundFile], list[Path]]:
    """Export files under ``<landing>/<source>/``, oldest business date first, CRM first in a day.

    Returns the recognised files and the files whose names match no source's pattern.
    """
    found: list[FoundFile] = []
    unrecognised: list[Path] = []
    for name in sources or SOURCE_NAMES:
        spec = get_source(name)
        folder = landing / name
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if (
                not path.is_file()
                or path.name.startswith(".")
                or path.name.endswith(_IN_FLIGHT_SUFFIXES)
            ):
                continue
            if spec.match(path.name) is None:
                unrecognised.append(path)
                continue
            day = spec.business_date(path.name)
            if (start and day < start) or (end and day > end):
                continue
            found.append(FoundFile(spec, path, day))
    order = {name: i for i, name in enumerate(SOURCE_NAMES)}
    found.sort(key=lambda f: (f.business_date, order[f.spec.name], f.path.name))
    return found, unrecognised


def ingest_files(
    files: list[FoundFile],
    *,
    s: Settings | None = None,
    run_checks: bool = True,
    loaded_by: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> BatchResult:
    s = s or settings()
    outcomes: list[LoadOutcome] = []
    failures: list[tuple[Path, str]] = []
    conn = connect(s, application_name="channel-dw ingest")
    try:
        for i, f in enumerate(files, start=1):
            try:
                outcome = load_file(
                    f.spec,
                    f.path,
                    s=s,
                    run_checks=run_checks,
                    loaded_by=loaded_by,
                    progress=progress,
                    conn=conn,
                )
            except Exception as exc:  # one file's failure does not stop the batch
                log.exception("loading %s failed", f.path)
                failures.append((f.path, f"{type(exc).__name__}: {exc}"))
                if conn.closed:
                    conn = connect(s, application_name="channel-dw ingest")
                if progress:
                    progress(f"[{i}/{len(files)}] {f.spec.name}/{f.path.name}: FAILED: {exc}")
                continue
            outcomes.append(outcome)
            if progress:
                progress(f"[{i}/{len(files)}] {outcome.summary()}")
    finally:
        conn.close()
    return BatchResult(outcomes, failures, [])


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
) -> BatchResult:
    """Loads every matching file of the landing root; already-loaded files are skipped cheaply."""
    s = s or settings()
    files, unrecognised = discover(landing or s.landing, sources, start, end)
    for path in unrecognised:
        log.warning("ignoring %s: its name matches no source's file pattern", path)
    result = ingest_files(files, s=s, run_checks=run_checks, loaded_by=loaded_by, progress=progress)
    result.unrecognised = unrecognised
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
