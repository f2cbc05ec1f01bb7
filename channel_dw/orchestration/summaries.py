"""The plain-text summaries the CLI, the demo and the backfill print: the file ledger per source
and outcome, and the mart's records per channel. Each prints through ``say``."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

Say = Callable[[str], None]

LEDGER_STATUSES = ("loaded", "skipped", "superseded", "rejected", "abandoned", "loading")


def table(headers: list[str], rows: list[tuple], max_width: int = 70) -> str:
    """A left-aligned text table, each cell cut at ``max_width`` characters."""
    cells = [[("" if v is None else str(v))[:max_width] for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(out)


def mart_summary(say: Say) -> None:
    """Records per channel in the mart, and how many of them are tied to a customer."""
    from channel_dw.db.connection import connect

    with contextlib.closing(connect()) as conn, conn.cursor() as cur:
        cur.execute("select to_regclass('marts.identity_coverage') is not null")
        if not cur.fetchone()[0]:
            say("\nthe mart is not built yet: `channel-dw dbt build`")
            return
        cur.execute(
            "select c.channel, sum(c.records), sum(c.identified_records)"
            " from marts.identity_coverage c join marts.dim_channel d using (channel)"
            " group by c.channel, d.name_en order by sum(c.records) desc"
        )
        rows = cur.fetchall()
        cur.execute(
            "select count(*), count(*) filter (where is_current and status = 'ACTIVE')"
            " from marts.dim_customer_history"
        )
        versions, active = cur.fetchone()
        cur.execute("select identifier_type, count(*) from marts.identity_conflicts group by 1")
        conflicts = ", ".join(f"{n} {kind}" for kind, n in cur.fetchall()) or "none"
    say("\nThe mart (schema marts): records per channel and how many are tied to a customer")
    say(
        table(
            ["channel", "records", "identified", "share"],
            [(ch, f"{n:,}", f"{i:,}", f"{i / n:.1%}") for ch, n, i in rows],
        )
    )
    say(
        f"{versions:,} customer versions (SCD2), {active:,} customers active now;"
        f" identifiers linked to several customers (they link nobody): {conflicts}"
    )


def ledger_summary(say: Say) -> None:
    """Counts per source and outcome, the deliveries that need a look, quarantine by rule."""
    from channel_dw.db.connection import connect
    from channel_dw.ingest.runner import ledger_rows

    rows = ledger_rows()
    if not rows:
        say("the ledger is empty: nothing has been loaded yet")
        return
    statuses = list(LEDGER_STATUSES)
    per_source: dict[str, list[int]] = {}
    for r in rows:
        counts = per_source.setdefault(r[1], [0] * (len(statuses) + 3))
        counts[statuses.index(r[4])] += 1
        if r[4] == "loaded":
            for i, value in enumerate(r[5:8]):
                counts[len(statuses) + i] += value or 0
    say("\nFile ledger (audit.file_ledger): deliveries per source and outcome")
    say(
        table(
            ["source", *statuses, "rows read", "rows loaded", "quarantined"],
            [
                (src, *c[: len(statuses)], *(f"{v:,}" for v in c[len(statuses) :]))
                for src, c in per_source.items()
            ],
        )
    )
    notable = [r for r in rows if r[4] in ("rejected", "superseded", "abandoned", "loading")]
    if notable:
        say("\nDeliveries that were rejected, replaced or interrupted:")
        say(
            table(
                ["#", "source", "file", "date", "status", "read", "rule", "reason"],
                [(r[0], r[1], r[2], r[3], r[4], r[5], r[8], r[9]) for r in notable],
                max_width=90,
            )
        )
    with contextlib.closing(connect()) as conn, conn.cursor() as cur:
        cur.execute(
            "select source, rule, count(*) from audit.quarantine group by 1, 2 order by 1, 2"
        )
        quarantine = cur.fetchall()
    if quarantine:
        say("\nQuarantined rows (audit.quarantine; `channel-dw quarantine` shows them):")
        say(table(["source", "rule", "rows"], quarantine))
    skipped = sum(1 for r in rows if r[4] == "skipped")
    if skipped:
        say(f"\n{skipped} identical re-deliveries skipped (`channel-dw ledger --status skipped`)")


def quarantine_table(file_id: int | None, rule: str | None, limit: int) -> str:
    """Quarantined rows (of one delivery, of one rule): file, line, rule, message, raw text."""
    from channel_dw.db.connection import connect

    where, params = ["true"], []
    if file_id is not None:
        where.append("file_id = %s")
        params.append(file_id)
    if rule:
        where.append("rule = %s")
        params.append(rule)
    with contextlib.closing(connect()) as conn, conn.cursor() as cur:
        cur.execute(
            "select file_id, source, file_name, line_no, rule, message, raw_text"
            f" from audit.quarantine where {' and '.join(where)}"
            " order by file_id, line_no limit %s",
            [*params, limit],
        )
        rows = cur.fetchall()
    if not rows:
        return "no quarantined rows match"
    return table(["#", "source", "file", "line", "rule", "message", "raw text"], rows, 60)
