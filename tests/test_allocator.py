"""allocator.reuse_freed_memory: large blocks come from the heap afterwards (glibc on Linux)."""

import platform
import sys

import numpy as np
import pytest

from minis2s.allocator import reuse_freed_memory


def _heap_range() -> tuple[int, int]:
    for line in open("/proc/self/maps"):
        if line.rstrip().endswith("[heap]"):
            start, end = line.split()[0].split("-")
            return int(start, 16), int(end, 16)
    raise AssertionError("no [heap] mapping")


@pytest.mark.skipif(not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
                    reason="mallopt's thresholds are glibc's")
def test_a_four_megabyte_array_comes_from_the_heap_afterwards():
    assert reuse_freed_memory()
    a = np.ones(1 << 20, dtype=np.float32)  # 4 MiB: over glibc's default mmap threshold of 128 KiB
    start, end = _heap_range()
    assert start <= a.ctypes.data < end


@pytest.mark.skipif(not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
                    reason="mallopt's thresholds are glibc's")
def test_an_array_over_the_largest_mmap_threshold_comes_from_the_heap_too():
    """48 MiB: more than glibc's 32 MiB ceiling on the mmap threshold, like a batch's logits."""
    assert reuse_freed_memory()
    a = np.ones(12 << 20, dtype=np.float32)
    start, end = _heap_range()
    assert start <= a.ctypes.data < end
