"""How many BLAS threads to use: as many as there are cores nobody else is using.

Measured on the project's 2-core machine (``python benchmarks/threads.py``, table in
benchmarks/RESULTS.md): idle, 2 BLAS threads train the Multi30k model 1.46x faster than 1.
But with one other CPU-bound process running, 2 threads fall to 0.35x of the idle speed
(the dates model: 0.30x) while 1 thread keeps 0.64x (0.90x); with two others, 0.12x against
0.44x. OpenBLAS splits every product between its threads, and they wait for each other by
spinning: when the scheduler gives a core to the other process, every product waits for a
thread that is not running while its partner burns CPU time (with one other process, 2
threads keep 1.3 CPUs busy to do 0.35x of the work). So minis2s gives
BLAS the cores that are idle -- measured from ``/proc/stat`` minus this process's own use --
and measures again every few seconds while it trains. In that table ``auto`` is within 4%
of the better fixed setting under every load.

``--threads N`` fixes the number instead (``--threads auto`` is the default).
"""

from __future__ import annotations

import math
import multiprocessing
import os
import time
from pathlib import Path


def usable_cpus() -> set[int]:
    """The CPU numbers this process may run on (all of them where the OS cannot say)."""
    try:
        return set(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return set(range(os.cpu_count() or 1))


def busy_jiffies(stat: str, cpus) -> tuple[int, int]:
    """(busy, total) clock ticks summed over the ``cpus`` lines of a ``/proc/stat`` text."""
    busy = total = 0
    for line in stat.splitlines():
        name, *fields = line.split()
        if not (name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cpus):
            continue
        ticks = [int(f) for f in fields[:8]]  # user nice system idle iowait irq softirq steal
        total += sum(ticks)
        busy += sum(ticks) - ticks[3] - ticks[4]
    return busy, total


def read_proc_stat() -> str | None:
    try:
        return Path("/proc/stat").read_text()
    except OSError:
        return None


def own_cpu_seconds() -> float:
    """CPU seconds of this process and of its live multiprocessing children: the data-parallel
    shards of :mod:`minis2s.parallel` are this run's own load, not another process's."""
    t = os.times()
    seconds = t.user + t.system
    for child in multiprocessing.active_children():
        try:  # utime and stime, fields 14 and 15 of /proc/PID/stat (after the command's ")")
            fields = Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        seconds += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return seconds


def threads_for(others_busy: float, cores: int, share: float = 0.3) -> int:
    """The cores left when others keep ``others_busy`` cores busy; at least 1.

    A core counts as taken once others use more than ``share`` of it: a thread that gets
    only part of a core stalls every GEMM it takes part in.
    """
    taken = max(0, math.ceil(others_busy - share))
    return max(1, min(cores, cores - taken))


class BlasThreads:
    """Sets NumPy's BLAS threads: a fixed number, or ``auto`` -- the idle cores, re-measured
    whenever :meth:`update` is called at least ``interval`` seconds after the last measure.

    Use as a context manager; the previous setting is restored on exit.
    """

    def __init__(self, requested: int | str | None = "auto", interval: float = 5.0,
                 read_stat=read_proc_stat, clock=time.monotonic, own_seconds=own_cpu_seconds):
        self.auto = requested in (None, "auto")
        self.interval, self._read, self._clock, self._own = interval, read_stat, clock, own_seconds
        self._cpus = usable_cpus()
        self.cores = len(self._cpus)
        self._limiter = None
        self._last = None  # (time, busy ticks, total ticks, own CPU seconds)
        self.threads = self.cores if self.auto else int(requested)

    def __enter__(self) -> "BlasThreads":
        from threadpoolctl import ThreadpoolController

        self._controller = ThreadpoolController()
        if self.auto:
            self._sample()
            time.sleep(0.2)  # a first short look at the machine before the first step
            self.threads = self._measure() or self.cores
        self._limiter = self._controller.limit(limits=self.threads, user_api="blas")
        return self

    def __exit__(self, *exc) -> None:
        if self._limiter is not None:
            self._limiter.restore_original_limits()
            self._limiter = None

    def update(self) -> int:
        """Re-measure (auto only, at most every ``interval`` s); returns the thread count."""
        if not self.auto or self._last is None or self._clock() - self._last[0] < self.interval:
            return self.threads
        n = self._measure()
        if n is not None and n != self.threads:
            self.threads = n
            self._controller.limit(limits=n, user_api="blas")
        return self.threads

    def _sample(self):
        stat = self._read()
        if stat is None:
            return None
        previous = self._last
        self._last = (self._clock(), *busy_jiffies(stat, self._cpus), self._own())
        return previous

    def _measure(self) -> int | None:
        """Cores that others kept busy since the last sample -> the threads to use."""
        previous = self._sample()
        if previous is None or self._last is None:
            return None
        _, busy0, total0, own0 = previous
        _, busy1, total1, own1 = self._last
        if total1 <= total0:
            return None
        # ticks are per core: the busy share of all ticks times the cores is busy cores
        busy_cores = (busy1 - busy0) / (total1 - total0) * len(self._cpus)
        wall = (total1 - total0) / len(self._cpus) / os.sysconf("SC_CLK_TCK")
        own_cores = (own1 - own0) / max(wall, 1e-9)
        return threads_for(max(0.0, busy_cores - own_cores), self.cores)
