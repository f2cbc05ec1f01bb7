"""Loads one export file into ``raw``: the same core for every source.

The life of one delivery, and why each step is where it is:

1. **Fingerprint.** Size and SHA-256 of the bytes. If the live delivery of that file name has the
   same checksum, the new delivery is recorded as ``skipped`` and nothing else happens. The
   checksum is taken on a thread from the moment the file is opened: a name delivered before
   waits for it before anything is read; a first delivery is read beside it, and its ledger row
   gets it when the load ends (``sha256`` is null while a first delivery is ``loading``).
2. **Ledger row ``loading``** (committed), so an interrupted attempt is visible; the next attempt on
   the same name cleans it up and records it as ``abandoned``.
3. **COPY, one transaction.** The file's rows stream from its reader into a new per-file table
   ``raw_files.<raw_table>__f<file_id>`` (not yet part of ``raw``); quarantined rows go to a spool
   and then to their own per-file table. A whole-file rule (trailer, count, encoding, header)
   raises :class:`FileRejected` and the transaction rolls back: nothing of the file remains.
4. **Checks.** The Great Expectations suite of the source runs on the per-file table, in the
   database. A failed critical expectation rejects the file; warnings are recorded.
5. **Swap, one transaction.** The earlier delivery of the same name (if any) is detached and
   dropped, marked ``superseded``; the new table is attached as the file's partition of
   ``raw.<raw_table>``; its quarantined rows move to ``audit.quarantine``; the ledger says
   ``loaded``. Readers of ``raw`` see the old rows or the new ones, never a mix. Swaps of
   different files run side by side; the schema check's DDL (``ensure_schema``, run only when the
   schema changed) waits for them and they for it (one advisory lock, shared by swaps), which
   keeps the two from deadlocking.

A file written to between its fingerprint and the end of its COPY (the sender still appending) is
rejected as ``file_changed_during_load``: what was read may not be what was fingerprinted. The
fingerprint reads only the bytes the file had when it was opened and keeps it open; its size and
modification time are compared before the COPY, after every batch (so a file that keeps growing
is given up on at once, never read forever) and after the COPY; the next run fingerprints the
finished file afresh and loads it. Another file renamed over the name is harmless once the reader
has its first batch (it reads the fingerprinted file to its end; the next run loads the new one as
a correction), and rejected the same way before that (:class:`Delivery`).

A rejected corrected delivery does not remove the earlier good delivery of that name.
Every step holds a per-file-name advisory lock, so two processes never load the same name at once:
the second waits (and says for whom), then skips the delivery the first loaded or replaces it.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2
from psycopg2.extensions import connection as PgConnection
from psycopg2.sql import SQL, Identifier, Literal

from channel_dw.config import Settings, settings
from channel_dw.db.connection import connect
from channel_dw.db.schema import SCHEMA_LOCK, ensure_schema
from channel_dw.errors import FileRejected
from channel_dw.ingest.copy_stream import BatchStream, copy_line
from channel_dw.ingest.delivery import Delivery
from channel_dw.ingest.file_lock import lock_key, take_file_lock
from channel_dw.ingest.heap import keep_freed_memory
from channel_dw.ingest.landing import UnusableFile, not_regular
from channel_dw.sources import limits
from channel_dw.sources.base import SourceSpec
from channel_dw.sources.columnar import LINE, Batch

log = logging.getLogger(__name__)

PROGRESS_EVERY = 500_000  # rows between progress messages on big files
QUARANTINE_COLUMNS = ("file_id", "source", "file_name", "line_no", "rule", "message", "raw_text")


@dataclass
class LoadOutcome:
    """What happened to one delivery; mirrors its row in ``audit.file_ledger``."""

    file_id: int
    source: str
    file_name: str
    status: str  # loaded | skipped | rejected
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rule: str | None = None
    reason: str | None = None
    replaced_file_id: int | None = None
    check_warnings: int = 0
    seconds: float = 0.0
    size_bytes: int = 0
    sha256: str | None = None  # None until the checksum has been taken (Delivery)

    def summary(self) -> str:
        if self.status == "loaded":
            text = (
                f"loaded {self.rows_loaded:,} rows"
                + (f", {self.rows_quarantined:,} quarantined" if self.rows_quarantined else "")
                + (f", replacing file #{self.replaced_file_id}" if self.replaced_file_id else "")
                + (f", {self.check_warnings} check warning(s)" if self.check_warnings else "")
            )
        elif self.status == "skipped":
            text = f"skipped: {self.reason}"
        else:
            text = f"REJECTED [{self.rule}]: {self.reason}"
        return f"{self.source}/{self.file_name} (#{self.file_id}): {text} in {self.seconds:.1f}s"


@dataclass
class _Counters:
    loaded: int = 0
    quarantined: int = 0
    started: float = field(default_factory=time.monotonic)


def part_table(spec: SourceSpec, file_id: int) -> Identifier:
    return Identifier("raw_files", f"{spec.raw_table}__f{file_id}")


def _quarantine_part(file_id: int) -> Identifier:
    return Identifier("raw_files", f"quarantine__f{file_id}")


def _drop_parts(cur, spec: SourceSpec, file_id: int) -> None:
    cur.execute(SQL("drop table if exists {}").format(part_table(spec, file_id)))
    cur.execute(SQL("drop table if exists {}").format(_quarantine_part(file_id)))


def _recover_interrupted(conn: PgConnection, spec: SourceSpec, file_name: str) -> None:
    """Clean up attempts on this name that died half-way (their tables were never attached)."""
    with conn.cursor() as cur:
        cur.execute(
            "select file_id from audit.file_ledger"
            " where source = %s and file_name = %s and status = 'loading'",
            (spec.name, file_name),
        )
        for (file_id,) in cur.fetchall():
            _drop_parts(cur, spec, file_id)
            cur.execute(
                "update audit.file_ledger set status = 'abandoned', finished_at = now(),"
                " reason = coalesce(reason, 'the load was interrupted; a later attempt redid it')"
                " where file_id = %s",
                (file_id,),
            )
            log.warning("%s/%s: cleaned up interrupted attempt #%s", spec.name, file_name, file_id)
    conn.commit()


def _previous(conn: PgConnection, spec: SourceSpec, file_name: str) -> tuple | None:
    """The live delivery of this name, else the latest rejected one: (file_id, sha256, status,
    rule, reason).
    A delivery rejected because it changed while it was loaded does not count: its checksum may
    be that of a file the sender had not finished, so the same bytes are loaded when they come
    again."""
    with conn.cursor() as cur:
        cur.execute(
            "select file_id, sha256, status, rule, reason from audit.file_ledger"
            " where source = %s and file_name = %s and status in ('loaded', 'rejected')"
            " and rule is distinct from 'file_changed_during_load'"
            " order by (status = 'loaded') desc, file_id desc limit 1",
            (spec.name, file_name),
        )
        return cur.fetchone()


def _same_verdict(previous: tuple) -> bool:
    """Identical bytes get the earlier verdict, except a rejection by a size limit that has been
    changed since (an operator raised it to let a real export through): those are read again."""
    _, _, status, rule, reason = previous
    return status != "rejected" or rule not in limits.LIMIT_RULES or limits.still_holds(reason)


def _finish(conn: PgConnection, outcome: LoadOutcome) -> None:
    with conn.cursor() as cur:
        cur.execute(
            "update audit.file_ledger set status = %s, rows_read = %s, rows_loaded = %s,"
            " rows_quarantined = %s, rule = %s, reason = %s, finished_at = now(),"
            " sha256 = coalesce(%s, sha256) where file_id = %s",
            (
                outcome.status,
                outcome.rows_read,
                outcome.rows_loaded,
                outcome.rows_quarantined,
                outcome.rule,
                outcome.reason,
                outcome.sha256,
                outcome.file_id,
            ),
        )


def _copy_rows(
    conn: PgConnection,
    spec: SourceSpec,
    path: Path,
    file_id: int,
    counters: _Counters,
    progress: Callable[[str], None] | None,
    delivery: Delivery,
) -> None:
    """Streams the reader's batches into the per-file table, the rejected rows into its
    quarantine. The reader parses and checks the next chunks on its threads while PostgreSQL
    parses the COPY of the last one (:class:`BatchStream`, :mod:`channel_dw.sources.ahead`).

    The per-file table is made in this transaction, so its COPY writes the rows frozen
    (``FREEZE``): no later pass has to set their hint bits and freeze them. A plain COPY left
    that to the first reader of each page and to autovacuum (0.1 CPU-s per million crm rows,
    pages written a second time). It costs the COPY nothing measurable. The rows become visible
    with the swap (:func:`_swap_in`), as before; a repeatable-read transaction begun before the
    swap and reading the raw table after it sees them (docs/ingestion.md)."""
    table = part_table(spec, file_id)
    quarantine = _quarantine_part(file_id)
    with conn.cursor() as cur, tempfile.SpooledTemporaryFile(max_size=8 << 20, mode="w+b") as spool:
        cur.execute(
            SQL("create table {} (like raw.{} including defaults, check (_file_id = {}))").format(
                table, Identifier(spec.raw_table), Literal(file_id)
            )
        )
        # The file id is the table's default, not a field of every COPY line: the compiled
        # readers write their rows as COPY text before the file has an id (_compiled.py).
        default = SQL("alter table {} alter column _file_id set default {}")
        cur.execute(default.format(table, Literal(file_id)))
        cur.execute(
            SQL("create table {} (like audit.quarantine including defaults)").format(quarantine)
        )
        fixed = (str(file_id), spec.name, path.name)
        next_report = PROGRESS_EVERY

        def on_batch(batch: Batch) -> None:
            nonlocal next_report
            delivery.first_batch()  # a file still being written is given up on at once
            delivery.check("while it was being read")
            counters.loaded += batch.num_rows
            counters.quarantined += len(batch.rejections)
            for r in batch.rejections:
                spool.write(
                    copy_line((*fixed, str(r.line), r.rule, r.message, r.text)).encode("utf-8")
                )
            if counters.loaded >= next_report:
                next_report = (counters.loaded // PROGRESS_EVERY + 1) * PROGRESS_EVERY
                rate = counters.loaded / max(time.monotonic() - counters.started, 1e-9)
                message = f"{spec.name}/{path.name}: {counters.loaded:,} rows ({rate:,.0f}/s)"
                log.info(message)
                if progress:
                    progress(message)

        columns = SQL(", ").join(Identifier(c) for c in (*spec.columns, LINE))
        with BatchStream(spec.batches(path), on_batch) as stream:
            try:
                cur.copy_expert(
                    SQL("copy {} ({}) from stdin with (freeze)")
                    .format(table, columns)
                    .as_string(conn),
                    stream,
                    size=1 << 20,
                )
            except psycopg2.Error:
                if stream.error is not None:
                    raise stream.error from None
                raise
        delivery.check("while it was being read")
        spool.seek(0)
        cur.copy_expert(
            SQL("copy {} ({}) from stdin")
            .format(quarantine, SQL(", ").join(Identifier(c) for c in QUARANTINE_COLUMNS))
            .as_string(conn),
            spool,
        )


def _run_checks(conn: PgConnection, s: Settings, spec: SourceSpec, outcome: LoadOutcome) -> None:
    """Runs the source's expectation suite on the per-file table and records the results."""
    from channel_dw.quality.checks import run_checks  # GE is slow to import

    table = part_table(spec, outcome.file_id)
    results = run_checks(s.database_url, spec.name, table.as_string(conn))
    with conn.cursor() as cur:
        for r in results:
            cur.execute(
                "insert into audit.check_results (file_id, source, file_name, expectation,"
                " column_name, severity, success, observed, details)"
                " values (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    outcome.file_id,
                    spec.name,
                    outcome.file_name,
                    r.expectation,
                    r.column,
                    r.severity,
                    r.success,
                    r.observed,
                    json.dumps(r.details, default=str),
                ),
            )
    conn.commit()
    failed_critical = [r for r in results if not r.success and r.severity == "critical"]
    outcome.check_warnings = sum(1 for r in results if not r.success and r.severity != "critical")
    if failed_critical:
        described = "; ".join(
            f"{r.expectation}({r.column or ''}): {r.observed}" for r in failed_critical
        )
        raise FileRejected(
            file=outcome.file_name,
            line=None,
            rule="quality_check",
            message=f"{len(failed_critical)} critical expectation(s) failed: {described}",
        )


def _swap_in(conn: PgConnection, spec: SourceSpec, outcome: LoadOutcome) -> None:
    """Atomically replaces the earlier live delivery of the name (if any) with this one."""
    with conn.cursor() as cur:
        # Shared with every other swap, exclusive with ensure_schema's DDL: that DDL (comments on
        # every raw table, indexes on audit.quarantine) takes its locks in another order than a
        # swap does, and the two deadlocked when one load's swap met another load's schema check.
        cur.execute("select pg_advisory_xact_lock_shared(%s)", (SCHEMA_LOCK,))
        cur.execute(
            "select file_id from audit.file_ledger"
            " where source = %s and file_name = %s and status = 'loaded' for update",
            (spec.name, outcome.file_name),
        )
        for (old_id,) in cur.fetchall():
            cur.execute(
                SQL("alter table raw.{} detach partition {}").format(
                    Identifier(spec.raw_table), part_table(spec, old_id)
                )
            )
            _drop_parts(cur, spec, old_id)
            cur.execute("delete from audit.quarantine where file_id = %s", (old_id,))
            cur.execute(
                "update audit.file_ledger set status = 'superseded', superseded_by = %s,"
                " reason = %s where file_id = %s",
                (outcome.file_id, f"replaced by corrected delivery #{outcome.file_id}", old_id),
            )
            outcome.replaced_file_id = old_id
        cur.execute(
            SQL("alter table raw.{} attach partition {} for values in ({})").format(
                Identifier(spec.raw_table),
                part_table(spec, outcome.file_id),
                Literal(outcome.file_id),
            )
        )
        cur.execute(
            SQL("insert into audit.quarantine select * from {}").format(
                _quarantine_part(outcome.file_id)
            )
        )
        cur.execute(SQL("drop table {}").format(_quarantine_part(outcome.file_id)))
        _finish(conn, outcome)
    conn.commit()


def load_file(
    spec: SourceSpec,
    path: Path,
    *,
    s: Settings | None = None,
    run_checks: bool = True,
    loaded_by: str | None = None,
    progress: Callable[[str], None] | None = None,
    conn: PgConnection | None = None,
) -> LoadOutcome:
    """Loads one delivery of one export file; see the module docstring for the guarantees."""
    s = s or settings()
    started = time.monotonic()
    keep_freed_memory()  # the readers' chunk-sized blocks reused, not faulted in again
    path = Path(path)
    business_date = spec.business_date(path.name)  # raises ValueError for a foreign file name
    reason = not_regular(path)  # a FIFO would block the fingerprint forever
    if reason:
        raise UnusableFile(path, reason)
    delivery = Delivery(path)  # held open until the COPY has ended: see Delivery
    own_conn = conn is None
    try:
        conn = conn or connect(s, application_name=f"channel-dw load {spec.name}")
    except BaseException:
        delivery.close()
        raise
    loaded_by = loaded_by or f"{socket.gethostname()}:{os.getpid()}"
    key = lock_key(spec.name, path.name)
    try:
        ensure_schema(conn)
        take_file_lock(conn, key, spec, path.name, progress)
        try:
            _recover_interrupted(conn, spec, path.name)
            previous = _previous(conn, spec, path.name)
            # A name delivered before is compared by its checksum before anything is read; a
            # first delivery is read while its checksum is taken (the ledger gets it at the end).
            sha256 = None if previous is None else delivery.sha256
            with conn.cursor() as cur:
                cur.execute(
                    "insert into audit.file_ledger (source, file_name, file_path, business_date,"
                    " size_bytes, sha256, status, loaded_by) values (%s, %s, %s, %s, %s, %s,"
                    " 'loading', %s) returning file_id",
                    (spec.name, path.name, str(path), business_date, delivery.size, sha256,
                     loaded_by),
                )  # fmt: skip
                file_id = cur.fetchone()[0]
            outcome = LoadOutcome(
                file_id, spec.name, path.name, "loading", size_bytes=delivery.size, sha256=sha256
            )
            if previous is not None and previous[1] == sha256 and _same_verdict(previous):
                prev_id, _, prev_status, _, _ = previous
                outcome.status = "skipped"
                outcome.reason = f"identical to delivery #{prev_id}, which was {prev_status}" + (
                    "" if prev_status == "loaded" else "; fix the file and deliver it again"
                )
                _finish(conn, outcome)
                with conn.cursor() as cur:
                    cur.execute(
                        "update audit.file_ledger set duplicate_of = %s where file_id = %s",
                        (prev_id, file_id),
                    )
                conn.commit()
                return _done(outcome, started)
            conn.commit()  # the 'loading' row is visible from here on

            counters = _Counters()
            try:
                delivery.check("before it was read")
                try:
                    _copy_rows(conn, spec, path, file_id, counters, progress, delivery)
                except Exception as exc:
                    # A reader's verdict on (or failure over) a file that changed under it is
                    # about bytes that were never fingerprinted: the change is the verdict.
                    changed = None
                    if not isinstance(exc, psycopg2.Error):
                        changed = delivery.change("while it was being read")
                    if changed is None or getattr(exc, "rule", None) == changed.rule:
                        raise
                    raise changed from exc
                conn.commit()
                outcome.rows_loaded = counters.loaded
                outcome.rows_quarantined = counters.quarantined
                outcome.rows_read = counters.loaded + counters.quarantined
                if run_checks:
                    _run_checks(conn, s, spec, outcome)
                outcome.status = "loaded"
                outcome.sha256 = delivery.sha256  # taken beside the COPY: done by now
                _swap_in(conn, spec, outcome)
            except FileRejected as rejected:
                conn.rollback()
                with conn.cursor() as cur:
                    _drop_parts(cur, spec, file_id)
                outcome.status = "rejected"
                outcome.rule = rejected.rule
                outcome.reason = str(rejected)
                outcome.rows_read = counters.loaded + counters.quarantined
                outcome.rows_loaded = 0
                outcome.rows_quarantined = 0
                outcome.sha256 = delivery.sha256  # the next delivery of the name compares it
                _finish(conn, outcome)
                conn.commit()
            except BaseException as exc:
                # Anything else (a bug, the database going away): leave nothing behind, say why.
                conn.rollback()
                try:
                    with conn.cursor() as cur:
                        _drop_parts(cur, spec, file_id)
                        cur.execute(
                            "update audit.file_ledger set status = 'abandoned', finished_at ="
                            " now(), reason = %s where file_id = %s",
                            (f"load failed: {type(exc).__name__}: {exc}"[:2000], file_id),
                        )
                    conn.commit()
                except Exception:  # the connection itself is gone: the retry cleans up
                    log.exception("could not record the failure of file #%s", file_id)
                raise
            return _done(outcome, started)
        finally:
            if not conn.closed:
                conn.rollback()
                with conn.cursor() as cur:
                    cur.execute("select pg_advisory_unlock(%s)", (key,))
                conn.commit()
    finally:
        delivery.close()
        if own_conn:
            conn.close()


def _done(outcome: LoadOutcome, started: float) -> LoadOutcome:
    outcome.seconds = time.monotonic() - started
    # the one log line of each load (a rejection is a warning: the file needs a person)
    log.log(logging.WARNING if outcome.status == "rejected" else logging.INFO, outcome.summary())
    return outcome
