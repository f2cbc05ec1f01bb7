"""The loader benchmark's CPU profile: the least time a load's work can take on the machine's
cores, and so the best ratio to the raw COPY that work allows (bench/bench_ingest.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_ingest.py"


@pytest.fixture
def bench(monkeypatch):
    spec = importlib.util.spec_from_file_location("bench_ingest", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "CORES", 2)
    return module


def test_a_reader_that_costs_more_than_the_copy_bounds_the_load_by_both_cpus_over_the_cores(
    bench,
):
    # 6 CPU-s of reader and 2 of PostgreSQL on 2 cores: at least 4 s, plus the 0.3 s commit.
    profile = bench.cpu_profile(
        {"cpu_s": 6.0, "pg_cpu_s": 2.0}, {"seconds": 2.5, "commit_s": 0.3, "pg_cpu_s": 2.1}
    )
    assert profile["cpu_bound_s"] == 4.3
    assert profile["best_ratio_cpu_allows"] == 0.58  # 2.5 / 4.3
    assert profile["raw_copy_pg_cpu_s"] == 2.1


def test_a_copy_that_costs_more_than_the_reader_bounds_the_load_by_postgresql_alone(bench):
    # PostgreSQL's 2 CPU-s run on one core whatever the other core does: 2 s, plus the commit.
    profile = bench.cpu_profile(
        {"cpu_s": 0.5, "pg_cpu_s": 2.0}, {"seconds": 2.2, "commit_s": 0.2, "pg_cpu_s": 1.9}
    )
    assert profile["cpu_bound_s"] == 2.2
    assert profile["best_ratio_cpu_allows"] == 1.0


def test_a_server_on_another_machine_gives_no_bound(bench):
    profile = bench.cpu_profile(
        {"cpu_s": 3.0, "pg_cpu_s": None}, {"seconds": 2.0, "commit_s": 0.2, "pg_cpu_s": None}
    )
    assert profile["cpu_bound_s"] is None
    assert profile["best_ratio_cpu_allows"] is None
    assert profile["loader_cpu_s"] == 3.0


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("postgresql://postgres@127.0.0.1:55432/dw", True),
        ("postgresql://u@localhost/dw", True),
        ("postgresql:///dw?host=/var/run/postgresql", True),
        ("postgresql://u@db.example.com:5432/dw", False),
    ],
)
def test_only_a_server_on_this_machine_has_its_backend_cpu_read(bench, url, local):
    assert bench.server_is_local(url) is local


def test_the_backends_kernel_seconds_are_kept_beside_its_cpu(bench):
    spent = bench._backend_spent((10.0, 2.0), (11.25, 2.5))
    assert spent["pg_cpu_s"] == pytest.approx(1.75)  # user 1.25 + system 0.5
    assert spent["pg_sys_s"] == pytest.approx(0.5)
    profile = bench.cpu_profile(
        {"cpu_s": 0.5, "pg_cpu_s": 1.75, "pg_sys_s": 0.5},
        {"seconds": 1.5, "commit_s": 0.1, "pg_cpu_s": 1.2, "pg_sys_s": 0.125},
    )
    assert profile["loader_pg_sys_s"] == 0.5
    assert profile["raw_copy_pg_sys_s"] == 0.12


def test_a_backend_that_cannot_be_read_has_no_seconds(bench):
    assert bench._backend_spent(None, None) == {"pg_cpu_s": None, "pg_sys_s": None}
    assert bench.backend_times(None) is None


def test_a_processs_times_are_read_from_proc(bench):
    import os

    before = bench.backend_times(os.getpid())
    assert sum(i * i for i in range(4_000_000)) > 0  # 0.3-0.6 CPU-s, all in user space
    after = bench.backend_times(os.getpid())
    assert after[0] - before[0] >= 0.1
    assert after[1] >= before[1]
