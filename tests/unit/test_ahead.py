"""The readers' thread pool: results in order, errors where a plain loop would raise them."""

from __future__ import annotations

import threading
import time

import pytest

from channel_dw.sources import ahead


def _jobs(values, log=None, delay=None):
    for v in values:
        if log is not None:
            log.append(("taken", v))

        def job(v=v):
            if delay:
                time.sleep(delay(v))
            return v, threading.current_thread().name

        yield job


def test_results_come_in_job_order_from_the_pool_threads():
    # The early jobs sleep longest, so they finish last: the order is the jobs', not the pool's.
    out = list(ahead.in_order(_jobs(range(6), delay=lambda v: 0.05 * (6 - v)), workers=2))
    assert [v for v, _ in out] == [0, 1, 2, 3, 4, 5]
    assert all(name.startswith("reader") for _, name in out)


def test_one_thread_runs_the_jobs_in_the_callers_thread(monkeypatch):
    monkeypatch.setenv("DW_READER_THREADS", "1")
    out = list(ahead.in_order(_jobs(range(3))))
    assert out == [(0, "MainThread"), (1, "MainThread"), (2, "MainThread")]


def test_at_most_workers_plus_one_jobs_are_taken_ahead():
    log = []
    results = ahead.in_order(_jobs(range(10), log, delay=lambda v: 0.3 if v == 0 else 0), workers=2)
    assert next(results)[0] == 0
    assert [e for e in log if e[0] == "taken"] == [("taken", 0), ("taken", 1), ("taken", 2)]
    assert next(results)[0] == 1
    assert len(log) == 3  # job 1 finished while job 0 ran: given before another is taken
    results.close()


def test_a_finished_first_job_is_given_before_a_job_that_waits_is_taken():
    # The rendering pool's next job waits for the reader's next chunk: the first chunk's COPY text
    # must not wait for it (the COPY started 0.15 s later when it did, 2026-12-04).
    given = threading.Event()
    waited = []

    def jobs():
        yield ahead.Done(0)  # already done, as a compiled reader's text is
        waited.append(given.wait(timeout=2))
        yield lambda: 1

    results = ahead.in_order(jobs(), workers=2)
    assert next(results) == 0
    given.set()
    assert list(results) == [1]
    assert waited == [True]


def test_a_jobs_error_comes_after_the_earlier_results_and_stops_the_rest():
    def jobs():
        yield from _jobs([0, 1])
        yield lambda: 1 / 0
        yield from _jobs([3])

    results = ahead.in_order(jobs(), workers=2)
    assert [next(results)[0], next(results)[0]] == [0, 1]
    with pytest.raises(ZeroDivisionError):
        next(results)


def test_an_error_between_jobs_comes_after_every_job_taken_before_it():
    # A reader's file rule checked between chunks (a size limit): the chunks before it are read.
    def jobs():
        yield from _jobs([0, 1, 2], delay=lambda v: 0.05)
        raise ValueError("the file breaks a rule here")

    seen = []
    with pytest.raises(ValueError, match="breaks a rule"):
        for v, _ in ahead.in_order(jobs(), workers=2):
            seen.append(v)
    assert seen == [0, 1, 2]


def test_collected_replays_the_items_then_raises_where_the_iterator_raised():
    def batches():
        yield "a"
        yield "b"
        raise KeyError("resume at line 7")

    collected = ahead.Collected(batches())
    replay = collected.replay()
    assert [next(replay), next(replay)] == ["a", "b"]
    with pytest.raises(KeyError, match="resume at line 7"):
        next(replay)
    assert list(ahead.Collected(iter("xy")).replay()) == ["x", "y"]


def test_beside_runs_the_task_on_its_own_thread_while_the_caller_works(monkeypatch):
    monkeypatch.setenv("DW_READER_THREADS", "2")
    started = threading.Event()

    def task():
        started.set()
        return threading.current_thread().name

    with ahead.beside(task, name="fastexcel") as result:
        # the task runs before its result is asked for: the caller's work overlaps it
        assert started.wait(5)
        assert result().startswith("fastexcel")


def test_beside_with_one_thread_runs_the_task_in_the_caller_when_asked(monkeypatch):
    monkeypatch.setenv("DW_READER_THREADS", "1")
    log = []

    def task():
        log.append(threading.current_thread().name)
        return 42

    with ahead.beside(task) as result:
        assert log == []  # not started beside the caller's work
        assert result() == 42
    assert log == ["MainThread"]


@pytest.mark.parametrize("count", ["1", "2"])
def test_beside_raises_the_tasks_error_when_its_result_is_asked_for(monkeypatch, count):
    monkeypatch.setenv("DW_READER_THREADS", count)
    with ahead.beside(lambda: 1 / 0) as result, pytest.raises(ZeroDivisionError):
        result()
