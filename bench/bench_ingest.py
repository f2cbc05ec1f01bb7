"""Loader throughput against a raw COPY of the same rows, and the loader's peak memory.

    make bench                                   # defaults below
    .venv/bin/python bench/bench_ingest.py --rows 1000000 --memory-rows 5000000

For each source with a bulk writer in the generator, it writes one big valid export file, loads it
with the real loader (the reader, COPY into a per-file table, the swap; checks off, timed
separately), then COPYs exactly the rows the loader produced, pre-rendered as COPY text, into an
identical fresh table in one transaction (the same conditions as the loader) — the ceiling the
loader is compared with. Peak memory is measured on a separate process loading a
``--memory-rows`` web file (max RSS). Figures are printed and written to bench/results/latest.json.
Targets (issue #2): web ≥ 0.8 × raw COPY; peak memory < 1 GiB on a 5-million-row file.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from channel_dw import generate  # noqa: E402
from channel_dw.config import settings  # noqa: E402
from channel_dw.db.connection import ensure_server  # noqa: E402
from channel_dw.ingest.core import load_file  # noqa: E402
from channel_dw.sources import get_source  # noqa: E402

WRITERS = {  # source -> (generator function name, file name)
    "web": ("write_web_events", "web_events_20261001.jsonl"),
    "app": ("write_app_events", "app_events_20261001.json"),
    "hotline": ("write_hotline_cdr", "hotline_cdr_20261001.csv"),
    "sms": ("write_sms_hall", "sms_hall_20261001.txt"),
    "halls": ("write_hall_txn", "hall_txn_20261001.csv"),
}


def bench_db(name: str = "channel_dw_bench") -> str:
    """A fresh database on the configured server, so a benchmark never touches real data."""
    s = ensure_server(settings())
    admin = psycopg2.connect(s.database_url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f"drop database if exists {name} with (force)")
        cur.execute(f"create database {name}")
    admin.close()
    return s.database_url.rsplit("/", 1)[0] + "/" + name


def raw_copy_seconds(url: str, table: str, columns: list[str], copy_text: Path) -> float:
    """COPY the pre-rendered rows into a fresh table like the raw one, as the loader does."""
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur, copy_text.open("rb") as fh:
            t0 = time.perf_counter()
            cur.execute(f"create table bench_copy (like raw.{table} including defaults)")
            cur.copy_expert(f"copy bench_copy ({', '.join(columns)}) from stdin", fh, size=1 << 18)
            conn.commit()
            seconds = time.perf_counter() - t0
            cur.execute("drop table bench_copy")
            conn.commit()
        return seconds
    finally:
        conn.close()


def file_copy_seconds(url: str, path: Path) -> float:
    """``psql \\copy`` of a JSON-lines export itself: each line becomes one jsonb document.

    That is the raw COPY a data engineer can run on the web export without any loader (COPY has
    no JSON format, so the lines go in through CSV with quote and delimiter bytes that JSON text
    cannot contain). PostgreSQL parses each line into jsonb, as the loader parses it with orjson.
    """
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur, path.open("rb") as fh:
            t0 = time.perf_counter()
            cur.execute("create table bench_file_copy (doc jsonb)")
            cur.copy_expert(
                "copy bench_file_copy from stdin"
                " with (format csv, quote e'\\x01', delimiter e'\\x02')",
                fh,
                size=1 << 18,
            )
            conn.commit()
            seconds = time.perf_counter() - t0
            cur.execute("drop table bench_file_copy")
            conn.commit()
        return seconds
    finally:
        conn.close()


def bench_source(url: str, source: str, rows: int, work: Path) -> dict | None:
    func_name, file_name = WRITERS[source]
    writer = getattr(generate, func_name, None)
    if writer is None:
        print(f"{source:8s} skipped: the generator has no {func_name}()")
        return None
    spec = get_source(source)
    folder = work / source
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / file_name
    t0 = time.perf_counter()
    written = writer(path, rows)
    gen_s = time.perf_counter() - t0
    size_mb = path.stat().st_size / 1e6
    os.environ["DW_DATABASE_URL"] = url
    s = settings()
    outcome = load_file(spec, path, s=s, run_checks=False)
    assert outcome.status == "loaded", outcome.summary()
    load_s = outcome.seconds
    columns = [*spec.columns, "_file_id", "_line"]
    copy_text = work / f"{source}.copy"
    with contextlib.closing(psycopg2.connect(url)) as conn, conn.cursor() as cur:
        with copy_text.open("wb") as fh:
            cur.copy_expert(
                f"copy (select {', '.join(columns)} from raw.{spec.raw_table}"
                f" where _file_id = {outcome.file_id}) to stdout",
                fh,
            )
    copy_s = raw_copy_seconds(url, spec.raw_table, columns, copy_text)
    copy_text.unlink()
    file_copy_s = file_copy_seconds(url, path) if path.name.endswith(".jsonl") else None
    path.unlink()
    n = outcome.rows_loaded
    result = {
        "source": source,
        "rows": n,
        "file_mb": round(size_mb, 1),
        "loader_s": round(load_s, 2),
        "loader_rows_per_s": round(n / load_s),
        "loader_mb_per_s": round(size_mb / load_s, 1),
        "raw_copy_s": round(copy_s, 2),
        "raw_copy_rows_per_s": round(n / copy_s),
        "ratio_vs_raw_copy": round(copy_s / load_s, 2),
        "file_copy_s": file_copy_s and round(file_copy_s, 2),
        "ratio_vs_file_copy": file_copy_s and round(file_copy_s / load_s, 2),
        "generate_s": round(gen_s, 1),
        "records_written": written,
    }
    print(
        f"{source:8s} {n:>10,} rows {size_mb:8.1f} MB | loader {result['loader_rows_per_s']:>9,}"
        f" rows/s {result['loader_mb_per_s']:6.1f} MB/s | raw COPY"
        f" {result['raw_copy_rows_per_s']:>9,} rows/s | ratio {result['ratio_vs_raw_copy']:.2f}"
    )
    if file_copy_s:
        print(
            f"{'':8s} psql \\copy of the file itself (one jsonb a line): {n / file_copy_s:>9,.0f}"
            f" rows/s | loader / that {result['ratio_vs_file_copy']:.2f}"
        )
    return result


def peak_memory(url: str, rows: int, work: Path) -> dict:
    folder = work / "web"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "web_events_20261002.jsonl"
    generate.write_web_events(path, rows)
    size_mb = path.stat().st_size / 1e6
    code = (
        "import sys; from pathlib import Path; from channel_dw.ingest.core import load_file;"
        "from channel_dw.sources import get_source;"
        "o = load_file(get_source('web'), Path(sys.argv[1]), run_checks=False);"
        "print(o.rows_loaded, round(o.seconds, 1))"
    )
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        env={**os.environ, "DW_DATABASE_URL": url},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    path.unlink()
    result = {
        "rows": int(out[0]),
        "file_mb": round(size_mb),
        "seconds": float(out[1]),
        "peak_rss_mb": round(peak_mb),
        "child_rss_before_mb": round(before / 1024),
    }
    print(
        f"memory   {result['rows']:,} web rows ({size_mb:,.0f} MB file) loaded in "
        f"{result['seconds']}s; loader peak RSS {result['peak_rss_mb']:,} MB (target < 1,024)"
    )
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000, help="rows per source file")
    ap.add_argument("--memory-rows", type=int, default=5_000_000, help="0 to skip")
    ap.add_argument("--sources", default=",".join(WRITERS))
    args = ap.parse_args()
    url = bench_db()
    print(f"benchmark database: {url.rsplit('@', 1)[-1]}; {os.cpu_count()} cores")
    results = []
    with tempfile.TemporaryDirectory(prefix="channel-dw-bench-") as tmp:
        for source in args.sources.split(","):
            r = bench_source(url, source, args.rows, Path(tmp))
            if r:
                results.append(r)
        memory = peak_memory(url, args.memory_rows, Path(tmp)) if args.memory_rows else None
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(
        json.dumps(
            {"at": time.strftime("%Y-%m-%d %H:%M"), "sources": results, "memory": memory}, indent=2
        )
    )
    print(f"written to {out / 'latest.json'}")


if __name__ == "__main__":
    main()
