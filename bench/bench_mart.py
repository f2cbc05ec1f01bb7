"""How long the dbt mart takes to build: a full build of a month, then a one-day incremental run.

    make bench-mart                                  # defaults below
    .venv/bin/python bench/bench_mart.py --customers 20000

Generates October 2026 and 1 November for ``--customers`` customers, loads October with the real
loader into a fresh ``channel_dw_bench_mart`` database (checks off), and times
``dbt build --full-refresh`` (every model and test). Then it loads 1 November and times the
incremental ``dbt build`` on top. Figures are printed and written to bench/results/mart.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import psycopg2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_ingest import bench_db  # noqa: E402
from channel_dw.config import settings  # noqa: E402
from channel_dw.generate import generate_landing  # noqa: E402
from channel_dw.ingest.runner import ingest  # noqa: E402

CLI = str(Path(sys.executable).with_name("channel-dw"))


def timed_dbt(*args: str) -> tuple[float, dict[str, float]]:
    """Wall time of a dbt command, and from its run_results.json the seconds spent on models,
    on tests, and on the largest fact alone."""
    t0 = time.perf_counter()
    done = subprocess.run([CLI, "dbt", *args], capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        sys.exit(f"dbt {' '.join(args)} failed:\n{done.stdout[-4000:]}")
    results = json.loads((Path(os.environ["DBT_TARGET_PATH"]) / "run_results.json").read_text())
    parts = {"models": 0.0, "tests": 0.0, "fct_interactions": 0.0}
    for r in results["results"]:
        kind = r["unique_id"].split(".")[0]
        if kind == "model":
            parts["models"] += r["execution_time"]
        elif kind in ("test", "unit_test"):
            parts["tests"] += r["execution_time"]
        if r["unique_id"].endswith(".fct_interactions"):
            parts["fct_interactions"] = r["execution_time"]
    return seconds, parts


def _parts(p: dict[str, float]) -> str:
    return (
        f"(models {p['models']:.1f}s, of which fct_interactions {p['fct_interactions']:.1f}s;"
        f" tests {p['tests']:.1f}s; summed over 2 threads)"
    )


def fact_rows(url: str) -> int:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("select count(*) from marts.fct_interactions")
        return cur.fetchone()[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--customers", type=int, default=20_000)
    args = ap.parse_args()
    url = bench_db("channel_dw_bench_mart")
    with tempfile.TemporaryDirectory(prefix="channel-dw-bench-mart-") as tmp:
        work = Path(tmp)
        os.environ.update(
            {
                "DW_DATABASE_URL": url,
                "DW_LANDING": str(work / "landing"),
                "DBT_TARGET_PATH": str(work / "target"),
                "DBT_LOG_PATH": str(work / "logs"),
            }
        )
        s = settings()
        print(f"benchmark database: {url.rsplit('@', 1)[-1]}; {os.cpu_count()} cores")
        t0 = time.perf_counter()
        generate_landing(s.landing, date(2026, 10, 1), date(2026, 11, 1), args.customers, seed=5)
        print(
            f"generated Oct 2026 + 1 Nov for {args.customers:,} customers"
            f" in {time.perf_counter() - t0:.0f}s"
        )
        t0 = time.perf_counter()
        october = ingest(s=s, end=date(2026, 10, 31), run_checks=False)
        assert october.ok
        print(f"loaded October ({len(october.outcomes)} files) in {time.perf_counter() - t0:.0f}s")
        full_s, full_parts = timed_dbt("build", "--full-refresh")
        month_rows = fact_rows(url)
        print(
            f"full build (every model and test) of a month: {full_s:6.1f}s,"
            f" {month_rows:,} interactions {_parts(full_parts)}"
        )
        assert ingest(s=s, run_checks=False).ok
        incremental_s, incremental_parts = timed_dbt("build")
        day_rows = fact_rows(url) - month_rows
        print(
            f"one-day incremental build on top:             {incremental_s:6.1f}s,"
            f" +{day_rows:,} interactions {_parts(incremental_parts)}"
        )
        # the largest fact alone, without the contention of a parallel build
        alone_incremental_s, _ = timed_dbt("run", "-s", "fct_interactions")
        alone_full_s, _ = timed_dbt("run", "-s", "fct_interactions", "--full-refresh")
        print(
            f"fct_interactions alone (dbt run, incl. ~5s of dbt start-up): incremental"
            f" {alone_incremental_s:.1f}s, full refresh {alone_full_s:.1f}s"
        )
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "mart.json").write_text(
        json.dumps(
            {
                "at": time.strftime("%Y-%m-%d %H:%M"),
                "customers": args.customers,
                "month_interactions": month_rows,
                "full_build_s": round(full_s, 1),
                "full_build_parts_s": {k: round(v, 1) for k, v in full_parts.items()},
                "day_interactions": day_rows,
                "incremental_build_s": round(incremental_s, 1),
                "fct_interactions_alone_s": {
                    "incremental": round(alone_incremental_s, 1),
                    "full_refresh": round(alone_full_s, 1),
                },
                "incremental_build_parts_s": {k: round(v, 1) for k, v in incremental_parts.items()},
            },
            indent=2,
        )
    )
    print(f"written to {out / 'mart.json'}")


if __name__ == "__main__":
    main()
