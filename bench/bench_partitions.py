"""Would partitioning the facts by month keep a daily run from growing with history? The writes of
one incremental day, timed on a table of one month, on the same table holding N months (its rows
interleaved, and in month order), and on N months in monthly partitions (PostgreSQL declarative
partitioning).

    make bench-partitions                                   # defaults below, 5 to 10 minutes
    .venv/bin/python bench/bench_partitions.py --rows-per-month 100000   # a quick look

The tables have the shape that matters to `fct_interactions`' writes (docs/mart.md, "Why the facts
are not partitioned by month"): a text key unique per record (`'web:' || md5`), the month, a file
id, a load time and 150 bytes of other columns. The months' rows are interleaved in one table and
in month order in another: a full build of the facts writes each source's records in file order,
so its months lie in runs between the two. Indexes as the fact's: the key (unique; on the
partitioned table key and month, since a unique index there must hold the partition key),
`file_id`, `loaded_at`.

The day: ``--day-rows`` rows of the last month, of which ``--existing`` already in the table (a
record re-read and changed) and the rest new, in a table that is analyzed. Its writes are
those of the `logged_delete_insert` strategy (macros/change_log.sql): the look-up of what each
key held (the change log's left join on the key), the delete of the keys' rows, the insert. On
the partitioned table the delete is by key and month of the rows the look-up found (which prunes),
and the look-up is timed twice: as the planner plans it, and with hash and merge joins off (one
index probe per key in every partition). Each is run ``--repeat`` times in a transaction that is
rolled back; the fastest run is kept. Figures are printed and written to
bench/results/partitions.json.

PostgreSQL has no index across partitions: a key that does not hold the month is looked for in
every partition, so the look-up's cost grows with the number of months, which is what the
partitions were to prevent.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path

import psycopg2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_ingest import bench_db  # noqa: E402

FIRST_MONTH = "2025-11-01"


def rows_sql(first: int, count: int, months: int) -> str:
    """`count` fact-shaped rows numbered from `first`, their months interleaved over `months`."""
    return f"""
        select
            'web:' || md5(i::text) as interaction_key,
            (date '{FIRST_MONTH}' + (i % {months}) * interval '1 month')::date as occurred_month,
            (i % 5000)::integer as file_id,
            now() + i * interval '1 ms' as loaded_at,
            repeat('x', 150) as other_columns
        from generate_series({first}, {first + count - 1}) as i"""


def build_tables(cur, rows_per_month: int, months: int) -> None:
    """`month_flat` (the last month alone), `history_flat` (every month, interleaved),
    `history_by_month` (the same rows in month order, as a full build sorted by month would write
    them), `history_partitioned` (every month, a partition each), indexed and analyzed."""
    last = months - 1
    steps = [
        (
            "history_flat",
            f"create table history_flat as {rows_sql(1, rows_per_month * months, months)}",
        ),
        (
            "month_flat",
            f"""create table month_flat as
            select * from history_flat
            where occurred_month = date '{FIRST_MONTH}' + {last} * interval '1 month'""",
        ),
        (
            "history_by_month",
            "create table history_by_month as select * from history_flat order by occurred_month",
        ),
        (
            "history_partitioned",
            "create table history_partitioned (like history_flat)"
            " partition by range (occurred_month)",
        ),
    ]
    for month in range(months):
        steps.append(
            (
                f"partition {month + 1} of {months}",
                f"""create table history_partitioned_{month} partition of history_partitioned
                for values from (date '{FIRST_MONTH}' + {month} * interval '1 month')
                to (date '{FIRST_MONTH}' + {month + 1} * interval '1 month')""",
            )
        )
    steps.append(
        ("history_partitioned rows", "insert into history_partitioned select * from history_flat")
    )
    for table in ("month_flat", "history_flat", "history_by_month", "history_partitioned"):
        key = (
            "interaction_key, occurred_month"
            if table == "history_partitioned"
            else "interaction_key"
        )
        steps += [
            (f"{table} key index", f"create unique index on {table} ({key})"),
            (f"{table} file_id index", f"create index on {table} (file_id)"),
            (f"{table} loaded_at index", f"create index on {table} (loaded_at)"),
            (f"{table} analyze", f"analyze {table}"),
        ]
    for what, sql in steps:
        t0 = time.perf_counter()
        cur.execute(sql)
        print(f"  {what}: {time.perf_counter() - t0:.1f}s", flush=True)


def make_day(cur, day_rows: int, existing: int, rows_per_month: int, months: int) -> None:
    """The day's rows: `existing` keys of the last month with changed values, the rest new."""
    cur.execute(
        f"""create table day_rows as
        select * from ({rows_sql(rows_per_month * months + 1, day_rows - existing, 1)}) as new_rows
        union all
        (
            select interaction_key, occurred_month, 9999, now(), repeat('y', 150)
            from month_flat
            limit {existing}
        )"""
    )
    cur.execute(
        "update day_rows"
        f" set occurred_month = date '{FIRST_MONTH}' + {months - 1} * interval '1 month'"
    )
    cur.execute("analyze day_rows")


LOOKUP = """create temporary table held as
    select target.interaction_key is not null as existed, written.interaction_key,
        target.occurred_month
    from day_rows as written
    left join {table} as target on written.interaction_key = target.interaction_key"""

CASES = {  # name -> (table, statements; "nested loops" turns hash and merge joins off first)
    "one month, flat": (
        "month_flat",
        [
            ("look-up", LOOKUP),
            (
                "delete",
                "delete from {table}"
                " where interaction_key in (select interaction_key from day_rows)",
            ),
            ("insert", "insert into {table} select * from day_rows"),
        ],
    ),
    "N months, flat": ("history_flat", None),
    "N months, flat, in month order": ("history_by_month", None),
    "N months, partitioned": (
        "history_partitioned",
        [
            ("look-up", LOOKUP),
            ("look-up, nested loops", LOOKUP),
            (
                "delete",
                """delete from {table} as target using held
                where held.existed and target.interaction_key = held.interaction_key
                    and target.occurred_month = held.occurred_month""",
            ),
            ("insert", "insert into {table} select * from day_rows"),
        ],
    ),
}


def time_case(
    conn, table: str, statements: list[tuple[str, str]], repeat: int, existing: int
) -> dict[str, float]:
    """The fastest of `repeat` runs of each statement; each run checks that the look-up found and
    the delete removed the `existing` rows."""
    best: dict[str, float] = {}
    for _ in range(repeat):
        with conn.cursor() as cur:
            for step, sql in statements:
                if step.startswith("look-up"):
                    cur.execute("drop table if exists held")
                    nested = step.endswith("nested loops")
                    cur.execute(f"set local enable_hashjoin = {'off' if nested else 'on'}")
                    cur.execute(f"set local enable_mergejoin = {'off' if nested else 'on'}")
                t0 = time.perf_counter()
                cur.execute(sql.format(table=table))
                seconds = time.perf_counter() - t0
                best[step] = min(best.get(step, seconds), seconds)
                if step == "delete":
                    assert cur.rowcount == existing, (table, step, cur.rowcount)
                elif step.startswith("look-up"):
                    cur.execute("select count(*) from held where existed")
                    assert cur.fetchone()[0] == existing, (table, step)
        conn.rollback()
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--months", type=int, default=13, help="months of history (default 13)")
    ap.add_argument(
        "--rows-per-month", type=int, default=1_300_000, help="rows a month (default 1,300,000)"
    )
    ap.add_argument(
        "--day-rows", type=int, default=50_000, help="rows a day writes (default 50,000)"
    )
    ap.add_argument(
        "--existing", type=int, default=5_000, help="of those, already in the table (default 5,000)"
    )
    ap.add_argument("--repeat", type=int, default=2, help="runs of each case (default 2)")
    args = ap.parse_args()

    url = bench_db("channel_dw_bench_partitions")
    print(
        f"{os.cpu_count()} cores; {args.months} months of {args.rows_per_month:,} rows,"
        f" a day of {args.day_rows:,} rows ({args.existing:,} already held)",
        flush=True,
    )
    with contextlib.closing(psycopg2.connect(url)) as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("set jit = off")
            t0 = time.perf_counter()
            build_tables(cur, args.rows_per_month, args.months)
            make_day(cur, args.day_rows, args.existing, args.rows_per_month, args.months)
            print(f"tables built in {time.perf_counter() - t0:.0f}s", flush=True)
        conn.autocommit = False
        with conn.cursor() as cur:
            cur.execute("set jit = off")
        conn.commit()
        figures: dict[str, dict[str, float]] = {}
        for name, (table, statements) in CASES.items():
            figures[name] = time_case(
                conn, table, statements or CASES["one month, flat"][1], args.repeat, args.existing
            )
            print(
                f"  {name}: " + ", ".join(f"{k} {v:.2f}s" for k, v in figures[name].items()),
                flush=True,
            )

    steps = ["look-up", "look-up, nested loops", "delete", "insert"]
    print(f"\n| the day's writes (s) | {' | '.join(CASES)} |")
    print("|---|" + "---:|" * len(CASES))
    for step in steps:
        cells = [f"{figures[name][step]:.2f}" if step in figures[name] else "" for name in CASES]
        print(f"| {step} | {' | '.join(cells)} |")
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "partitions.json").write_text(
        json.dumps(
            {
                "at": time.strftime("%Y-%m-%d %H:%M"),
                "months": args.months,
                "rows_per_month": args.rows_per_month,
                "day_rows": args.day_rows,
                "existing": args.existing,
                "seconds": {
                    name: {k: round(v, 3) for k, v in f.items()} for name, f in figures.items()
                },
            },
            indent=2,
        )
    )
    print(f"written to {out / 'partitions.json'}")


if __name__ == "__main__":
    main()
