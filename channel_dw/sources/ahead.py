"""Work on the next chunks of a file on a few threads, with the results in file order.

A reader's work on one chunk (pyarrow's parse, the masks, the per-record rules of the rows the
masks did not clear) does not depend on the chunks before it, and most of it runs in compiled code
that releases the GIL. So while the loading core copies one chunk's rows, the next chunks are
already being read on the other core: :func:`in_order` runs each chunk's job on a small thread
pool and hands the results back in the order of the jobs, as a plain loop would.

What a loop would do, it still does, in the same order:

* the jobs are taken from their iterator in the consumer's thread, one at a time, so whatever a
  reader checks between chunks (a size limit, the layout of the next lines) stays sequential;
* a job's exception is raised where its result would have been, after every earlier result;
* an exception of the jobs' iterator itself (a file rule broken between chunks) is raised after
  the results of every job taken before it;
* at most ``workers + 1`` jobs are in flight, so memory stays at a few chunks;
* a job that yields batches runs them into a :class:`Collected`, whose ``replay()`` gives them
  to the consumer and then raises what the batches' iterator raised, where it raised it: the
  batches before a rule that stops the reading (a file rule, the app reader's hand-over to the
  streaming parser) are still passed on, as they were when read in place.

``DW_READER_THREADS`` sets the number of threads (default 2, the cores this machine has; 1 runs
every job in the consumer's thread, as before).

:func:`read_ahead` makes the next item of an iterator on a thread of its own while the caller
works on this one (the store reader's next chunk of sheet XML, its next block of shared strings).

:func:`beside` is the same idea for one long task (the store reader's fastexcel read of a whole
sheet): it runs on a thread of its own while the caller works, or, with one thread, in the
caller's thread when its result is asked for.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Generic, TypeVar

from channel_dw.config import count_from_env

T = TypeVar("T")


def threads() -> int:
    """The threads a reader works on (``DW_READER_THREADS``, default 2)."""
    return count_from_env("DW_READER_THREADS", 2, "threads")


def in_order(
    jobs: Iterator[Callable[[], T]], workers: int | None = None, name: str = "reader"
) -> Iterator[T]:
    """The results of ``jobs`` in their order, computed on ``workers`` threads, at most
    ``workers + 1`` at a time (see the module's docstring)."""
    workers = threads() if workers is None else workers
    if workers < 2:
        for job in jobs:
            yield job()
        return
    pending: deque[Future[T]] = deque()
    stopped: BaseException | None = None  # what ended the jobs' iterator, if not its end
    exhausted = False
    with ThreadPoolExecutor(workers, thread_name_prefix=name) as pool:
        try:
            while True:
                # More jobs are taken while the first is still running, never once it is done:
                # taking a job may wait (on the chunks before, for the rendering pool), and its
                # result is wanted now (the first chunk's COPY waited for three chunks' reading).
                while not exhausted and len(pending) <= workers:
                    if pending and pending[0].done():
                        break
                    try:
                        job = next(jobs)
                    except StopIteration:
                        exhausted = True
                    except BaseException as exc:  # raised after the results before it
                        exhausted, stopped = True, exc
                    else:
                        pending.append(_ready(job) if isinstance(job, Done) else pool.submit(job))
                if not pending:
                    break
                yield pending.popleft().result()
        finally:
            for future in pending:  # closed early or failed: the jobs not yet begun are dropped
                future.cancel()
    if stopped is not None:
        raise stopped


class Done(Generic[T]):
    """A job whose result is already known (``value``): :func:`in_order` gives it in its place
    without handing it to a thread (the rendering of rows a compiled reader wrote as text)."""

    def __init__(self, value: T) -> None:
        self.value = value

    def __call__(self) -> T:
        return self.value


def _ready(job: Done[T]) -> Future[T]:
    future: Future[T] = Future()
    future.set_result(job.value)
    return future


@contextmanager
def beside(task: Callable[[], T], name: str = "reader") -> Iterator[Callable[[], T]]:
    """``task`` started on a thread of its own while the block runs, when the readers have more
    than one thread; with one (``DW_READER_THREADS=1``), run in the caller's thread when its result
    is asked for. Gives the function that returns the result (or raises what ``task`` raised); the
    block's end waits for the thread however the block ends."""
    if threads() < 2:
        yield task
        return
    with ThreadPoolExecutor(1, thread_name_prefix=name) as pool:
        yield pool.submit(task).result


class Collected(Generic[T]):
    """What an iterator gave before it ended or raised (run on a reader thread); ``replay()``
    gives it again, then raises what it raised, as iterating it in place would have."""

    def __init__(self, items: Iterable[T]) -> None:
        self.items: list[T] = []
        self.error: Exception | None = None
        try:
            for item in items:
                self.items.append(item)
        except Exception as exc:
            self.error = exc

    def replay(self) -> Iterator[T]:
        yield from self.items
        if self.error is not None:
            raise self.error


def read_ahead(chunks: Iterator[T]) -> Generator[T]:
    """The chunks, the next one made (a zip member's block inflated, say) on a thread of its
    own while the caller works on this one (ISA-L and zlib release the GIL); in the caller's
    thread with DW_READER_THREADS=1."""
    if threads() < 2:
        yield from chunks
        return
    with ThreadPoolExecutor(1, thread_name_prefix="inflate") as pool:
        future = pool.submit(next, chunks, None)
        while (chunk := future.result()) is not None:
            future = pool.submit(next, chunks, None)
            yield chunk
