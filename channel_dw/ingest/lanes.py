"""Loading a batch on several processes: one lane per source, the lanes side by side.

``channel-dw ingest`` loads a batch on ``DW_INGEST_JOBS`` processes (default 2, or ``--jobs``).
On a month of files most of a small file's load is fixed cost in Python, not rows: the Great
Expectations suite alone spends 0.2–0.45 s of CPU per file in its own code (docs/ingestion.md,
"Loading a batch on several processes"). One process leaves a core idle while it does that;
threads of one process would share one interpreter lock (measured: slower than one thread).

What stays as in one process:

- **A source's files load one after the other, in the batch's order** (business date, then
  name): a lane. Each delivery gets its ``file_id`` when its load starts, so a source's file ids
  follow that order exactly as before, and staging keeps a key's first delivery in that order
  (docs/mart.md). Files of different sources share nothing but the ledger, and the loading core
  already lets loads of different files run side by side (``channel_dw.ingest.core``: a lock per
  file name, the swaps' shared lock), as the ingest DAG's parallel tasks do.
- The messages: the parent says ``[n/total] ...`` for each file as it ends (in the order they
  end); a worker's messages during a file (its rows so far, a lock it waits for) go through the
  same function when it can be sent to a process (a module's function can; a closure cannot, and
  then only the per-file lines are said).
- A file's failure is a failure of the batch, and the batch goes on. A worker that dies (killed,
  out of memory) fails the file it was loading; its ledger row stays ``loading`` and the next
  run of that file cleans it up and loads it (the loading core's recovery). The other files go
  on in new processes.
- When a worker dies, the process pool stops the other workers too and fails their files without
  their results. The ledger decides what each of those files' loads did: one that had finished
  (loaded, skipped or rejected, its result not yet sent) is told as that outcome; one that was
  cut off is a failure like the dead worker's. (Told as failed, a file the ledger had as loaded
  was skipped as identical by the next run, which the batch's summary had said would load it.)

At most ``jobs`` files load at once, never two of one source. A free process takes the next file
of the source with the most bytes still to load, so the big sources start first and the small
ones fill in beside them. Workers are forked: they start at once and share what the parent has
imported (Great Expectations, imported before they start, takes seconds); the expectation state
rebuilds itself in each (``channel_dw.quality.checks``).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import pickle
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from channel_dw.config import Settings, count_from_env
from channel_dw.db.connection import connect
from channel_dw.ingest.core import LoadOutcome
from channel_dw.ingest.landing import shown
from channel_dw.ingest.runner import BatchResult, FoundFile, load_found, tell

log = logging.getLogger(__name__)

DIED = (
    "its loading process ended before the load did: killed or out of memory, or stopped with a"
    " process of the batch that was; run the ingest again for it (its ledger row stays"
    " 'loading' until then, and the next load of the file cleans it up)"
)


def jobs() -> int:
    """The processes a batch loads on (``DW_INGEST_JOBS``, default 2)."""
    return count_from_env("DW_INGEST_JOBS", 2, "processes")


_conn = None  # a worker's connection, kept from one file to the next


def _load_in_worker(
    f: FoundFile,
    s: Settings,
    run_checks: bool,
    loaded_by: str | None,
    progress: Callable[[str], None] | None,
) -> LoadOutcome | tuple[Path, str]:
    global _conn
    if _conn is None or _conn.closed:
        _conn = connect(s, application_name="channel-dw ingest")
    return load_found(
        f, conn=_conn, s=s, run_checks=run_checks, loaded_by=loaded_by, progress=progress
    )


def _sendable(progress: Callable[[str], None] | None) -> Callable[[str], None] | None:
    try:
        pickle.dumps(progress)
    except Exception:
        return None
    return progress


def ingest_in_lanes(
    files: list[FoundFile],
    *,
    jobs: int,
    s: Settings,
    run_checks: bool = True,
    loaded_by: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> BatchResult:
    """Loads ``files`` on ``jobs`` processes, a source's files in their order (see the module)."""
    lanes: dict[str, deque[FoundFile]] = {}
    for f in files:
        lanes.setdefault(f.spec.name, deque()).append(f)
    sizes = {f.path: _size(f.path) for f in files}
    left = {name: sum(sizes[f.path] for f in lane) for name, lane in lanes.items()}
    workers = min(jobs, len(lanes))
    worker_progress = _sendable(progress)
    if run_checks:
        # imported once here (seconds), not in every worker: they are forked from this process
        import channel_dw.quality.checks  # noqa: F401
    batch = BatchResult([], [])
    before = _newest_file_id(s)  # this batch's deliveries get file ids after it
    running: dict[Future, FoundFile] = {}
    pool: ProcessPoolExecutor | None = None
    done = 0
    try:
        while lanes or running:
            busy = {f.spec.name for f in running.values()}
            free = sorted((name for name in lanes if name not in busy), key=lambda n: -left[n])
            for name in free[: workers - len(running)]:
                f = lanes[name].popleft()
                if not lanes[name]:
                    del lanes[name]
                left[name] -= sizes[f.path]
                if pool is None:
                    pool = ProcessPoolExecutor(
                        workers, mp_context=multiprocessing.get_context("fork")
                    )
                future = pool.submit(_load_in_worker, f, s, run_checks, loaded_by, worker_progress)
                running[future] = f
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            if any(isinstance(fut.exception(), BrokenProcessPool) for fut in finished):
                # The pool fails every file in flight and stops its processes: settle them all
                # here, and the next files load in a new pool.
                pool.shutdown(wait=True)
                pool = None
                finished = list(running)
            for future in finished:
                f = running.pop(future)
                try:
                    result = future.result()
                except BrokenProcessPool:
                    result = _finished_before_the_pool_broke(s, f, before)
                    if result is None:
                        log.error("%s not loaded: %s", shown(f.path), DIED)
                        result = (f.path, DIED)
                except Exception as exc:  # the result did not come back (it could not be sent)
                    log.error("%s: its load's result was lost: %s", shown(f.path), exc)
                    result = (f.path, f"its load's result was lost: {type(exc).__name__}: {exc}")
                done += 1
                tell(batch, f, result, done, len(files), progress)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    return batch


def _newest_file_id(s: Settings) -> int:
    """The newest file id in the ledger (0 when there is none, or no ledger yet)."""
    with contextlib.closing(connect(s, application_name="channel-dw ingest")) as conn:
        with conn.cursor() as cur:
            cur.execute("select to_regclass('audit.file_ledger') is not null")
            if not cur.fetchone()[0]:
                return 0
            cur.execute("select coalesce(max(file_id), 0) from audit.file_ledger")
            return cur.fetchone()[0]


_OUTCOME = """
    select
        l.file_id, l.status, l.rows_read, l.rows_loaded, l.rows_quarantined, l.rule, l.reason,
        l.size_bytes, extract(epoch from l.finished_at - l.started_at),
        (select max(o.file_id) from audit.file_ledger as o where o.superseded_by = l.file_id),
        (
            select count(*) from audit.check_results as c
            where c.file_id = l.file_id and not c.success and c.severity <> 'critical'
        )
    from audit.file_ledger as l
    where l.source = %s and l.file_name = %s and l.file_id > %s
    order by l.file_id desc
    limit 1
"""


def _finished_before_the_pool_broke(s: Settings, f: FoundFile, before: int) -> LoadOutcome | None:
    """The outcome of ``f``'s delivery in this batch (file id after ``before``) as the ledger has
    it, when its load had finished before the pool stopped its process; None when it had not (its
    row still ``loading``, or none written yet)."""
    with contextlib.closing(connect(s, application_name="channel-dw ingest")) as conn:
        with conn.cursor() as cur:
            cur.execute(_OUTCOME, (f.spec.name, f.path.name, before))
            row = cur.fetchone()
    if row is None or row[1] not in ("loaded", "skipped", "rejected"):
        return None
    file_id, status, read, loaded, quarantined, rule, reason, size, seconds, replaced, warned = row
    log.warning(
        "%s: its process was stopped when another process of the batch died, after its load had"
        " ended (the ledger says %s)",
        shown(f.path),
        status,
    )
    return LoadOutcome(
        file_id,
        f.spec.name,
        f.path.name,
        status,
        rows_read=read or 0,
        rows_loaded=loaded or 0,
        rows_quarantined=quarantined or 0,
        rule=rule,
        reason=reason,
        replaced_file_id=replaced,
        check_warnings=warned,
        seconds=float(seconds or 0),
        size_bytes=size,
    )


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0  # the load says why it cannot read the file
