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

And it takes back NumPy's advice to the kernel to back every array of 4 MiB and more with 2 MB
pages (``madvise(MADV_HUGEPAGE)``, NumPy's default on Linux). Such a page is zeroed whole when it
is first touched, and the kernel compacts memory to find one (``defrag`` is ``madvise`` by
default): on this VM 16 MB of them took 40-70 ms to fault in, the same 16 MB of 4 KB pages 9 ms.
The arrays are a chunk's, read once from end to end, where a larger page saves little. A first
load's new pages went that way: an sms load (1M rows) spent 0.23-0.31 of its 0.53-0.69 CPU-s in
the kernel and took 0.81-1.07 s; with 4 KB pages 0.04-0.07 and 0.32-0.33 CPU-s, 0.66-0.68 s (four
loads each, alternated, 2026-12-05). ``NUMPY_MADVISE_HUGEPAGE`` set in the environment is NumPy's
own switch: the setting given there is kept.
"""

from __future__ import annotations

import ctypes
import logging
import os

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1  # glibc's malloc.h
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
MMAP_THRESHOLD = 32 << 20
TRIM_THRESHOLD = 256 << 20

_done = False


def keep_freed_memory() -> None:
    """Once per process: keep freed blocks of up to 32 MiB in the heap, one heap for every
    thread, NumPy's arrays on 4 KB pages (see the module)."""
    global _done
    if _done:
        return
    _done = True
    _small_pages_for_arrays()
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


def _small_pages_for_arrays() -> None:
    """NumPy's arrays on the kernel's 4 KB pages, unless ``NUMPY_MADVISE_HUGEPAGE`` says
    otherwise (see the module)."""
    if os.environ.get("NUMPY_MADVISE_HUGEPAGE") is not None:
        return
    import numpy as np

    setter = getattr(getattr(np, "_core", None), "multiarray", None)
    setter = getattr(setter, "_set_madvise_hugepage", None)
    if setter is not None:  # NumPy 2's place for it; elsewhere NumPy's choice stays
        setter(False)
