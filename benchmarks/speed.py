"""Speed of minis2s against its PyTorch twin (issue 7), measured side by side in one run.

    python benchmarks/speed.py train   [--steps 80]         training ms/step, tokens/s, GFLOP/s
    python benchmarks/speed.py decode  [--sentences 256]    greedy and beam-5 sentences/s
    python benchmarks/speed.py memory                       peak memory vs the analytic activations
    python benchmarks/speed.py scaling                      ms/step vs batch size and vs length
    python benchmarks/speed.py profile [--steps 10]         cProfile of the minis2s training step
    python benchmarks/speed.py transformer [--steps 20]     the Transformer: training step against
                                                            torch's layers, and the key/value cache's
                                                            decoding speed-up
    python benchmarks/speed.py transformer-decode           the Transformer's greedy and beam-5
                            [--sentences N] [--checkpoint R] sentences/s with the key/value cache
                                                            against the twin recomputing the prefix,
                                                            and the share of identical outputs
    python benchmarks/speed.py transformer-memory           peak bytes of its training step vs the
                                                            analytic count (minis2s.memory)
    python benchmarks/speed.py all                          all of the above

Every subcommand takes ``--quick`` (a ~20-second smoke run), ``--threads N`` (default: the
threads NumPy's BLAS uses; PyTorch is set to the same), ``--data-dir D`` (Multi30k; default
``$MINIS2S_DATA``, then ``../shared/datasets/multi30k`` beside the repository; without it,
random batches with Multi30k's lengths and vocabulary sizes) and ``--json`` (the last stdout
line is one JSON object of the figures).

The model is the reference ("small") shape: Multi30k de->en, word vocabularies of min
frequency 2, embeddings 128, a bidirectional LSTM encoder of 256 per direction, tanh bridge,
LSTM decoder 256 with additive attention and input feeding, readout [state; context;
embedding] -> V, dropout 0.5, Adam 1e-3, global-norm clipping at 1.0, label smoothing 0.1,
float32. The twin is the same model in eager PyTorch, ``minis2s.torch_export.TorchSeq2Seq``
(``nn.LSTM`` over a packed batch, ``nn.LSTMCell`` decoder, ``F.cross_entropy``), the module
``export`` writes; it starts from minis2s's weights, and both see the same batches in the
same order. Steps of the two
alternate (which goes first flips every batch), so a noisy machine slows both alike; the
ratios are the figures to trust.
"""

from __future__ import annotations

import argparse
import cProfile
import ctypes
import gc
import io
import json
import os
import platform
import pstats
import resource
import shlex
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from threadpoolctl import ThreadpoolController, threadpool_info  # noqa: E402

from minis2s import backend as B  # noqa: E402
from minis2s.allocator import reuse_freed_memory  # noqa: E402
from minis2s.data import Batcher, Vocab, batches_for_inference, make_batch  # noqa: E402
from minis2s.decode import beam_search, greedy, max_target_length  # noqa: E402
from minis2s.functional.cells import CELLS  # noqa: E402
from minis2s.functional.clip import clip_grad_norm  # noqa: E402
from minis2s.memory import activation_bytes, activation_counts  # noqa: E402  (the trainer's estimate)
from minis2s.models.seq2seq import Seq2Seq, Seq2SeqConfig  # noqa: E402
from minis2s.optim import Adam  # noqa: E402
from minis2s.recipes import RECIPES, TRANSFORMER_RECIPES  # noqa: E402
from minis2s.parallel import DataParallel, shard_bounds  # noqa: E402
from minis2s.train import batch_to_device, real_rows  # noqa: E402
from minis2s.torch_export import load_minis2s_params, state_dict_names, to_torch  # noqa: E402

np = B.host

REFERENCE = dict(cell="lstm", emb=128, hidden=256, bidirectional=True, attention="additive", dropout=0.5)
LR, CLIP, LABEL_SMOOTHING = 1e-3, 1.0, 0.1
# Multi30k (train, lower-cased, tokenized) with min frequency 2, for the random fallback
M30K_VOCAB = (7859, 5921)
M30K_LENGTH = ((12.1, 4.0), (13.1, 4.5))  # (mean, sd) tokens per sentence, de and en


# =========================================================================== the machine


_LIMITS = []  # threadpoolctl limiters alive for the whole run


def _blas_info() -> dict:
    """threadpoolctl's entry for NumPy's BLAS (torch brings OpenMP entries of its own)."""
    return next((i for i in threadpool_info() if i["user_api"] == "blas"), {})


def blas_threads() -> int:
    return _blas_info().get("num_threads", 1)


def set_threads(n: int | None) -> int:
    """Give NumPy's BLAS and PyTorch the same number of threads (NumPy's unless ``n``)."""
    if n:
        _LIMITS.append(ThreadpoolController().limit(limits=n, user_api="blas"))
    n = blas_threads()
    torch.set_num_threads(n)
    return n


def machine_info(threads: int) -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    core = _blas_info().get("architecture") or ""
    return {
        "command": "python " + " ".join(shlex.quote(a) for a in sys.argv),
        "cpu": cpu, "cores": os.cpu_count(), "usable_cores": len(os.sched_getaffinity(0)),
        "python": platform.python_version(), "numpy": np.__version__, "torch": torch.__version__,
        "blas": f"{blas.get('name')} {blas.get('version')}" + (f" ({core} kernels)" if core else ""),
        "threads": threads, "torch_threads": torch.get_num_threads(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def print_machine(info: dict) -> None:
    print(f"command: {info['command']}")
    print(f"machine: {info['cpu']}, {info['cores']} cores ({info['usable_cores']} usable), "
          f"load average {info['load_average'][0]} at start")
    print(f"python {info['python']}, numpy {info['numpy']} [{info['blas']}], torch {info['torch']}; "
          f"threads: BLAS {info['threads']}, torch {info['torch_threads']}")


def sgemm_peak(n: int = 2048, repeats: int = 5) -> float:
    """GFLOP/s of the best of ``repeats`` float32 n^3 NumPy GEMMs: this machine's practical peak."""
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((n, n), dtype=np.float32) for _ in range(2))
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(repeats))
    return 2.0 * n**3 / best / 1e9


def _timed(fn, sync=None) -> float:
    """Seconds ``fn`` takes; on a GPU, ``sync`` waits for the queued work before each clock read."""
    if sync:
        sync()
    t0 = time.perf_counter()
    fn()
    if sync:
        sync()
    return time.perf_counter() - t0


# =========================================================================== data


class Corpus:
    """Training pairs (ids), validation sources (ids) and the vocabulary sizes."""

    def __init__(self, pairs, val_src, n_src, n_tgt, description):
        self.pairs, self.val_src = pairs, val_src
        # Multi30k's test set (ids, name, file of tokens) where there is one
        self.test_src, self.test_name, self.test_path = val_src, "validation", None
        self.n_src, self.n_tgt, self.description = n_src, n_tgt, description


def find_data(data_dir) -> Path | None:
    for d in (data_dir, os.environ.get("MINIS2S_DATA"), ROOT.parent / "shared" / "datasets" / "multi30k"):
        if d and (Path(d) / "train.lc.norm.tok.de").exists() and (Path(d) / "train.lc.norm.tok.en").exists():
            return Path(d)
    if data_dir:
        raise SystemExit(f"--data-dir {data_dir}: no train.lc.norm.tok.{{de,en}} there")
    return None


def load_corpus(data_dir=None, seed: int = 0) -> Corpus:
    root = find_data(data_dir)
    if root is None:
        return random_corpus(seed)

    def read(name):
        return [line.split() for line in (root / name).read_text(encoding="utf-8").splitlines()]

    src, tgt = read("train.lc.norm.tok.de"), read("train.lc.norm.tok.en")
    keep = [i for i in range(len(src)) if src[i] and tgt[i]]
    src_vocab = Vocab.build([src[i] for i in keep], min_freq=2)
    tgt_vocab = Vocab.build([tgt[i] for i in keep], min_freq=2)
    pairs = [(src_vocab.encode(src[i]), tgt_vocab.encode(tgt[i])) for i in keep]
    val_src = [src_vocab.encode(s) for s in read("val.lc.norm.tok.de") if s]
    corpus = Corpus(pairs, val_src, len(src_vocab), len(tgt_vocab),
                    f"Multi30k de->en from {root} ({len(pairs)} training pairs, vocabularies "
                    f"{len(src_vocab)} / {len(tgt_vocab)})")
    test = root / "test_2016_flickr.lc.norm.tok.de"
    if test.exists():
        corpus.test_src = [src_vocab.encode(s) for s in read(test.name) if s]
        corpus.test_name, corpus.test_path = "test_2016_flickr", test
    return corpus


def random_corpus(seed: int, n: int = 29000) -> Corpus:
    rng = np.random.default_rng(seed)

    def sentences(k, vocab, mean_sd):
        lengths = np.clip(np.rint(rng.normal(*mean_sd, size=k)), 2, 40).astype(int)
        return [rng.integers(4, vocab, size=L).tolist() for L in lengths]

    pairs = list(zip(sentences(n, M30K_VOCAB[0], M30K_LENGTH[0]), sentences(n, M30K_VOCAB[1], M30K_LENGTH[1])))
    return Corpus(pairs, sentences(1014, M30K_VOCAB[0], M30K_LENGTH[0]), *M30K_VOCAB,
                  "RANDOM batches (Multi30k not found: pass --data-dir or set MINIS2S_DATA) with "
                  "Multi30k-like lengths and vocabulary sizes")


def training_batches(corpus: Corpus, batch_size: int, n: int, seed: int = 0) -> list:
    batcher = Batcher(corpus.pairs, batch_size, seed=seed)
    out = []
    while len(out) < n:
        b = batcher.next_batch()
        if b is not None and len(b) == batch_size:  # every timed batch the full size
            out.append(b)
    return out


def fixed_batch(batch_size: int, S: int, T: int, n_src: int, n_tgt: int, seed: int = 0):
    """A batch with every source S - 1 tokens (+ <eos>) and every target T - 1 (+ <eos>/<sos>):
    no padding, so the two frameworks do exactly the analytic work."""
    rng = np.random.default_rng(seed)
    return make_batch(rng.integers(4, n_src, (batch_size, S - 1)).tolist(),
                      rng.integers(4, n_tgt, (batch_size, T - 1)).tolist())


# =========================================================================== the two models


class Pair:
    """minis2s and its twin, with optimizers, starting from the same weights."""

    def __init__(self, n_src: int, n_tgt: int, seed: int = 0, device: str = "cpu", shards: int = 1):
        self.cfg = Seq2SeqConfig(n_src, n_tgt, **REFERENCE)
        self.model = Seq2Seq(self.cfg, seed=seed)
        # shards > 1: the batch split across the cores (minis2s/parallel.py), made before the
        # optimizer, which then holds the shared parameters
        self.parallel = DataParallel(self.model, shards, seed) if shards > 1 else None
        self.opt = Adam(self.model.params, lr=LR)
        self.rng = B.DeviceRNG(seed)
        torch.manual_seed(seed)
        self.twin = to_torch(self.model).to(device)
        self.topt = torch.optim.Adam(self.twin.parameters(), lr=LR)

    @staticmethod
    def inputs(batch, device: str = "cpu"):
        """(minis2s arrays on the backend's device, twin tensors on ``device``) of a batch,
        made before any timing."""
        ours = batch_to_device(batch, "float32")
        theirs = tuple(torch.from_numpy(np.ascontiguousarray(a)).to(device)
                       for a in (batch.src, batch.src_mask, batch.tgt_in, batch.tgt_out))
        return ours, theirs

    def step_minis2s(self, ours, backward_only=False):
        if self.parallel is not None:
            self.parallel.forward_backward(*ours, rng=self.rng, train=True, label_smoothing=LABEL_SMOOTHING)
        else:
            self.model.forward_backward(*ours, rng=self.rng, train=True, label_smoothing=LABEL_SMOOTHING,
                                        real_rows=real_rows(ours.tgt_mask))
        if backward_only:
            return
        clip_grad_norm(self.model.grads.values(), CLIP)
        self.opt.step(self.model.grads)

    def step_twin(self, theirs, backward_only=False):
        self.twin.train()
        self.topt.zero_grad(set_to_none=True)
        self.twin.loss(*theirs, label_smoothing=LABEL_SMOOTHING).backward()
        if backward_only:
            return
        torch.nn.utils.clip_grad_norm_(self.twin.parameters(), CLIP)
        self.topt.step()

    def check(self, batch) -> dict:
        """Dropout off: the twin's loss and gradients against minis2s's (same math?)."""
        ours, theirs = self.inputs(batch, next(self.twin.parameters()).device.type)
        loss, _, _ = self.model.forward_backward(*ours, train=False, label_smoothing=LABEL_SMOOTHING,
                                                 real_rows=real_rows(ours.tgt_mask))
        self.twin.eval()
        self.twin.zero_grad(set_to_none=True)
        with torch.backends.cudnn.flags(enabled=False):  # cuDNN's LSTM backward refuses eval mode
            t_loss = self.twin.loss(*theirs, label_smoothing=LABEL_SMOOTHING)
            t_loss.backward()
        worst = 0.0
        twin_params = dict(self.twin.named_parameters())
        for name, theirs in state_dict_names(self.cfg).items():
            g, tg = B.to_host(self.model.grads[name]), twin_params[theirs].grad.detach().cpu().numpy()
            worst = max(worst, float(np.abs(g - tg).max() / max(np.abs(tg).max(), 1e-30)))
        self.twin.zero_grad(set_to_none=True)
        return {"loss_minis2s": B.to_float(loss), "loss_twin": t_loss.item(), "grad_max_rel_diff": worst}


# the Transformer's shape for the benchmarks: the Multi30k recipe's (minis2s/recipes.py)
TRANSFORMER_REFERENCE = dict(layers=3, d_model=256, heads=4, d_ff=1024, dropout=0.1, tie_embeddings=True)


class TransformerPair(Pair):
    """A minis2s Transformer and its twin, ``minis2s.torch_export.TorchTransformer`` (torch's
    ``nn.TransformerEncoderLayer`` / ``nn.TransformerDecoderLayer``), from the same weights."""

    def __init__(self, n_src: int, n_tgt: int, seed: int = 0, device: str = "cpu", shards: int = 1):
        from minis2s.models.transformer import Transformer, TransformerConfig

        self.cfg = TransformerConfig(n_src, n_tgt, **TRANSFORMER_REFERENCE)
        self.model = Transformer(self.cfg, seed=seed)
        # the recipe's step: the batch split across the cores (as in Pair)
        self.parallel = DataParallel(self.model, shards, seed) if shards > 1 else None
        self.opt = Adam(self.model.params, lr=LR, betas=(0.9, 0.98))
        self.rng = B.DeviceRNG(seed)
        torch.manual_seed(seed)
        self.twin = to_torch(self.model).to(device)
        self.topt = torch.optim.Adam(self.twin.parameters(), lr=LR, betas=(0.9, 0.98))

    def check(self, batch) -> dict:
        from minis2s.torch_export import transformer_grads

        ours, theirs = self.inputs(batch, next(self.twin.parameters()).device.type)
        loss, _, _ = self.model.forward_backward(*ours, train=False, label_smoothing=LABEL_SMOOTHING,
                                                 real_rows=real_rows(ours.tgt_mask))
        self.twin.eval()  # no dropout (the attention's too); with autograd on, torch takes no fast path
        self.twin.zero_grad(set_to_none=True)
        t_loss = self.twin.loss(*theirs, label_smoothing=LABEL_SMOOTHING)
        t_loss.backward()
        worst = 0.0
        for name, tg in transformer_grads(self.twin).items():
            if name.endswith("_bk"):
                continue  # identically 0 on both sides (rounding against rounding)
            g, tg = B.to_host(self.model.grads[name]), tg.detach().cpu().numpy()
            worst = max(worst, float(np.abs(g - tg).max() / max(np.abs(tg).max(), 1e-30)))
        self.twin.zero_grad(set_to_none=True)
        return {"loss_minis2s": B.to_float(loss), "loss_twin": t_loss.item(), "grad_max_rel_diff": worst}


def recipe_shards(args, recipes) -> int:
    """--shards, or the Multi30k recipe's for the model benchmarked."""
    return args.shards or recipes["multi30k"]["train"].get("shards", 1)


def shard_flops(flops, cfg, b, shards: int) -> dict:
    """minis2s's GEMM work on batch b, per kind: each shard's rows, without the columns that are
    padding in all of them (minis2s/parallel.py), and the readout on the real target tokens."""
    total = {}
    for lo, hi in shard_bounds(len(b), shards):
        S, T = int(b.src_mask[lo:hi].sum(1).max()), int(b.tgt_mask[lo:hi].sum(1).max())
        if shards == 1:
            S, T = b.src.shape[1], b.tgt_in.shape[1]  # one stream keeps the batch's columns
        for k, v in flops(cfg, hi - lo, S, T, int(b.tgt_mask[lo:hi].sum())).items():
            total[k] = total.get(k, 0) + v
    return total


def describe_sides(shards: int, args) -> str:
    ours = (f"{shards} shards of the batch side by side, one process and one BLAS thread each (minis2s/parallel.py)"
            if shards > 1 else f"one stream, {args.threads_used} BLAS threads")
    return f"minis2s: {ours}; twin: {torch.get_num_threads()} torch threads"


def step_figures(t_ours, t_theirs, tokens: int, parts: dict, twin_flops: float, peak: float, probes: list) -> dict:
    """The training-step figures of both sides: times (s) per step, the target tokens of the
    timed steps, minis2s's GEMM work per kind and the twin's total, the GEMM peak (GFLOP/s)."""
    n, total_flops = len(t_ours), sum(parts.values())
    res = {
        "minis2s_ms_per_step": 1e3 * t_ours.mean(), "twin_ms_per_step": 1e3 * t_theirs.mean(),
        "minis2s_ms_median": 1e3 * float(np.median(t_ours)), "twin_ms_median": 1e3 * float(np.median(t_theirs)),
        "minis2s_tokens_per_s": tokens / t_ours.sum(), "twin_tokens_per_s": tokens / t_theirs.sum(),
        "speedup": t_theirs.sum() / t_ours.sum(),
        "speedup_median_per_batch": float(np.median(t_theirs / t_ours)),
        "gflop_per_step": total_flops / n / 1e9,
        "flop_share": {k: v / total_flops for k, v in parts.items()},
        "twin_gflop_per_step": twin_flops / n / 1e9,
        "minis2s_gflops": total_flops / t_ours.sum() / 1e9, "twin_gflops": twin_flops / t_theirs.sum() / 1e9,
        "sgemm_peak_gflops": peak, "sgemm_probes_gflops": probes,
    }
    res["minis2s_peak_share"] = res["minis2s_gflops"] / peak
    res["twin_peak_share"] = res["twin_gflops"] / peak
    # at the median step, which others' bursts on a shared machine move least
    res["minis2s_peak_share_median"] = res["gflop_per_step"] / (res["minis2s_ms_median"] / 1e3) / peak
    res["twin_peak_share_median"] = res["twin_gflop_per_step"] / (res["twin_ms_median"] / 1e3) / peak
    res["gemm_floor_ms"] = res["gflop_per_step"] / peak * 1e3
    return res


def bench_transformer(args, corpus: Corpus) -> dict:
    """The Transformer's training step against its torch twin (alternating, same batches), and
    greedy decoding with the key/value cache against recomputing the prefix every step."""
    from minis2s.models.transformer import Transformer

    steps = 4 if args.quick else args.steps
    warmup = 2
    batches = training_batches(corpus, args.batch_size, warmup + steps, args.seed)
    shards = recipe_shards(args, TRANSFORMER_RECIPES)
    pair = TransformerPair(corpus.n_src, corpus.n_tgt, args.seed, shards=shards)
    check = pair.check(batches[0])
    items = [Pair.inputs(b) for b in batches]
    # the machine's peak is the best GEMM rate seen at any point of the run (others' jobs come and go)
    probes = [sgemm_peak()]
    t_ours, t_theirs = alternate(pair, items, warmup, 20.0 if args.quick else 150.0,
                                 between=lambda: probes.append(sgemm_peak(repeats=2)))
    probes.append(sgemm_peak(repeats=3))
    peak = max(probes)
    n = len(t_ours)
    timed = batches[warmup : warmup + n]
    tokens = sum(b.n_tgt_tokens for b in timed)
    # each side is credited with the GEMM work it does: minis2s's readout skips padding, and so
    # do its shards' trimmed columns
    parts = {k: 0 for k in transformer_flops(pair.cfg, 1, 1, 1)}
    twin_flops = 0
    for b in timed:
        twin_flops += sum(transformer_flops(pair.cfg, len(b), b.src.shape[1], b.tgt_in.shape[1]).values())
        # minis2s's shards each drop the columns that are padding in all of their rows
        for k, v in shard_flops(transformer_flops, pair.cfg, b, shards).items():
            parts[k] += v
    res = {"steps": n, "batch_size": args.batch_size, "shards": shards, "twin_check": check,
           **step_figures(t_ours, t_theirs, tokens, parts, twin_flops, peak, probes)}
    print(f"\nTransformer training step ({TRANSFORMER_REFERENCE}), batch {args.batch_size}, {n} steps each")
    print(describe_sides(shards, args))
    print(f"same math: loss {check['loss_minis2s']:.6f} vs twin {check['loss_twin']:.6f}, "
          f"gradients max rel diff {check['grad_max_rel_diff']:.1e} (dropout off, batch 0)")
    print(f"{'':10} {'ms/step':>9} {'median':>9} {'tgt tok/s':>10} {'GFLOP/s':>8} {'% peak':>7} {'at median':>9}")
    for who in ("minis2s", "twin"):
        print(f"{who:10} {res[who + '_ms_per_step']:9.1f} {res[who + '_ms_median']:9.1f} "
              f"{res[who + '_tokens_per_s']:10.0f} {res[who + '_gflops']:8.1f} {100 * res[who + '_peak_share']:6.1f}% "
              f"{100 * res[who + '_peak_share_median']:8.1f}%")
    print(f"speed-up minis2s / twin: {res['speedup']:.2f}x (total time), "
          f"{res['speedup_median_per_batch']:.2f}x (median of per-batch ratios)   [target >= 1.2x]")
    print(f"GEMM work: {res['gflop_per_step']:.1f} GFLOP per step for minis2s ("
          + ", ".join(f"{k} {100 * v:.0f}%" for k, v in res["flop_share"].items())
          + f"; the twin's, whose readout also runs on padding: {res['twin_gflop_per_step']:.1f}); "
          f"float32 GEMM peak (NumPy 2048^3, best of {len(probes)} probes through the run, the worst "
          f"{min(probes):.0f}): {peak:.1f} GFLOP/s; GEMM floor (all of it at the peak) {res['gemm_floor_ms']:.1f} ms/step")
    # decoding: the same weights with and without the cache, greedy to a fixed length
    n = 16 if args.quick else 64
    cached = pair.model
    full = Transformer(pair.cfg, kv_cache=False)
    full.params = cached.params
    (batch,), _ = batches_for_inference([list(s) for s in corpus.val_src[:n]], n)
    src, mask = B.to_device(batch.src), B.to_device(batch.src_mask, "float32")
    length = 40
    times = {}
    for name, model in (("cached", cached), ("recomputed", full)):
        t0 = time.perf_counter()
        out = greedy(model, src, mask, Vocab.sos_id, -1, max_len=length)  # eos -1: every step runs
        times[name] = time.perf_counter() - t0
        times[name + "_ids"] = out.ids
    assert times["cached_ids"] == times["recomputed_ids"]
    res["decode"] = {"sentences": n, "steps": length, "cached_s": times["cached"],
                     "recomputed_s": times["recomputed"], "kv_cache_speedup": times["recomputed"] / times["cached"]}
    print(f"greedy, {n} sentences x {length} steps: key/value cache {times['cached']:.2f} s, recomputing the "
          f"prefix {times['recomputed']:.2f} s: {res['decode']['kv_cache_speedup']:.1f}x (same outputs)")
    return res


def alternate(pair: Pair, items, warmup: int, budget_s: float | None = None, backward_only=False,
              between=None, sync=None):
    """Time one minis2s and one twin step per item, alternating which goes first.

    items: (minis2s inputs, twin inputs) pairs. Returns per-item times (s) of each, warm-up
    excluded; stops early (after at least 3 timed items) once ``budget_s`` is spent.
    ``between()`` runs untimed before every 10th item (the GEMM-peak probe); ``sync()``
    waits for a GPU's queued work around each timed step.
    """
    t_ours, t_theirs = [], []
    started = time.perf_counter()
    for i, (ours, theirs) in enumerate(items):
        if between is not None and i % 10 == 0:
            between()
        a = lambda: pair.step_minis2s(ours, backward_only)  # noqa: E731
        b = lambda: pair.step_twin(theirs, backward_only)  # noqa: E731
        if i % 2 == 0:
            ta, tb = _timed(a, sync), _timed(b, sync)
        else:
            tb, ta = _timed(b, sync), _timed(a, sync)
        if i >= warmup:
            t_ours.append(ta)
            t_theirs.append(tb)
        if budget_s and i >= warmup + 2 and time.perf_counter() - started > budget_s:
            break
    return np.array(t_ours), np.array(t_theirs)


# =========================================================================== analytic counts


def _dims(cfg, Bn, S, T):
    H = cfg.hidden
    dirs = 2 if cfg.bidirectional else 1
    Henc = dirs * H
    A = cfg.attention_size or H
    G = CELLS[cfg.cell].gates * H  # the rows of Wx and Wh
    return H, dirs, Henc, A, G, cfg.emb, H + Henc + cfg.emb, cfg.tgt_vocab


def train_flops(cfg, Bn: int, S: int, T: int, readout_rows: int | None = None) -> dict:
    """GEMM FLOPs (2 per multiply-add) of one training step on a padded (B, S) / (B, T) batch.

    Forward: the encoder's input and recurrent products, the key projection, the bridge, per
    decoder step the query projection, the scores, the context and the cell's products, and
    the readout. Backward: twice each forward product (the input and the weight gradient),
    so a step is 3x the forward. Padded positions count (both frameworks' decoders compute
    them; the twin's packed encoder skips them, so it is credited slightly more than it does),
    except in the readout when ``readout_rows`` says how many rows it runs on: minis2s's
    readout sees only the real target tokens (``minis2s.train.real_rows``), the twin's all B T.
    """
    H, dirs, Henc, A, G, E, R, V = _dims(cfg, Bn, S, T)
    fwd = {
        "encoder": dirs * 2 * Bn * S * G * (E + H),
        "keys + bridge": 2 * Bn * S * Henc * A + 2 * 2 * Bn * Henc * H,
        "decoder cell": T * 2 * Bn * G * (E + Henc + H),
        "attention": T * (2 * Bn * H * A + 2 * Bn * S * A + 2 * Bn * S * Henc),
        "readout": 2 * (Bn * T if readout_rows is None else readout_rows) * R * V,
    }
    return {k: 3 * v for k, v in fwd.items()}


def transformer_flops(cfg, Bn: int, S: int, T: int, readout_rows: int | None = None) -> dict:
    """GEMM FLOPs (2 per multiply-add) of one Transformer training step on a padded (B, S) / (B, T)
    batch, per kind of product, counted from the shapes (lesson 12-13's equations).

    Forward, per encoder layer: Q, K, V and output projections 4 (B S) D^2 (eq. 12.1, 12.4), the
    scores and the weighted sum 2 B S^2 D over all heads together (eq. 12.2, 12.4), the FFN
    2 (B S) D F (eq. 12.9); per decoder layer: causal self-attention as the encoder's on T
    (the masked half of the scores is computed all the same), cross-attention with Q and the
    output on B T rows, K and V on the B S rows of the memory, scores and sum 2 B T S D, the
    FFN; then the readout (B T or ``readout_rows``) D V (eq. 13.4). Backward: every product
    twice (the gradient of each of its two operands: input and weight, or both attention
    operands), so a step is 3x the forward. Padding counts except in the readout: minis2s's
    readout runs on the real target rows only (``real_rows``), the twin's on all B T. Without
    ``readout_rows`` the total equals torch's FlopCounterMode count of the twin's forward and
    backward (tests/test_benchmark_flops.py).
    """
    D, F, L, V = cfg.d_model, cfg.d_ff, cfg.layers, cfg.tgt_vocab
    rs, rt = Bn * S, Bn * T
    fwd = {
        "projections": 2 * L * (4 * rs * D * D + 4 * rt * D * D + 2 * rt * D * D + 2 * rs * D * D),
        "scores + sums": 2 * L * (2 * Bn * S * S * D + 2 * Bn * T * T * D + 2 * Bn * T * S * D),
        "feed-forward": 2 * L * (2 * rs * D * F + 2 * rt * D * F),
        "readout": 2 * (rt if readout_rows is None else readout_rows) * D * V,
    }
    return {k: 3 * v for k, v in fwd.items()}


# =========================================================================== benchmarks


def bench_train(args, corpus: Corpus, peak: float) -> dict:
    steps = 6 if args.quick else args.steps
    warmup = 2 if args.quick else 3
    budget = 8.0 if args.quick else 150.0
    batches = training_batches(corpus, args.batch_size, warmup + steps, args.seed)
    shards = recipe_shards(args, RECIPES)
    pair = Pair(corpus.n_src, corpus.n_tgt, args.seed, shards=shards)
    check = pair.check(batches[0])
    items = [Pair.inputs(b) for b in batches]
    # the machine's peak is the best GEMM rate seen at any point of the run (others' jobs come and go)
    probes = [peak]
    t_ours, t_theirs = alternate(pair, items, warmup, budget, between=lambda: probes.append(sgemm_peak(repeats=2)))
    probes.append(sgemm_peak(repeats=3))
    peak = max(probes)
    n = len(t_ours)
    timed = batches[warmup : warmup + n]
    tokens = sum(b.n_tgt_tokens for b in timed)
    # each side is credited with the GEMM work it does: minis2s's readout skips padding
    parts = {k: 0 for k in train_flops(pair.cfg, 1, 1, 1)}
    twin_flops = 0
    for b in timed:
        for k, v in shard_flops(train_flops, pair.cfg, b, shards).items():
            parts[k] += v
        twin_flops += sum(train_flops(pair.cfg, len(b), b.src.shape[1], b.tgt_in.shape[1]).values())
    res = {
        "steps": n, "warmup": warmup, "batch_size": args.batch_size, "shards": shards,
        "mean_src_len": float(np.mean([b.src.shape[1] for b in timed])),
        "mean_tgt_len": float(np.mean([b.tgt_in.shape[1] for b in timed])),
        "twin_check": check,
        **step_figures(t_ours, t_theirs, tokens, parts, twin_flops, peak, probes),
    }
    print_train(args, res, tokens, probes)
    return res


def print_train(args, res: dict, tokens: int, probes: list) -> None:
    n, warmup, c, peak = res["steps"], res["warmup"], res["twin_check"], res["sgemm_peak_gflops"]
    print(f"\n== training step (forward, backward, clip 1.0, Adam) -- batch {args.batch_size}, "
          f"{n} steps each after {warmup} warm-up, alternating")
    print(describe_sides(res["shards"], args))
    print(f"same math: loss minis2s {c['loss_minis2s']:.6f} vs twin {c['loss_twin']:.6f}, "
          f"gradients max rel diff {c['grad_max_rel_diff']:.1e} (dropout off, batch 0)")
    print(f"mean padded lengths: source {res['mean_src_len']:.1f}, target {res['mean_tgt_len']:.1f}; "
          f"{tokens / n:.0f} target tokens per batch")
    print(f"{'':10} {'ms/step':>9} {'median':>9} {'tgt tok/s':>10} {'GFLOP/s':>8} {'% peak':>7}")
    for who, key in (("minis2s", "minis2s"), ("twin", "twin")):
        print(f"{who:10} {res[key + '_ms_per_step']:9.1f} {res[key + '_ms_median']:9.1f} "
              f"{res[key + '_tokens_per_s']:10.0f} {res[key + '_gflops']:8.1f} {100 * res[key + '_peak_share']:6.1f}%")
    print(f"speed-up minis2s / twin: {res['speedup']:.2f}x (total time), "
          f"{res['speedup_median_per_batch']:.2f}x (median of per-batch ratios)   [target >= 2.0x]")
    print(f"GEMM work: {res['gflop_per_step']:.1f} GFLOP per step for minis2s ("
          + ", ".join(f"{k} {100 * v:.0f}%" for k, v in res["flop_share"].items())
          + f"; the twin's, whose readout also runs on padding: {res['twin_gflop_per_step']:.1f})"
          + f"; float32 GEMM peak (NumPy 2048^3, best of {len(probes)} probes through the run, "
          f"the worst {min(probes):.0f}): {peak:.1f} GFLOP/s   [target >= 50%]")
    floor = res["gemm_floor_ms"]
    print(f"GEMM floor (all of that work at the peak): {floor:.1f} ms/step; 2x the twin would need "
          f"{res['twin_ms_per_step'] / 2:.1f} ms/step, {res['twin_ms_per_step'] / 2 / floor:.2f}x the floor")


def check_checkpoint_vocab(c, cfg, corpus: Corpus) -> None:
    """Refuse a checkpoint whose vocabulary sizes differ from the corpus's; encode the test
    sentences with the run's own source vocabulary, whatever order this corpus's has."""
    if (cfg.src_vocab, cfg.tgt_vocab) != (corpus.n_src, corpus.n_tgt):
        raise SystemExit("--checkpoint: its vocabularies differ from this corpus's")
    if corpus.test_path is not None:
        vocab = Vocab.from_json(c.vocab["src"])
        lines = corpus.test_path.read_text(encoding="utf-8").splitlines()
        corpus.test_src = [vocab.encode(line.split()) for line in lines if line.split()]


def decode_weights(args, corpus: Corpus, pair: Pair) -> str:
    """Give ``pair`` the weights to decode with (a checkpoint, a few training steps, or the
    initial ones) and say which."""
    train_steps = 0 if args.quick else (args.train_steps or 40)
    if args.checkpoint:
        from minis2s.checkpoint import load_checkpoint

        c = load_checkpoint(args.checkpoint, prefer="best")
        cfg = Seq2SeqConfig.from_json(c.config["model"])
        want = Seq2SeqConfig(cfg.src_vocab, cfg.tgt_vocab, **REFERENCE)
        if cfg != want:
            raise SystemExit(f"--checkpoint {args.checkpoint}: not the reference shape ({cfg})")
        check_checkpoint_vocab(c, cfg, corpus)
        pair.model.load_params(c.params)
        weights = f"checkpoint {c.path}"
    elif train_steps:
        # a model fresh from initialisation never emits <eos> and decodes to the length cap;
        # a few hundred tokens of training make hypotheses end like a trained model's do
        for b in training_batches(corpus, 64, train_steps, args.seed + 1):
            pair.step_minis2s(Pair.inputs(b)[0])
        weights = f"minis2s after {train_steps} training steps"
    else:
        weights = "initial (untrained): hypotheses run to the length cap"
    load_minis2s_params(pair.twin, pair.model.params)
    pair.twin.eval()
    return weights


def decode_side_by_side(pair: Pair, batches, n: int) -> dict:
    """Greedy and beam-5 on ``batches`` (n sentences in all) by minis2s and by its twin, which
    goes first flipping every batch; sentences/s of each and the share of identical outputs."""
    sos, eos = Vocab.sos_id, Vocab.eos_id
    res = {}
    for kind, beam in (("greedy", 1), ("beam5", 5)):
        t_ours = t_theirs = 0.0
        agree = out_tokens = 0
        for i, b in enumerate(batches):
            src, mask = B.to_device(b.src), B.to_device(b.src_mask, "float32")
            tsrc, tmask = torch.from_numpy(b.src), torch.from_numpy(b.src_mask)
            max_len = max_target_length(b.src_mask)
            if beam == 1:
                a = lambda: greedy(pair.model, src, mask, sos, eos, max_len=max_len).ids  # noqa: E731
                c = lambda: pair.twin.greedy(tsrc, tmask, sos, eos, max_len)  # noqa: E731
            else:
                a = lambda: beam_search(pair.model, src, mask, sos, eos, beam=beam, max_len=max_len).ids  # noqa: E731
                c = lambda: pair.twin.beam_search(tsrc, tmask, sos, eos, beam=beam, max_len=max_len)  # noqa: E731
            first, second = (a, c) if i % 2 == 0 else (c, a)
            t0 = time.perf_counter()
            r1 = first()
            t1 = time.perf_counter()
            r2 = second()
            t2 = time.perf_counter()
            (ours, theirs), (ta, tb) = ((r1, r2), (t1 - t0, t2 - t1)) if i % 2 == 0 else ((r2, r1), (t2 - t1, t1 - t0))
            t_ours += ta
            t_theirs += tb
            agree += sum(x == y for x, y in zip(ours, theirs))
            out_tokens += sum(len(x) for x in ours)
        res[kind] = {"minis2s_sent_per_s": n / t_ours, "twin_sent_per_s": n / t_theirs,
                     "speedup": t_theirs / t_ours, "identical_outputs": agree / n, "identical_count": agree,
                     "mean_output_len": out_tokens / n}
        r = res[kind]
        print(f"{kind:7} minis2s {r['minis2s_sent_per_s']:7.1f} sent/s   twin {r['twin_sent_per_s']:7.1f} sent/s   "
              f"speed-up {r['speedup']:.2f}x   identical outputs {agree}/{n} "
              f"({100 * r['identical_outputs']:.0f}%)   "
              f"mean output {r['mean_output_len']:.1f} tokens")
    return res


def bench_decode(args, corpus: Corpus) -> dict:
    n = 32 if args.quick else args.sentences
    pair = Pair(corpus.n_src, corpus.n_tgt, args.seed)
    weights = decode_weights(args, corpus, pair)
    batches, _ = batches_for_inference(corpus.val_src[:n], args.decode_batch)
    res = {"sentences": n, "batch_size": args.decode_batch, "weights": weights}
    print(f"\n== decoding {n} validation sentences in batches of {args.decode_batch}, longest first; "
          f"weights: {weights}; length cap 2 S + 10")
    res.update(decode_side_by_side(pair, batches, n))
    return res


def transformer_decode_weights(args, corpus: Corpus, pair: TransformerPair) -> str:
    """:func:`decode_weights` for the Transformer: a checkpoint (any Transformer shape), or
    minis2s trained a few hundred steps; the twin then gets the same weights."""
    from minis2s.models.transformer import Transformer, TransformerConfig

    if args.checkpoint:
        from minis2s.checkpoint import load_checkpoint

        c = load_checkpoint(args.checkpoint, prefer="best")
        if c.config.get("arch") != "transformer":
            raise SystemExit(f"--checkpoint {args.checkpoint}: not a Transformer run")
        cfg = TransformerConfig.from_json(c.config["model"])
        check_checkpoint_vocab(c, cfg, corpus)
        pair.cfg, pair.model = cfg, Transformer(cfg)
        pair.twin = to_torch(pair.model)
        pair.model.load_params(c.params)
        weights = f"checkpoint {c.path}"
    else:
        steps = args.train_steps or (60 if args.quick else 200)
        size = 32 if args.quick else 64
        # a Transformer fresh from initialisation emits one token whatever the source, to the
        # length cap (and beam search <eos> at once); ~60 steps of batch 32 make hypotheses end
        # (measured: 66 tokens each after 30 steps, 6 after 60), a few hundred make them differ
        t0 = time.perf_counter()
        for b in training_batches(corpus, size, steps, args.seed + 1):
            pair.step_minis2s(Pair.inputs(b)[0])
        weights = f"minis2s after {steps} training steps of batch {size} ({time.perf_counter() - t0:.0f} s)"
    load_minis2s_params(pair.twin, pair.model.params)
    pair.twin.eval()
    return weights


def bench_transformer_decode(args, corpus: Corpus) -> dict:
    """Issue 14: the Transformer's greedy and beam-5 decoding, minis2s with its key/value cache
    against the twin as PyTorch users write it (nn.TransformerDecoderLayer has no cache, so
    every step runs the whole prefix again), same weights, same test sentences, same search."""
    n = min(32 if args.quick else args.sentences, len(corpus.test_src))
    pair = TransformerPair(corpus.n_src, corpus.n_tgt, args.seed)
    weights = transformer_decode_weights(args, corpus, pair)
    batches, _ = batches_for_inference(corpus.test_src[:n], args.decode_batch)
    res = {"sentences": n, "set": corpus.test_name, "batch_size": args.decode_batch, "weights": weights,
           "config": pair.cfg.to_json()}
    print(f"\n== Transformer decoding: {n} {corpus.test_name} sentences in batches of {args.decode_batch}, "
          f"longest first; weights: {weights}; length cap 2 S + 10")
    print("minis2s: key/value cache (eq. 13.8), finished rows leave the batch; twin: the prefix recomputed "
          "every step, all rows to the end; beam 5, alpha 0.6, the same finished-hypothesis rule")
    res.update(decode_side_by_side(pair, batches, n))
    return res


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _hwm_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def memory_worker(args) -> int:
    """One framework, one batch shape, in a fresh process: peak memory of forward + backward
    above the baseline of parameters, gradients and optimizer state (JSON on stdout)."""
    set_threads(args.threads)
    Bn, S, T = args.shape
    n_src, n_tgt = M30K_VOCAB
    pair = (TransformerPair if args.arch == "transformer" else Pair)(n_src, n_tgt, 0)
    small = Pair.inputs(fixed_batch(2, 3, 3, n_src, n_tgt))
    big = Pair.inputs(fixed_batch(Bn, S, T, n_src, n_tgt))
    step = pair.step_minis2s if args.framework == "minis2s" else pair.step_twin
    step(small[0] if args.framework == "minis2s" else small[1])  # gradients, Adam state, allocator warm
    if args.framework == "minis2s":
        del pair.twin, pair.topt
    else:
        pair.model.params.clear()
        pair.model.grads.clear()
        pair.opt = None
    gc.collect()
    try:  # hand freed heap pages back, so that reusing them shows in the RSS like a fresh page
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM (Linux >= 4.0)
        hwm_reset = True
    except OSError:
        hwm_reset = False
    base = _rss_bytes()
    out = {"rss_base": base, "hwm_reset": hwm_reset}
    if args.framework == "minis2s":
        tracemalloc.start()
        step(big[0], backward_only=True)
        out["tracemalloc_peak"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    else:
        step(big[1], backward_only=True)
    out["rss_peak_delta"] = _hwm_bytes() - base
    print(json.dumps(out))
    return 0


def bench_memory(args) -> dict:
    shapes = [(64, 20, 20)] if args.quick else [(32, 20, 20), (64, 20, 20), (128, 20, 20), (64, 40, 40)]
    cfg = Seq2SeqConfig(*M30K_VOCAB, **REFERENCE)
    rows = []
    print("\n== peak memory of forward + backward (fresh process each; parameters, gradients and "
          "optimizer state already allocated), no padding, vocabularies %d / %d" % M30K_VOCAB)
    print(f"{'B, S, T':>12} {'analytic':>9} {'minis2s':>9} {'(traced)':>9} {'twin':>9}   "
          "MB; minis2s/analytic, twin/analytic")
    for shape in shapes:
        got = {}
        for fw in ("minis2s", "twin"):
            cmd = [sys.executable, __file__, "_memory", "--framework", fw, "--shape", *map(str, shape),
                   "--threads", str(args.threads_used)]
            r = subprocess.run(cmd, capture_output=True, text=True, check=True)
            got[fw] = json.loads(r.stdout.strip().splitlines()[-1])
        parts = activation_bytes(cfg, *shape)
        analytic = sum(parts.values())
        row = {"shape": shape, "analytic": analytic, "analytic_parts": parts,
               "minis2s_rss": got["minis2s"]["rss_peak_delta"], "minis2s_traced": got["minis2s"]["tracemalloc_peak"],
               "twin_rss": got["twin"]["rss_peak_delta"]}
        rows.append(row)
        mb = 1 << 20
        print(f"{str(shape):>12} {analytic / mb:9.1f} {row['minis2s_rss'] / mb:9.1f} {row['minis2s_traced'] / mb:9.1f} "
              f"{row['twin_rss'] / mb:9.1f}   {row['minis2s_rss'] / analytic:.2f}x, {row['twin_rss'] / analytic:.2f}x")
    parts = rows[0]["analytic_parts"]
    total = sum(parts.values())
    print(f"analytic activations at {rows[0]['shape']}: "
          + ", ".join(f"{k} {100 * v / total:.0f}%" for k, v in parts.items()))
    return {"rows": rows}


def bench_transformer_memory(args) -> dict:
    """Issue 14: peak bytes of one Transformer training step (the Multi30k recipe's shape), each
    framework in a fresh process as :func:`bench_memory` measures the recurrent model, against
    ``minis2s.memory.training_step_bytes`` (its attention weights B x h x T x S per layer)."""
    from minis2s.memory import training_step_bytes
    from minis2s.models.transformer import TransformerConfig

    shapes = [(64, 20, 20)] if args.quick else [(64, 14, 15), (64, 20, 20), (64, 30, 30), (128, 20, 20)]
    cfg = TransformerConfig(*M30K_VOCAB, **TRANSFORMER_REFERENCE)
    mb = 1 << 20
    model = training_step_bytes(cfg, 0, 1, 1)
    fixed = model["parameters"] + model["gradients"] + model["optimizer state"]
    print(f"\n== Transformer training step memory ({TRANSFORMER_REFERENCE}), vocabularies %d / %d, no padding; "
          "fresh process each, parameters, gradients and Adam state already allocated" % M30K_VOCAB)
    print(f"analytic, fixed: parameters {model['parameters'] / mb:.1f} MB, gradients {model['gradients'] / mb:.1f} MB, "
          f"Adam moments + scratch {model['optimizer state'] / mb:.1f} MB: {fixed / mb:.1f} MB")
    print(f"{'B, S, T':>14} {'analytic':>9} {'minis2s':>9} {'(traced)':>9} {'twin':>9}   MB of forward + backward "
          "(activations + backward transients); minis2s/analytic (traced, RSS), twin/analytic")
    rows = []
    for shape in shapes:
        got = {}
        for fw in ("minis2s", "twin"):
            cmd = [sys.executable, __file__, "_memory", "--arch", "transformer", "--framework", fw,
                   "--shape", *map(str, shape), "--threads", str(args.threads_used)]
            r = subprocess.run(cmd, capture_output=True, text=True, check=True)
            got[fw] = json.loads(r.stdout.strip().splitlines()[-1])
        parts = training_step_bytes(cfg, *shape)
        acts = {k: v * 4 for k, v in activation_counts(cfg, *shape).items()}
        analytic = parts["activations"] + parts["backward transients"]
        row = {"shape": shape, "analytic": analytic, "analytic_activations": acts,
               "analytic_transients": parts["backward transients"], "analytic_fixed": fixed,
               "minis2s_rss": got["minis2s"]["rss_peak_delta"], "minis2s_traced": got["minis2s"]["tracemalloc_peak"],
               "twin_rss": got["twin"]["rss_peak_delta"]}
        rows.append(row)
        print(f"{str(shape):>14} {analytic / mb:9.1f} {row['minis2s_rss'] / mb:9.1f} {row['minis2s_traced'] / mb:9.1f} "
              f"{row['twin_rss'] / mb:9.1f}   {row['minis2s_traced'] / analytic:.2f}x, "
              f"{row['minis2s_rss'] / analytic:.2f}x; {row['twin_rss'] / analytic:.2f}x")
    r0 = rows[0]
    total = r0["analytic"]
    print(f"analytic at {r0['shape']}: " + ", ".join(f"{k} {100 * v / total:.0f}%" for k, v in
                                                  {**r0["analytic_activations"],
                                                   "backward transients": r0["analytic_transients"]}.items()))
    return {"rows": rows}


def bench_scaling(args, corpus: Corpus) -> dict:
    steps = 1 if args.quick else 4
    n_src, n_tgt = corpus.n_src, corpus.n_tgt
    pair = Pair(n_src, n_tgt, args.seed)
    points = ([("batch", b, 20, 20) for b in (16, 64)] + [("length", 64, L, L) for L in (10, 40)]) if args.quick else (
        [("batch", b, 20, 20) for b in (16, 32, 64, 128)] + [("length", 64, L, L) for L in (10, 20, 30, 40)])
    rows = []
    print(f"\n== ms per training step vs batch size (S = T = 20) and vs length (B = 64, S = T), "
          f"no padding; {steps} steps each after 1 warm-up, alternating")
    print(f"{'':8} {'B':>4} {'S=T':>4} {'minis2s':>9} {'twin':>9} {'speed-up':>9} {'minis2s tok/s':>14} {'GFLOP/s':>8}")
    for kind, Bn, S, T in points:
        batch = Pair.inputs(fixed_batch(Bn, S, T, n_src, n_tgt, seed=Bn + S))
        t_ours, t_theirs = alternate(pair, [batch] * (steps + 1), warmup=1)
        flops = sum(train_flops(pair.cfg, Bn, S, T).values())
        row = {"kind": kind, "B": Bn, "S": S, "T": T, "minis2s_ms": 1e3 * float(np.median(t_ours)),
               "twin_ms": 1e3 * float(np.median(t_theirs))}
        row["speedup"] = row["twin_ms"] / row["minis2s_ms"]
        row["minis2s_tokens_per_s"] = Bn * T / (row["minis2s_ms"] / 1e3)
        row["minis2s_gflops"] = flops / (row["minis2s_ms"] / 1e3) / 1e9
        rows.append(row)
        print(f"{kind:8} {Bn:4d} {S:4d} {row['minis2s_ms']:9.1f} {row['twin_ms']:9.1f} {row['speedup']:8.2f}x "
              f"{row['minis2s_tokens_per_s']:14.0f} {row['minis2s_gflops']:8.1f}")
    return {"rows": rows}


def bench_profile(args, corpus: Corpus) -> dict:
    steps = 3 if args.quick else args.profile_steps
    pair = Pair(corpus.n_src, corpus.n_tgt, args.seed)
    items = [Pair.inputs(b)[0] for b in training_batches(corpus, args.batch_size, steps + 2, args.seed)]
    for ours in items[:2]:
        pair.step_minis2s(ours)
    prof = cProfile.Profile()
    prof.enable()
    for ours in items[2:]:
        pair.step_minis2s(ours)
    prof.disable()
    stream = io.StringIO()
    stats = pstats.Stats(prof, stream=stream)
    total = stats.total_tt
    rows = sorted(((v[2], k) for k, v in stats.stats.items()), reverse=True)[:15]
    print(f"\n== cProfile of {steps} minis2s training steps (batch {args.batch_size}): "
          f"{1e3 * total / steps:.0f} ms per step under the profiler; own time per function")
    out = []
    for tt, (file, line, fn) in rows:
        name = f"{os.path.relpath(file, ROOT) if file.startswith(str(ROOT)) else file}:{line}({fn})"
        out.append({"function": name, "ms_per_step": 1e3 * tt / steps, "share": tt / total})
        print(f"{1e3 * tt / steps:8.1f} ms {100 * tt / total:5.1f}%  {name}")
    return {"ms_per_step": 1e3 * total / steps, "top": out}


# =========================================================================== main


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["train", "decode", "memory", "scaling", "profile", "transformer",
                                     "transformer-decode", "transformer-memory", "all", "_memory"])
    ap.add_argument("--quick", action="store_true", help="a ~20-second smoke run")
    ap.add_argument("--threads", type=int, help="threads for NumPy's BLAS and for PyTorch (default: NumPy's)")
    ap.add_argument("--data-dir", help="Multi30k files (default: $MINIS2S_DATA, then ../shared/datasets/multi30k)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch-size", type=int, default=64, help="training batch size (train, profile)")
    ap.add_argument("--steps", type=int, default=80, help="train: timed steps per framework")
    ap.add_argument("--shards", type=int,
                    help="train, transformer: minis2s's batch split across this many processes (minis2s/parallel.py; "
                         "default: the model's Multi30k recipe's, 1 for the recurrent model and 2 for the Transformer)")
    ap.add_argument("--profile-steps", type=int, default=10)
    ap.add_argument("--sentences", type=int, default=1014, help="decode: validation sentences (1014: all)")
    ap.add_argument("--decode-batch", type=int, default=64)
    ap.add_argument("--train-steps", type=int,
                    help="decode, transformer-decode: train minis2s this many steps first so hypotheses end "
                         "at <eos> (default 40 and 200; --quick: 0 and 60)")
    ap.add_argument("--checkpoint", help="decode, transformer-decode: a trained run instead (decode: the "
                                         "reference shape)")
    ap.add_argument("--json", action="store_true", help="last stdout line: the figures as JSON")
    ap.add_argument("--framework", choices=["minis2s", "twin"], help=argparse.SUPPRESS)
    ap.add_argument("--shape", type=int, nargs=3, help=argparse.SUPPRESS)
    ap.add_argument("--arch", choices=["recurrent", "transformer"], default="recurrent", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    reuse_freed_memory()  # as the trainer does (minis2s/allocator.py), for both sides
    if args.what == "_memory":
        return memory_worker(args)
    B.set_backend("numpy")
    args.threads_used = set_threads(args.threads)
    info = machine_info(args.threads_used)
    print_machine(info)
    started = time.perf_counter()
    needs_data = args.what not in ("memory", "transformer-memory")
    corpus = load_corpus(args.data_dir, args.seed) if needs_data else None
    if corpus is not None:
        print(f"data: {corpus.description}")
    results = {"machine": info}
    todo = (["train", "decode", "memory", "scaling", "profile", "transformer", "transformer-decode",
             "transformer-memory"] if args.what == "all" else [args.what])
    if "train" in todo:
        results["train"] = bench_train(args, corpus, sgemm_peak())
    if "decode" in todo:
        results["decode"] = bench_decode(args, corpus)
    if "memory" in todo:
        results["memory"] = bench_memory(args)
    if "scaling" in todo:
        results["scaling"] = bench_scaling(args, corpus)
    if "profile" in todo:
        results["profile"] = bench_profile(args, corpus)
    if "transformer" in todo:
        results["transformer"] = bench_transformer(args, corpus)
    if "transformer-decode" in todo:
        results["transformer-decode"] = bench_transformer_decode(args, corpus)
    if "transformer-memory" in todo:
        results["transformer-memory"] = bench_transformer_memory(args)
    info["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    print(f"\n{time.perf_counter() - started:.0f} s; load average {info['load_average_end'][0]} at the end "
          f"({info['cores']} cores, shared: rely on the ratios)")
    if args.json:
        print(json.dumps(results, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
