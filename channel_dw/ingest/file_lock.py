"""One lock per delivered file name, so that two processes never load the same name at once."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable

from psycopg2.extensions import connection as PgConnection

from channel_dw.sources.base import SourceSpec

log = logging.getLogger(__name__)


def lock_key(source: str, file_name: str) -> int:
    return int.from_bytes(
        hashlib.blake2b(f"{source}/{file_name}".encode(), digest_size=8).digest(),
        "big",
        signed=True,
    )


def take_file_lock(
    conn: PgConnection,
    key: int,
    spec: SourceSpec,
    file_name: str,
    progress: Callable[[str], None] | None,
) -> None:
    """Takes the file name's lock; while another process holds it, says who and waits.

    The waiter then finds that delivery in the ledger and skips (same bytes) or replaces it
    (corrected bytes), so a file loaded by two processes at once is loaded exactly once."""
    with conn.cursor() as cur:
        cur.execute("select pg_try_advisory_lock(%s)", (key,))
        if cur.fetchone()[0]:
            return
        cur.execute(
            "select file_id, loaded_by, to_char(started_at, 'HH24:MI:SS') from audit.file_ledger"
            " where source = %s and file_name = %s and status = 'loading'"
            " order by file_id desc limit 1",
            (spec.name, file_name),
        )
        row = cur.fetchone()
        conn.commit()  # no snapshot held while waiting
        holder = (
            f"delivery #{row[0]}, started at {row[2]} by {row[1]}" if row else "another process"
        )
        message = (
            f"{spec.name}/{file_name}: waiting: this file is being loaded by {holder}; once it"
            " is done this load skips it if the bytes are the same, or replaces it if they differ"
        )
        log.info(message)
        if progress:
            progress(message)
        cur.execute("select pg_advisory_lock(%s)", (key,))
