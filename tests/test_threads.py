"""BLAS threads that give way to other work (minis2s/threads.py)."""

import multiprocessing
import os
import time

import pytest

threadpoolctl = pytest.importorskip("threadpoolctl")

from minis2s.cli import main  # noqa: E402
from minis2s.threads import BlasThreads, busy_jiffies, own_cpu_seconds, threads_for  # noqa: E402

CPUS = sorted(os.sched_getaffinity(0))


def blas_threads() -> int:
    """NumPy's BLAS threads (torch, when a parity test imported it, adds OpenMP entries)."""
    return next(i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas")


@pytest.mark.parametrize("others, cores, expected", [
    (0.0, 2, 2), (0.2, 2, 2), (0.5, 2, 1), (0.9, 2, 1), (1.0, 2, 1), (1.9, 2, 1), (3.0, 2, 1),
    (0.0, 8, 8), (2.0, 8, 6), (2.5, 8, 5), (0.0, 1, 1),
])
def test_threads_for_gives_away_every_core_others_use_beyond_a_share(others, cores, expected):
    assert threads_for(others, cores) == expected


def test_busy_jiffies_counts_only_our_cpus_and_not_idle_or_iowait():
    stat = ("cpu  999 0 999 999 999 0 0 0 0 0\n"
            "cpu0 10 1 5 100 7 2 3 4 0 0\n"
            "cpu1 20 0 10 50 0 0 0 0 0 0\n"
            "intr 1 2 3\n")
    assert busy_jiffies(stat, {0}) == (10 + 1 + 5 + 2 + 3 + 4, 132)
    assert busy_jiffies(stat, {0, 1}) == (25 + 30, 132 + 80)


def fake_stat(busy_per_cpu: int, total_per_cpu: int) -> str:
    lines = ["cpu  0 0 0 0 0 0 0 0 0 0"]
    lines += [f"cpu{c} {busy_per_cpu} 0 0 {total_per_cpu - busy_per_cpu} 0 0 0 0 0 0" for c in CPUS]
    return "\n".join(lines) + "\n"


class FakeMachine:
    """A /proc/stat and a clock advanced by hand: ``run(seconds, others_busy_cores)``."""

    def __init__(self):
        self.now, self.busy, self.total = 0.0, 0, 0

    def run(self, seconds: float, others_busy: float) -> None:
        hz = os.sysconf("SC_CLK_TCK")
        self.now += seconds
        self.total += round(seconds * hz)
        self.busy += round(seconds * hz * others_busy / len(CPUS))

    def stat(self) -> str:
        return fake_stat(self.busy, self.total)


@pytest.mark.skipif(len(CPUS) < 2, reason="needs two usable cores")
def test_auto_gives_a_core_back_when_another_process_runs_and_takes_it_again_after():
    m = FakeMachine()
    before = blas_threads()
    with BlasThreads("auto", interval=5.0, read_stat=m.stat, clock=lambda: m.now) as t:
        assert t.threads == len(CPUS) and blas_threads() == len(CPUS)  # idle at start
        m.run(6.0, others_busy=1.0)  # one other CPU-bound process
        assert t.update() == len(CPUS) - 1 and blas_threads() == len(CPUS) - 1
        m.run(2.0, others_busy=0.0)
        assert t.update() == len(CPUS) - 1, "re-measures only after `interval` seconds"
        m.run(6.0, others_busy=0.0)
        assert t.update() == len(CPUS) and blas_threads() == len(CPUS)
    assert blas_threads() == before, "the previous setting is restored"


@pytest.mark.skipif(len(CPUS) < 2, reason="needs two usable cores")
def test_auto_counts_its_own_worker_processes_as_its_own_load():
    # a busy core that our data-parallel shard (a child process) keeps busy is not taken by another
    m, own = FakeMachine(), [0.0]

    def run(seconds, ours):
        m.run(seconds, others_busy=ours)
        own[0] += seconds * ours

    with BlasThreads("auto", interval=5.0, read_stat=m.stat, clock=lambda: m.now, own_seconds=lambda: own[0]) as t:
        run(6.0, ours=1.0)
        assert t.update() == len(CPUS)


def test_own_cpu_seconds_include_a_live_child_process():
    ctx = multiprocessing.get_context("spawn")
    child = ctx.Process(target=_spin, args=(60.0,), daemon=True)
    before = own_cpu_seconds()
    child.start()
    try:
        # this process sleeps: only the child's CPU time can add 0.3 s (polled, so a busy
        # machine that gives the child less of a core only takes longer)
        deadline = time.monotonic() + 60
        while own_cpu_seconds() - before < 0.3 and time.monotonic() < deadline and child.is_alive():
            time.sleep(0.05)
        assert own_cpu_seconds() - before >= 0.3
    finally:
        child.terminate()


def _spin(seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def test_a_fixed_number_is_kept_whatever_the_load():
    m = FakeMachine()
    with BlasThreads(1, read_stat=m.stat, clock=lambda: m.now) as t:
        assert blas_threads() == 1
        m.run(10.0, others_busy=0.0)
        assert t.update() == 1 and blas_threads() == 1


def test_without_proc_stat_auto_uses_every_core():
    with BlasThreads("auto", read_stat=lambda: None) as t:
        assert t.threads == len(CPUS) and t.update() == len(CPUS)


def test_threads_flag_refuses_nonsense(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["translate", "--checkpoint", "x", "--threads", "0"])
    assert exc.value.code == 2
    assert "--threads" in capsys.readouterr().err
