"""The loading process keeps its freed chunk-sized blocks (channel_dw.ingest.heap)."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys

import pytest

# A reader's chunk, as memory goes: blocks of 2 MB (one inflated feed, one chunk's column), joined
# into one of 16 MB, all freed; thirty times. The page faults of those thirty chunks are printed.
_CHUNKS = """
import resource, sys
import numpy as np
from channel_dw.ingest.heap import keep_freed_memory
if sys.argv[1] == "kept":
    keep_freed_memory()
    keep_freed_memory()  # once per process: the second call changes nothing
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
def chunk():
    parts = [np.ones(2 << 20, np.uint8).tobytes() for _ in range(8)]
    return len(b"".join(parts))
chunk()
before = faults()
for _ in range(30):
    chunk()
print(faults() - before)
"""


# A load's threads, as memory goes: a pool made per file, each of its two threads holding 96 MB of
# chunks at once in 8 MB blocks (more than one of glibc's 64 MB arena mappings), all freed; ten
# files. The page faults of each of those ten files are printed.
_THREADS = """
import resource, sys
from concurrent.futures import ThreadPoolExecutor
import numpy as np
from channel_dw.ingest.heap import keep_freed_memory
if sys.argv[1] == "kept":
    keep_freed_memory()
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
def chunks(_):
    held = [np.ones(8 << 20, np.uint8) for _ in range(12)]
    return sum(len(block) for block in held)
def one_file():
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(chunks, range(2)))
one_file()
for _ in range(10):
    before = faults()
    one_file()
    print(faults() - before)
"""


def _faults(mode: str) -> int:
    return sum(_faults_per_round(mode, _CHUNKS))


def _faults_per_round(mode: str, script: str) -> list[int]:
    done = subprocess.run(
        [sys.executable, "-c", script, mode], capture_output=True, text=True, check=True
    )
    return [int(line) for line in done.stdout.split()]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_freed_blocks_are_reused_instead_of_faulted_in_again() -> None:
    # 30 chunks of 32 MB are 245,760 pages: glibc gave most of them back and faulted them in
    # again (260,161 faults here); kept, they are reused (513).
    returned, kept = _faults("returned"), _faults("kept")
    assert returned > 100_000
    assert kept < returned // 20


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_the_threads_blocks_are_reused_at_the_next_file() -> None:
    # glibc's arena per thread unmaps a 64 MB mapping once all its blocks are freed: a file here
    # faults 2,578-12,364 pages in again, the median file 4,000 or so; with one arena 2. Now and
    # then one file re-faults an 8 MB block (2,048 faults of 4 KB pages, since NumPy's 2 MB pages
    # are off), when the two threads' blocks fell in another order: the median file is judged.
    returned = statistics.median(_faults_per_round("returned", _THREADS))
    kept = statistics.median(_faults_per_round("kept", _THREADS))
    assert returned > 1_000
    assert kept < returned // 10


# An array of 16 MB, and whether the mapping it lies in asks the kernel for 2 MB pages ("hg" in
# its VmFlags): NumPy advises it for every array of 4 MiB and more unless told otherwise.
_ADVICE = """
import re, sys
import numpy as np
from channel_dw.ingest.heap import keep_freed_memory
keep_freed_memory()
block = np.ones(16 << 20, np.uint8)
address = block.ctypes.data + len(block) // 2  # its first page is left out of the advice
mapping = None
for line in open("/proc/self/smaps"):
    span = re.match(r"([0-9a-f]+)-([0-9a-f]+) ", line)
    if span:
        mapping = int(span[1], 16) <= address < int(span[2], 16)
    elif mapping and line.startswith("VmFlags:"):
        print("huge" if " hg" in line else "small")
"""


def _pages(env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-c", _ADVICE],
        capture_output=True,
        text=True,
        check=True,
        env={k: v for k, v in os.environ.items() if k != "NUMPY_MADVISE_HUGEPAGE"} | env,
    )
    return done.stdout.strip()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="madvise, /proc/self/smaps")
def test_arrays_are_not_advised_onto_huge_pages() -> None:
    # 16 MB of 2 MB pages took 40-70 ms to fault in on this VM, of 4 KB pages 9 ms.
    assert _pages({}) == "small"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="madvise, /proc/self/smaps")
def test_numpys_own_switch_is_kept_where_it_is_set() -> None:
    assert _pages({"NUMPY_MADVISE_HUGEPAGE": "1"}) == "huge"
    assert _pages({"NUMPY_MADVISE_HUGEPAGE": "0"}) == "small"
