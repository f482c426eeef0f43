"""Data parallelism on the CPU: a batch split by sentences, each part on a core of its own.

Why: a training step on NumPy leaves a core idle for much of the time it is not in a matrix
product. Element-wise work (dropout, layer norm, softmax, the loss) runs on one core, and BLAS
splits each product between its threads, which wait for each other at the end of every
product; the small products of a d_model-256 Transformer are where that waiting costs most.
Splitting the *batch* keeps every core busy through the whole step: shard k, a contiguous
block of the batch's sentences, runs its forward and backward in a process of its own with one
BLAS thread (with more cores than shards, an equal share of them). Processes, not threads: two
threads of one step contend for Python's interpreter lock between NumPy calls, which cost each
half of the Multi30k Transformer's batch 12-23% of its time (two processes side by side: 3.5%).
Measured on the project's 2 cores (``python benchmarks/speed.py transformer``): the Multi30k
Transformer's step at 1.26-1.39x its PyTorch twin's with 2 shards, 1.13x with one stream.

The math stays the batch's. The loss is the mean over the batch's N real target tokens, so
shard k, holding N_k of them, enters with weight N_k / N:

    L = sum_k (N_k / N) L_k,        dL/dtheta = sum_k (N_k / N) dL_k/dtheta      (eq. 13.12)

Each shard's backward starts from its weight (``forward_backward(loss_weight=N_k / N)``), and
the gradients are summed. A shard drops the columns that are padding in all of its rows
(padding changes no real position's value or gradient), so short sentences cost less.

Shared memory: the parameters live in one block that every process maps, so the optimizer's
in-place update in the main process is what the workers read at the next step; each worker
writes its gradients into a block of its own, which the main process adds to ``model.grads``.
Shard 0 runs in the main process and draws its dropout masks from the caller's generator; shard
k >= 1 from a generator of its own, seeded from (seed, k) and saved with each checkpoint. So a
step gives the same result whether the shards run side by side or, when other work takes a
core, one after another: how many run at once follows ``--threads`` without changing what is
trained. NumPy only: on a GPU one stream already keeps the device busy.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import signal
import threading
import weakref
from itertools import pairwise

from . import backend as B
from .allocator import reuse_freed_memory
from .data.batching import real_rows
from .errors import UserError
from .threads import usable_cpus


def shard_seed(seed: int, k: int) -> int:
    """The dropout seed of shard k >= 1 (shard 0 uses the caller's generator): distinct per k."""
    return (seed * 1_000_003 + k) % (1 << 63)


def shard_bounds(batch_size: int, shards: int) -> list[tuple[int, int]]:
    """[start, stop) of each shard's rows: contiguous, sizes differing by at most one."""
    edges = [batch_size * k // shards for k in range(shards + 1)]
    return list(pairwise(edges))


def trim(arrays):
    """(src, src_mask, tgt_in, tgt_out, tgt_mask) without the trailing columns that are padding
    in every row (host arrays; a mask is 1 on a prefix of each row)."""
    src, src_mask, tgt_in, tgt_out, tgt_mask = arrays
    S = max(int(src_mask.sum(axis=1).max()), 1)
    T = max(int(tgt_mask.sum(axis=1).max()), 1)
    return src[:, :S], src_mask[:, :S], tgt_in[:, :T], tgt_out[:, :T], tgt_mask[:, :T]


def _views(buffer, names, shapes, dtype) -> dict:
    """name -> an array of its shape, laid end to end in ``buffer`` (no copy)."""
    flat = B.host.frombuffer(buffer, dtype=dtype)
    out, offset = {}, 0
    for name, shape in zip(names, shapes):
        size = int(B.host.prod(shape, dtype=B.host.int64))
        out[name] = flat[offset : offset + size].reshape(shape)
        offset += size
    return out


def _shard_forward_backward(model, arrays, rng, kwargs):
    """One shard's forward and backward, in whichever process holds it: its readout on its own
    real rows, its gradients scaled by ``kwargs["loss_weight"]`` (N_k / N of eq. 13.12)."""
    return model.forward_backward(*arrays, rng=rng, real_rows=real_rows(arrays[4]), **kwargs)


def _worker(conn, model_class, cfg, dtype, names, shapes, params_buffer, grads_buffer, seed) -> None:
    """A shard's process: the model on the shared parameters, its gradients into its own block."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # as it started (_sigint_ignored): Ctrl-C is the main process's
    blas = _blas_controller()
    reuse_freed_memory()  # as the main process does (allocator.py): no fresh pages every step
    model = model_class(cfg, dtype=dtype)
    model.params.update(_views(params_buffer, names, shapes, dtype))
    model.grads.update(_views(grads_buffer, names, shapes, dtype))
    rng = B.DeviceRNG(seed)
    while True:
        try:
            command, *args = conn.recv()
        except EOFError:  # the main process is gone (killed): nothing left to do
            return
        try:
            if command == "step":
                arrays, kwargs, threads = args
                blas.limit(limits=threads, user_api="blas")  # the cores' share of this shard
                loss, nll_sum, n_tokens = _shard_forward_backward(model, arrays, rng, kwargs)
                conn.send(("ok", (float(loss), float(nll_sum), float(n_tokens))))
            elif command == "get_state":
                conn.send(("ok", rng.get_state()))
            elif command == "set_state":
                rng.set_state(args[0])
                conn.send(("ok", None))
            else:  # "stop"
                return
        except Exception as exc:  # noqa: BLE001 -- reported in the main process, which stops the run
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


class DataParallel:
    """``model.forward_backward`` over ``shards`` blocks of each batch, gradients summed into
    ``model.grads``. Call before building the optimizer: the model's parameters move into
    shared memory (the same values, new arrays in ``model.params``). :meth:`close` (or the
    end of the process) stops the workers."""

    def __init__(self, model, shards: int, seed: int = 0):
        if shards < 2:
            raise UserError(f"DataParallel needs at least 2 shards, got {shards}")
        if B.get_array_module(model.params["dec.emb"]) is not B.host:
            raise UserError("--shards splits a batch across CPU cores, for the NumPy backend; "
                            "train with --shards 1 on other backends")
        self.model, self.shards = model, shards
        names = list(model.params)
        shapes = [model.params[k].shape for k in names]
        dtype = model.params[names[0]].dtype
        nbytes = sum(model.params[k].nbytes for k in names)
        ctx = mp.get_context("spawn")  # fork would copy BLAS's threads mid-state
        params_buffer = ctx.RawArray("b", nbytes)
        shared = _views(params_buffer, names, shapes, dtype)
        for k in names:
            shared[k][...] = model.params[k]
        model.params.update(shared)  # same dict: whoever holds model.params sees the shared arrays
        self._grads, self._conns, self._procs = [], [], []
        for k in range(1, shards):
            grads_buffer = ctx.RawArray("b", nbytes)
            self._grads.append(_views(grads_buffer, names, shapes, dtype))
            ours, theirs = ctx.Pipe()
            proc = ctx.Process(target=_worker, name=f"minis2s-shard-{k}", daemon=True,
                               args=(theirs, type(model), model.cfg, dtype.name, names, shapes,
                                     params_buffer, grads_buffer, shard_seed(seed, k)))
            with _sigint_ignored():  # inherited through exec: a Ctrl-C is the main process's to handle
                proc.start()
            theirs.close()
            self._conns.append(ours)
            self._procs.append(proc)
        self._blas = _blas_controller()
        self._finalizer = weakref.finalize(self, _stop, self._conns, self._procs)

    def forward_backward(self, src, src_mask, tgt_in, tgt_out, tgt_mask, *, rng, **kwargs):
        """As the model's ``forward_backward`` with ``backward=True``, real rows chosen per shard.
        Returns (loss, nll_sum, n_tokens) of the whole batch."""
        n = src.shape[0]
        if n < self.shards:
            raise UserError(f"a batch of {n} sentences cannot be split into {self.shards} shards; "
                            f"use --batch-size {self.shards} or more, or fewer --shards")
        bounds = shard_bounds(n, self.shards)
        tokens = [float(tgt_mask[a:b].sum()) for a, b in bounds]
        weights = [t / (sum(tokens) or 1.0) for t in tokens]  # N_k / N of eq. 13.12
        parts = [trim(tuple(x[a:b] for x in (src, src_mask, tgt_in, tgt_out, tgt_mask))) for a, b in bounds]
        shard_kwargs = [{**kwargs, "loss_weight": w} for w in weights]
        cores = self._cores()
        side_by_side = cores >= self.shards
        threads = cores // self.shards if side_by_side else cores  # BLAS threads per shard
        steps = [("step", parts[k], shard_kwargs[k], threads) for k in range(self.shards)]
        if side_by_side:  # the cores shared out, a shard each
            for k in range(1, self.shards):
                self._send(k, steps[k])
            with self._blas.limit(limits=threads, user_api="blas"):
                first = _shard_forward_backward(self.model, parts[0], rng, shard_kwargs[0])
            rest = [self._receive(k) for k in range(1, self.shards)]
        else:  # fewer free cores than shards: one shard after another, the same math
            first = _shard_forward_backward(self.model, parts[0], rng, shard_kwargs[0])
            rest = []
            for k in range(1, self.shards):
                self._send(k, steps[k])
                rest.append(self._receive(k))
        for worker_grads in self._grads:
            for name, g in self.model.grads.items():
                g += worker_grads[name]  # eq. 13.12: dL/dtheta = sum_k (N_k / N) dL_k/dtheta
        loss = weights[0] * first[0] + sum(w * r[0] for w, r in zip(weights[1:], rest))
        return loss, first[1] + sum(r[1] for r in rest), first[2] + sum(r[2] for r in rest)

    def _send(self, k: int, message) -> None:
        try:
            self._conns[k - 1].send(message)
        except OSError:  # a broken pipe: the worker is gone
            self._lost(k)

    def _receive(self, k: int):
        try:
            status, value = self._conns[k - 1].recv()
        except (EOFError, OSError):
            self._lost(k)
        if status == "error":
            raise UserError(f"shard {k}: {value}")
        return value

    def _lost(self, k: int):
        proc = self._procs[k - 1]
        proc.join(timeout=1)
        self.close()
        raise UserError(f"the process of shard {k} stopped (exit code {proc.exitcode}); the last checkpoint is "
                        "intact: resume it, with --shards 1 if this repeats")

    def _cores(self) -> int:
        """The cores this step may use: the BLAS thread count that ``--threads`` set (its
        ``auto`` follows the machine's load), or the usable CPUs where no BLAS can say."""
        counts = [lib["num_threads"] for lib in self._blas.info()]
        return max(1, min(counts) if counts else len(usable_cpus()))

    def get_state(self) -> list:
        """The generators' states of shards 1 .. shards - 1 (JSON-ready)."""
        states = []
        for k in range(1, self.shards):
            self._send(k, ("get_state",))
            states.append(self._receive(k))
        return states

    def set_state(self, states: list | None) -> None:
        """Restore :meth:`get_state`'s list; one of another length (a run saved with other
        --shards) leaves the generators as seeded."""
        if not states or len(states) != len(self._conns):
            return
        for k, state in enumerate(states, 1):
            self._send(k, ("set_state", state))
            self._receive(k)

    def close(self) -> None:
        """Stop the workers (idempotent)."""
        self._finalizer()


def _stop(conns, procs) -> None:
    for conn in conns:
        try:
            conn.send(("stop",))
        except (OSError, ValueError):
            pass
    for proc in procs:
        proc.join(timeout=5)
        if proc.is_alive():
            proc.terminate()
    for conn in conns:
        conn.close()


@contextlib.contextmanager
def _sigint_ignored():
    """SIGINT ignored while a worker starts, so that it is ignored in the worker from its first
    instruction (Python keeps an ignored SIGINT ignored); only the main thread may set it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _blas_controller():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController().select(user_api="blas")
