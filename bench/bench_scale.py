"""A month at province volume, end to end: generate, ingest, full dbt build, report — each timed.

    make bench-scale                                             # 10 million records (a province)
    .venv/bin/python bench/bench_scale.py --records-per-month 1000000     # a quick try
    .venv/bin/python bench/bench_scale.py --customers 20000 --skip-checks

Generates October 2026 with ``channel-dw generate --records-per-month`` (every source, the
planted faults at their usual rates), loads every file with the real loader into a fresh
``channel_dw_bench_scale`` database (the Great Expectations checks on, as in production, unless
``--skip-checks``), delivers the generator's re-deliveries (identical, corrected, late) and loads
them, runs ``channel-dw dbt build --full-refresh`` (every model, the KPI tables and every test),
and writes the month's report with ``channel-dw report --month 2026-10``. Then, outside the
timed total, it checks the ledger and the mart against the generator's manifest.
Target (issue #10): at most 15 minutes end to end on the 2-core reference machine.
Figures are printed as a table with the machine and written to bench/results/scale.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import psycopg2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_ingest import bench_db  # noqa: E402
from bench.bench_mart import CLI, fact_rows, timed_dbt  # noqa: E402
from channel_dw.config import settings  # noqa: E402
from channel_dw.db.connection import connect  # noqa: E402
from channel_dw.generate import PROVINCE_RECORDS_PER_MONTH  # noqa: E402
from channel_dw.ingest import lanes  # noqa: E402
from channel_dw.ingest.runner import BatchResult, ingest  # noqa: E402
from channel_dw.ingest.verify import verify_manifest  # noqa: E402
from channel_dw.quality.mart_verify import verify_mart  # noqa: E402

START, END, MONTH = date(2026, 10, 1), date(2026, 10, 31), "2026-10"
TARGET_S = 15 * 60


@dataclass
class Stage:
    name: str
    seconds: float
    rows: int | None = None
    note: str = ""
    timed: bool = True  # counted in the end-to-end total
    detail: dict[str, object] = field(default_factory=dict)
    # the machine's 1-minute load average as the stage ends: above the core count, something
    # else was running too and the stage's figure is pessimistic
    load: float = field(default_factory=lambda: os.getloadavg()[0])


def machine() -> dict[str, object]:
    """What the figures were measured on."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory_gib = None
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    return {
        "host": platform.node(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": memory_gib,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }


def server_version(url: str) -> str:
    with contextlib.closing(psycopg2.connect(url)) as conn, conn.cursor() as cur:
        cur.execute("show server_version")
        return cur.fetchone()[0]


def scalar(url: str, sql: str) -> int:
    with contextlib.closing(psycopg2.connect(url)) as conn, conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchone()[0]


def run_cli(*args: str) -> tuple[float, str, int]:
    """Wall time, output and peak RSS (MB) of a ``channel-dw`` command; stops if it fails."""
    with tempfile.TemporaryFile("w+") as out:
        t0 = time.perf_counter()
        child = subprocess.Popen([CLI, *args], stdout=out, stderr=subprocess.STDOUT, text=True)
        _pid, status, usage = os.wait4(child.pid, 0)  # this child's own rusage
        seconds = time.perf_counter() - t0
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read()
    if child.returncode != 0:
        sys.exit(f"channel-dw {' '.join(args)} failed:\n{text[-5000:]}")
    return seconds, text, round(usage.ru_maxrss / 1024)


def batch_note(batch: BatchResult) -> tuple[int, str, dict[str, object]]:
    if not batch.ok:
        sys.exit(f"{len(batch.failures)} file(s) failed to load: {batch.failures[:3]}")
    statuses = Counter(o.status for o in batch.outcomes)
    loaded = sum(o.rows_loaded for o in batch.outcomes)
    quarantined = sum(o.rows_quarantined for o in batch.outcomes)
    note = ", ".join(f"{n} {s}" for s, n in sorted(statuses.items()))
    note += f"; {quarantined:,} rows quarantined"
    detail = {
        "files": dict(statuses),
        "rows_loaded": loaded,
        "rows_quarantined": quarantined,
        "seconds_by_source": {
            src: round(sum(o.seconds for o in batch.outcomes if o.source == src), 1)
            for src in sorted({o.source for o in batch.outcomes})
        },
    }
    return loaded, note, detail


def deliver_redeliveries(landing: Path) -> int:
    """Copy ``_redeliveries/NN_kind/<source>/<file>`` over the landing root, in order."""
    folder = landing / "_redeliveries"
    count = 0
    for step in sorted(p for p in folder.iterdir() if p.is_dir()) if folder.exists() else []:
        for path in sorted(step.glob("*/*")):
            shutil.copyfile(path, landing / path.parent.name / path.name)
            count += 1
    return count


def kpi_seconds() -> tuple[float, int]:
    """Seconds the last dbt command spent on the KPI models (``kpi_*``, and the sums they are made
    of, ``int_kpi_month_totals``), and how many there are."""
    results = json.loads((Path(os.environ["DBT_TARGET_PATH"]) / "run_results.json").read_text())
    kpi = [
        r
        for r in results["results"]
        if r["unique_id"].startswith("model.")
        and r["unique_id"].rsplit(".", 1)[-1].startswith(("kpi_", "int_kpi_"))
    ]
    return sum(r["execution_time"] for r in kpi), len(kpi)


def print_table(stages: list[Stage], about: dict[str, object]) -> None:
    print()
    print(
        f"machine: {about['host']} — {about['cpu']}, {about['cores']} cores,"
        f" {about['memory_gib']} GiB; {about['os']}; Python {about['python']};"
        f" PostgreSQL {about['postgres']}"
    )
    w = max(24, *(len(st.name) + 2 for st in stages))
    print(f"{'stage':<{w}} {'seconds':>9} {'rows':>12} {'load':>5}  note")
    print(f"{'-' * w} {'-' * 9} {'-' * 12} {'-' * 5}  {'-' * 40}")
    for st in stages:
        rows = f"{st.rows:,}" if st.rows is not None else ""
        name = st.name if st.timed else f"({st.name})"
        print(f"{name:<{w}} {st.seconds:>9.1f} {rows:>12} {st.load:>5.1f}  {st.note}")
    total = sum(st.seconds for st in stages if st.timed)
    verdict = "within" if total <= TARGET_S else "OVER"
    print(f"{'-' * w} {'-' * 9}")
    print(
        f"{'end to end':<{w}} {total:>9.1f} {'':>12} {'':>5}  {total / 60:.1f} min,"
        f" {verdict} the {TARGET_S // 60}-minute target; (bracketed) stages not counted"
    )
    print(f"load: the 1-minute load average as the stage ended ({about['cores']} cores)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    size = ap.add_mutually_exclusive_group()
    size.add_argument(
        "--records-per-month",
        type=int,
        default=PROVINCE_RECORDS_PER_MONTH,
        help="about this many records in October across the seven sources (default: a province)",
    )
    size.add_argument("--customers", type=int, help="instead of --records-per-month")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--skip-checks", action="store_true", help="load without the GE suites")
    ap.add_argument(
        "--skip-mart-check",
        action="store_true",
        help="skip checking the mart against the manifest (minutes at full scale)",
    )
    ap.add_argument("--work", type=Path, help="keep the landing, dbt target and report here")
    args = ap.parse_args()

    url = bench_db("channel_dw_bench_scale")
    about = {**machine(), "postgres": server_version(url)}
    size_args = (
        ["--customers", str(args.customers)]
        if args.customers
        else ["--records-per-month", str(args.records_per_month)]
    )
    with contextlib.ExitStack() as stack:
        if args.work:
            work = args.work.resolve()
            if work.exists():
                shutil.rmtree(work)
            work.mkdir(parents=True)
        else:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="dw-bench-scale-")))
        os.environ.update(
            {
                "DW_DATABASE_URL": url,
                "DW_LANDING": str(work / "landing"),
                "DW_REPORTS": str(work / "reports"),
                "DBT_TARGET_PATH": str(work / "target"),
                "DBT_LOG_PATH": str(work / "logs"),
            }
        )
        s = settings()
        print(f"benchmark database: {url.rsplit('@', 1)[-1]}; work folder: {work}")
        stages: list[Stage] = []

        def done(stage: Stage) -> None:
            stages.append(stage)
            rows = f", {stage.rows:,} rows" if stage.rows is not None else ""
            print(f"  {stage.name}: {stage.seconds:.1f}s{rows}; {stage.note}", flush=True)

        print(f"generating {START}..{END} ({' '.join(size_args)}) ...", flush=True)
        seconds, _, gen_rss = run_cli(
            "generate",
            *size_args,
            "--start",
            START.isoformat(),
            "--end",
            END.isoformat(),
            "--seed",
            str(args.seed),
            "--landing",
            str(s.landing),
        )
        manifest = json.loads((s.landing / "manifest.json").read_text(encoding="utf-8"))
        customers = manifest["params"]["customers"]
        generated = sum(t["records"] for t in manifest["totals"].values())
        files = sum(t["files"] for t in manifest["totals"].values())
        landing_mb = sum(p.stat().st_size for p in s.landing.rglob("*") if p.is_file()) / 1e6
        done(
            Stage(
                "generate",
                seconds,
                generated,
                f"{files} files, {landing_mb:,.0f} MB, {customers:,} customers,"
                f" {generated / seconds:,.0f} records/s, peak RSS {gen_rss:,} MB",
                detail={
                    "customers": customers,
                    "files": files,
                    "landing_mb": round(landing_mb),
                    "peak_rss_mb": gen_rss,
                    "records_by_source": {k: v["records"] for k, v in manifest["totals"].items()},
                    "planted": manifest["awkward_counts"],
                },
            )
        )

        checks = not args.skip_checks
        jobs = lanes.jobs()  # as `channel-dw ingest` loads: DW_INGEST_JOBS processes
        print(
            f"loading every file (checks {'on' if checks else 'off'}, {jobs} processes) ...",
            flush=True,
        )
        t0 = time.perf_counter()
        batch = ingest(s=s, run_checks=checks, jobs=jobs)
        seconds = time.perf_counter() - t0
        loaded, note, detail = batch_note(batch)
        rss = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        # the loading processes (and the generator before them, 130 MB): the largest one's peak
        child_rss = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
        detail["checks"] = checks
        detail["jobs"] = jobs
        done(
            Stage(
                f"ingest (checks {'on' if checks else 'off'}, {jobs} processes)",
                seconds,
                loaded,
                f"{note}; {loaded / seconds:,.0f} rows/s; peak RSS: bench process {rss:,} MB,"
                f" largest loading process {child_rss:,} MB",
                detail=detail,
            )
        )

        t0 = time.perf_counter()
        delivered = deliver_redeliveries(s.landing)
        batch = ingest(s=s, run_checks=checks, jobs=jobs)
        seconds = time.perf_counter() - t0
        loaded, note, detail = batch_note(batch)
        done(Stage("re-deliveries", seconds, loaded, f"{delivered} files delivered; {note}"))

        print("dbt build --full-refresh ...", flush=True)
        seconds, parts = timed_dbt("build", "--full-refresh")
        kpi_s, kpi_models = kpi_seconds()
        interactions = fact_rows(url)
        done(
            Stage(
                "dbt build --full-refresh",
                seconds,
                interactions,
                f"rows: marts.fct_interactions; models {parts['models']:.0f}s (fct_interactions"
                f" {parts['fct_interactions']:.0f}s, {kpi_models} KPI tables {kpi_s:.0f}s),"
                f" tests {parts['tests']:.0f}s, summed over dbt's threads",
                detail={k: round(v, 1) for k, v in {**parts, "kpi_models": kpi_s}.items()},
            )
        )

        seconds, out, _ = run_cli("report", "--month", MONTH)
        kpi_rows = scalar(url, "select count(*) from marts.kpi_monthly")
        done(
            Stage(
                f"report {MONTH}",
                seconds,
                kpi_rows,
                "rows: marts.kpi_monthly; " + " ".join(Path(p).name for p in out.split()[-2:]),
            )
        )

        checks_after = [("ledger vs manifest", verify_manifest)]
        if not args.skip_mart_check:
            checks_after.append(("mart vs manifest", verify_mart))
        for name, verify in checks_after:
            t0 = time.perf_counter()
            with contextlib.closing(connect(s)) as conn:
                check = verify(conn, s.landing / "manifest.json")
            seconds = time.perf_counter() - t0
            note = "matches" if check.ok() else f"{len(check.mismatches)} MISMATCHES"
            done(Stage(name, seconds, None, note, timed=False))
            if not check.ok():
                print(check.summary())

    print_table(stages, about)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    total = sum(st.seconds for st in stages if st.timed)
    (out / "scale.json").write_text(
        json.dumps(
            {
                "at": time.strftime("%Y-%m-%d %H:%M"),
                "machine": about,
                "size": {"customers": customers, "records": generated, "args": size_args},
                "end_to_end_s": round(total, 1),
                "target_s": TARGET_S,
                "stages": [
                    {
                        "stage": st.name,
                        "seconds": round(st.seconds, 1),
                        "rows": st.rows,
                        "note": st.note,
                        "in_total": st.timed,
                        "load_1min": round(st.load, 1),
                        **({"detail": st.detail} if st.detail else {}),
                    }
                    for st in stages
                ],
            },
            indent=2,
            ensure_ascii=False,
        )
        + "\n"
    )
    print(f"written to {out / 'scale.json'}")


if __name__ == "__main__":
    main()
