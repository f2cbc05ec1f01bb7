"""The loading process's heap: freed blocks kept for the next chunk, not handed back to the kernel.

A reader works in chunks of 1-9 MB: each chunk's bytes, its COPY text, the C pass's arrays. glibc's
malloc serves a block above its mmap threshold (128 KiB at first, raised as such blocks are freed)
with fresh pages from the kernel and returns them when the block is freed, so the next chunk's
blocks fault their pages in again, each zeroed by the kernel. On this VM that cost more than the
work: inflating the 456 MB sheet of a million store orders took 0.43 CPU-s, 0.20 s of it inflating
(ISA-L) and the rest fresh pages. Thirty chunk-like rounds of blocks fault 260,161 pages in with
glibc's defaults, 513 with the blocks kept (``tests/unit/test_heap.py``).

:func:`keep_freed_memory` sets the threshold to 32 MiB (glibc's largest; a larger block, such as
the store reader's index of the shared strings, is still mapped on its own, so that only what it
fills is touched) and lets the heap keep 256 MiB of freed memory before trimming it. The peak
memory of a load does not grow: the blocks are reused, not added to (``make bench`` measures it).

It also gives every thread the one heap (one arena). glibc gives each new thread (the readers, the
rendering pool, the checksum) an arena of its own, made of 64 MB mappings, and unmaps such a
mapping as soon as every block in it is freed, whatever the trim threshold: a thread that held
more than 64 MB of chunks faulted them in again at the next file. Loading 1M web rows five times
in one process, the loads after the first faulted 4,000-15,000 pages in each (many of them 2 MB
huge pages; over four such loads, 12 % of the process's samples under perf were the kernel
zeroing pages); with one arena, 20 or so, and 0.81-0.89 CPU-s a load against 0.80-1.09. A
process's first load gains nothing: its pages are new either way. The threads take their big
blocks a few times per chunk, so sharing the arena's lock costs nothing measurable. A process
that made arenas before its first load keeps them. Elsewhere than glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import logging

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1  # glibc's malloc.h
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
MMAP_THRESHOLD = 32 << 20
TRIM_THRESHOLD = 256 << 20

_done = False


def keep_freed_memory() -> None:
    """Once per process: keep freed blocks of up to 32 MiB in the heap, one heap for every
    thread (see the module)."""
    global _done
    if _done:
        return
    _done = True
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc
        return
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    kept = (
        mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
        and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
        and mallopt(M_ARENA_MAX, 1)
    )
    if not kept:
        log.debug("malloc kept its own thresholds")
