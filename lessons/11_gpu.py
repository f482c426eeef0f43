# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Lesson 11 — The GPU: CuPy, host and device, and where the time goes
#
# **What you will learn**
#
# - how the same model runs on an NVIDIA GPU through CuPy, by switching one setting — and
#   what happens on a machine without one;
# - what crosses between host (CPU memory) and device (GPU memory), and when;
# - why minis2s's training step never waits for the GPU, and how the strict backend checks
#   that on any CPU;
# - where the time of a training step goes — the output layer's matrix products, the
#   recurrent steps, Adam — measured with cProfile and explained with a cost model
#   (eq. 11.1–11.3);
# - a CPU pitfall: BLAS threads on a busy machine.
#
# Every cell runs without a GPU: the GPU parts then say so and skip.

# %%
import os

# Lessons 06-11 train models on the CPU. Their matrices are small, so BLAS worker threads
# barely speed them up; on a busy machine (other jobs, `pytest -n 2`) threads that wait for
# a core slow every product down many times over -- lesson 11 measures it. This must run
# before NumPy is imported; export OPENBLAS_NUM_THREADS yourself to choose another number.
for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(variable, "1")

# %%
import numpy as np

from course import FAST, show

# %% [markdown]
# ## 1. Switching to the GPU
#
# Lesson 00 showed the three backends. On a machine with an NVIDIA GPU and CuPy
# (`pip install -e ".[gpu]"` for CUDA 12), one call moves everything that follows to the
# GPU: parameters, batches, every product and every gradient — the math code is the same,
# because it asks each array for its module (`xp = B.get_array_module(x)`). Without CuPy
# or a GPU, the call fails with one line saying what is missing; it never falls back to the
# CPU silently, because a run you believe is on the GPU should not quietly take a hundred
# times longer.

# %%
import minis2s
from minis2s import backend as B

try:
    minis2s.set_backend("cupy")
except B.BackendError as err:
    GPU = False
    print("No GPU here:", err)
    print("The GPU cells below say so and skip; everything else runs on NumPy.")
else:
    GPU = True
    import cupy

    print("CuPy", cupy.__version__, "on", cupy.cuda.runtime.getDeviceProperties(0)["name"].decode())
_ = minis2s.set_backend("numpy")  # the default; the GPU cells below switch with `with B.use("cupy"):`

# %% [markdown]
# We use one model throughout, shaped like lesson 10's reference translator: a
# bidirectional LSTM encoder, an attentive LSTM decoder, vocabularies of several thousand
# words, a batch of 64 sentences of up to 16 tokens (random ids — the speed does not depend
# on the words). Fast mode halves the sizes.

# %%
import time

from minis2s.data import make_batch
from minis2s.functional.clip import clip_grad_norm
from minis2s.models.seq2seq import Seq2Seq, Seq2SeqConfig
from minis2s.optim import Adam
from minis2s.train import batch_to_device

V, EMB, HID = (3000, 64, 128) if FAST else (6000, 128, 256)
cfg = Seq2SeqConfig(src_vocab=V, tgt_vocab=V, cell="lstm", emb=EMB, hidden=HID, bidirectional=True,
                    attention="additive")
gen = np.random.default_rng(0)
lengths = gen.integers(8, 17, size=64)
batch = make_batch([gen.integers(4, V, size=n).tolist() for n in lengths],
                   [gen.integers(4, V, size=n).tolist() for n in lengths])
print(f"batch: {len(batch)} sentences, source {batch.src.shape}, target {batch.tgt_in.shape}")


def setup(backend):
    # model, batch, optimizer and dropout RNG, all on `backend`
    with B.use(backend):
        model = Seq2Seq(cfg, seed=0)
        return model, batch_to_device(batch, model.dtype), Adam(model.params), B.DeviceRNG(0)


def train_step(model, arrays, opt, rng):
    # what Trainer.fit does per batch: forward and backward, clip, update
    loss, _, _ = model.forward_backward(*arrays, rng=rng)
    clip_grad_norm(model.grads.values(), 1.0)
    opt.step(model.grads)
    return loss


cpu = setup("numpy")
print(f"{cpu[0].n_params:,} parameters")

# %% [markdown]
# ## 2. Host and device
#
# The GPU has its own memory. Moving data between it and the host crosses the PCIe bus
# (tens of GB/s, and a fixed latency per transfer), so minis2s moves as little as it can,
# and always explicitly:
#
# | what | direction | when |
# |---|---|---|
# | parameters | host → device | once, when the model is made (drawn on the host from the seed, lesson 00) |
# | a batch: ids and masks | host → device | every step — a few kilobytes |
# | the loss | device → host | every `log_every` steps, summed on the device in between |
# | validation figures, checkpoints | device → host | every `eval_every` steps |
#
# The moves are two functions of the backend; on NumPy they cost nothing (the array is
# already where the math runs), on CuPy they copy:

# %%
from minis2s import train

show(B.to_device, B.to_host, train.batch_to_device)

# %% [markdown]
# Because parameters are drawn on the host and then moved, one seed gives the same model on
# every backend — bit for bit. The training step, though, is only equal to rounding: the
# GPU's matrix products add in a different order.

# %%
if not GPU:
    print("No GPU: skipping the NumPy/CuPy comparison. With one, this cell shows that one seed gives the "
          "same parameters on both backends and nearly the same loss.")
else:
    gpu = setup("cupy")
    same = max(float(np.abs(B.to_host(a) - B.to_host(b)).max()) for a, b in zip(cpu[0].params.values(), gpu[0].params.values()))
    print("max |parameter difference| NumPy vs CuPy:", same)
    losses = [B.to_float(m.forward_backward(*arrays, rng=rng)[0]) for m, arrays, _, rng in (cpu, gpu)]
    print(f"loss on NumPy {losses[0]:.6f}, on CuPy {losses[1]:.6f}")
    big = np.ones((4096, 4096), dtype=np.float32)  # 64 MB
    with B.use("cupy"):
        B.to_device(big)  # the first transfer sets up CUDA; do not time it
        t0 = time.perf_counter()
        on_gpu = B.to_device(big)
        back = B.to_host(on_gpu)
        seconds = time.perf_counter() - t0
    print(f"64 MB to the GPU and back: {seconds * 1e3:.1f} ms ({2 * big.nbytes / seconds / 1e9:.1f} GB/s)")

# %% [markdown]
# ## 3. A training step that never waits
#
# A GPU runs **asynchronously**. Python only *queues* each kernel (a product, a tanh, a
# sum) and carries on; the GPU works through the queue. As long as Python stays ahead, the
# GPU is never idle, and Python's own overhead — a few microseconds per call, thousands of
# calls per step — is hidden. Anything that needs a value on the host breaks this: a
# `float(loss)`, an `if (x > 0).any():`, a `.item()` makes Python wait until the queue has
# drained, and then the GPU waits while Python queues the next kernels. One such line per
# step can halve the speed, and nothing fails.
#
# minis2s's training step reads nothing back:
#
# - `forward_backward` returns the loss, the NLL sum and the token count as 0-d device arrays
#   (lesson 06);
# - the trainer adds the losses up on the device and reads the mean once every `log_every`
#   steps — the one explicit synchronisation in the loop, where it also checks for NaN;
# - `clip_grad_norm` computes the norm and the scale factor on the device and multiplies
#   by it even when it is 1 (lesson 03), instead of asking `if norm > max_norm:`;
# - Adam's bias corrections are Python floats from the integer step count (lesson 07);
# - dropout masks and teacher-forcing choices are drawn on the device by a `DeviceRNG`;
# - masks become lengths, and lengths become gather indices, on the device (lesson 09);
# - token ids are range-checked on the host before the batch moves (`check_batch_ids`),
#   and the step is called with `forward_backward(..., ids_checked=True)`, so the layers' own check —
#   which would read the ids' min and max back, because CuPy would silently wrap an id
#   past the vocabulary — trusts them.

# %%
show(train.Trainer._checked_loss)

# %% [markdown]
# **The strict backend checks it.** On a CPU every NumPy operation is synchronous, so a
# hidden sync costs nothing and is invisible. The `strict` backend refuses them instead
# (lesson 00): `float()`, `bool()`, `.item()` on its arrays raise. So a whole training
# step run under `strict` — with every feature switched on, so that every branch runs —
# proves there is no implicit host transfer in it; the project's tests do this for every
# backend-aware function.

# %%
from minis2s.schedules import CosineLR

feature_cfg = Seq2SeqConfig(src_vocab=V, tgt_vocab=V, cell="lstm", emb=8, hidden=16, layers=2, bidirectional=True,
                            attention="additive", dropout=0.2)
with B.use("strict"):
    model = Seq2Seq(feature_cfg, seed=0)
    arrays = batch_to_device(batch, model.dtype)
    opt, rng = Adam(model.params, lr=1e-3), B.DeviceRNG(0)
    schedule = CosineLR(opt, total_steps=100)
    for _ in range(2):
        loss, nll, n_tokens = model.forward_backward(*arrays, rng=rng, teacher_forcing=0.5, label_smoothing=0.1)
        norm = clip_grad_norm(model.grads.values(), 1.0)
        opt.step(model.grads)
        schedule.step()
    print("two training steps on the strict backend: no implicit host transfer")
    print("the loss is a", type(loss).__name__, "of shape", loss.shape, "- read it explicitly:", B.to_float(loss))
    for label, thunk in (("float(loss)", lambda: float(loss)), ("if norm > 1:", lambda: bool(norm > 1))):
        try:
            thunk()
        except TypeError as err:
            print(f"{label:14s} -> TypeError: {err}")


# %% [markdown]
# ### Exercise: `token_accuracy`
#
# Write a metric a training loop could log on the GPU: the share of real (unpadded)
# positions whose most likely token is the target, as a 0-d array on the arrays' own
# backend, with nothing read back to the host — a running total can then be read once per
# logging window, as the loss is. The grader compares your value with the reference's on
# three padded batches (NumPy), then runs your function again on the strict backend, where
# `float()`, `.item()`, `.tolist()` raise, and watches for `B.to_host` and `B.to_float`.
#
# The cell below holds the stub from `minis2s.exercises.stubs`. Replace the
# `raise NotImplementedError(...)` with your code and run the cell: `check` runs your
# function and the library's on the same seeded inputs and compares what they return; where
# they differ it says which output, where and by how much, and it names the mistake when it
# is a common one. (`check` prints its report and returns it: `report.passed` is True once
# you are done.)

# %%
from minis2s.exercises import check, references


# %%
def token_accuracy(logits, targets, mask):
    """The share of real positions whose most likely token is the target (lesson 11).

    logits: (B, T, V), targets: (B, T) integer ids, mask: (B, T) 1.0 on real tokens -- arrays
    of any backend. Use xp = B.get_array_module(logits) for array functions.
    Returns a 0-d array *on the same backend*: nothing may be read back to the host (no
    float(), .item(), B.to_host), so a GPU training loop never waits for it.
    """
    raise NotImplementedError(
        "write the argmax first: pred = logits.argmax(axis=-1), compared with targets where mask is 1"
    )


report = check(token_accuracy)

# %% [markdown]
# The reference solution, graded the same way; this is what a pass looks like:

# %%
report = check(references.token_accuracy)

# %% [markdown]
# The reference, for comparison: the mask does the counting, and `xp.maximum` keeps an
# all-padding batch at 0 without a Python `if` on an array:

# %%
show(references.token_accuracy)

# %% [markdown]
# Decoding is different: it must look at its own output. Greedy search reads one boolean
# back every eighth step, to stop when every sentence has emitted `<eos>` (lesson 06);
# beam search brings the $2k$ best candidates per sentence to the host at every step for
# its bookkeeping (lesson 10). Both are deliberate, visible `B.to_host` calls.
#
# If a GPU is present, we can measure both the speed-up and the price of one innocent
# `float(loss)` per step:

# %%
def seconds_per_step(setup_tuple, n, read_loss_every_step=False):
    train_step(*setup_tuple)  # warm-up: CuPy compiles its kernels on first use
    loss = train_step(*setup_tuple)
    B.to_float(loss)
    t0 = time.perf_counter()
    for _ in range(n):
        loss = train_step(*setup_tuple)
        if read_loss_every_step:
            B.to_float(loss)  # what float(loss) would do: wait for the GPU
    B.to_float(loss)  # wait for the queue to drain before stopping the clock
    return (time.perf_counter() - t0) / n


cpu_seconds = seconds_per_step(cpu, 2 if FAST else 3)
print(f"NumPy (one CPU thread): {cpu_seconds * 1e3:7.1f} ms per training step")
if not GPU:
    print("No GPU: skipping the CuPy timings.")
else:
    gpu_seconds = seconds_per_step(gpu, 20)
    synced = seconds_per_step(gpu, 20, read_loss_every_step=True)
    print(f"CuPy:                   {gpu_seconds * 1e3:7.1f} ms per training step ({cpu_seconds / gpu_seconds:.0f}x)")
    print(f"CuPy, loss read back every step: {synced * 1e3:7.1f} ms")

# %% [markdown]
# **What one GPU measured.** "As long as Python stays ahead" is a condition, not a promise.
# On an NVIDIA H200 (2026-11-30, `benchmarks/gpu.py`, batch 64 of Multi30k) the reference
# LSTM's step took 94.7 ms on CuPy against 27.5 ms for the same model in PyTorch with cuDNN,
# and the Transformer's 77.5 against 20.3 ms. Python's time to *queue* one step — every
# kernel launched, none waited for — was as long as the whole step: for this model size
# the GPU finishes each kernel before Python has launched the next, so the GPU waits for
# Python, not the other way round. PyTorch launches fewer, bigger kernels from C++ (cuDNN
# runs a whole LSTM layer in one call). On a GPU, the number of kernels per step matters
# as much as the arithmetic: fusing element-wise chains into one kernel, or updating all
# parameters in one flat array, is what would pay here (`benchmarks/RESULTS.md` has the
# profile).

# %% [markdown]
# ## 4. Where the time goes
#
# Profile one CPU training step with `cProfile` and sort the functions by their *own*
# time (`tottime`): NumPy's matrix products and element-wise operations run inside the
# function that calls them, so each library function's own time is the array work it does.

# %%
import cProfile
import io
import pstats

profiler = cProfile.Profile()
profiler.enable()
for _ in range(2):
    train_step(*cpu)
profiler.disable()
out = io.StringIO()
stats = pstats.Stats(profiler, stream=out)
stats.sort_stats("tottime").print_stats(12)
print(out.getvalue().split("\n\n", 1)[-1].rstrip().replace(os.path.dirname(os.path.dirname(minis2s.__file__)) + os.sep, ""))

# %% [markdown]
# Group the functions by what they do:

# %%
GROUPS = {  # (file, function) patterns -> group
    "affine maps: the output layer (and the bridge)": ("linear.py", ("affine_forward", "affine_backward")),
    "recurrent cells (LSTM steps and sequences)": ("lstm.py", None),
    "gate nonlinearities": ("_pointwise.py", None),
    "attention": ("attention.py", None),
    "softmax and cross-entropy": (("losses.py", "activations.py"), None),
    "Adam": ("optim.py", None),
    "gradient clipping": ("clip.py", None),
    "embeddings": (("linear.py", "backend.py"), ("embedding_forward", "embedding_backward", "scatter_add")),
}


def group_of(filename, function):
    for group, (files, functions) in GROUPS.items():
        files = files if isinstance(files, tuple) else (files,)
        if os.path.basename(filename) in files and (functions is None or function in functions):
            return group
    return "everything else (decoder and encoder glue, NumPy calls, Python)"


shares, total = {}, 0.0
for (filename, _, function), (_, _, own_time, _, _) in stats.stats.items():
    shares[group_of(filename, function)] = shares.get(group_of(filename, function), 0.0) + own_time
    total += own_time
for group, seconds in sorted(shares.items(), key=lambda kv: -kv[1]):
    print(f"{group:66s} {seconds / total:6.1%}")

# %% [markdown]
# **A cost model.** Count floating-point operations (a multiply-add is 2). The output
# layer maps each of the $N = B \cdot T$ target positions' readout input $\zeta_t$ (size $R$; here
# $R = H_{\text{dec}} + 2H + D$: state, bidirectional context, embedding) to $|\mathcal V|$ scores.
# Forward is one $(N, R) \times (R, |\mathcal V|)$ product; backward two of the same size,
# $\bar\zeta = \overline{\text{logits}}\, W$ and $\bar W = \overline{\text{logits}}^{\top} \zeta$ (eq. 2.2):
#
# $$
# \text{FLOP}_{\text{out}} \approx 2NR|\mathcal V| + 4NR|\mathcal V| = 6\,N R\,|\mathcal V|
# \qquad \text{(not implemented in code)}
# \tag{11.1}
# $$
#
# A recurrent layer's input projections are one big product per sequence (lesson 03),
# but the recurrent product $h_{t-1} W_h^{\top}$ — $(B, H) \times (H, GH)$ with $G = 4$
# gates for the LSTM — must wait for the previous step. Per direction and sequence of
# length $S$, forward and backward:
#
# $$
# \text{FLOP}_{\text{rec}} \approx 3 \cdot 2\, B\, S\, G H (D + H)
# \qquad\text{in } 2S \text{ sequential steps of small products}
# \qquad \text{(not implemented in code)}
# \tag{11.2}
# $$
#
# The smaller a product, the worse it uses the processor, and every step adds fixed costs:
# Python calls, a dozen NumPy kernels for the gates, allocation. Adam, finally, does no products at all:
# it is 13 element-wise passes over every parameter, about 31 reads and writes of each of
# the $P$ parameters per step, bound by memory bandwidth:
#
# $$
# \text{bytes}_{\text{Adam}} \approx 31 \cdot P \cdot 4 \text{ bytes (float32)}
# \qquad \text{(not implemented in code)}
# \tag{11.3}
# $$
#
# For this model:

# %%
model = cpu[0]
Bn, S, T = batch.src.shape[0], batch.src.shape[1], batch.tgt_in.shape[1]
N, R = Bn * T, model.params["out.W"].shape[1]
D_dec = model.params["dec.l0.Wx"].shape[1]  # the decoder cell's input: embedding and context
flops_out = 6 * N * R * V  # (11.1)
flops_rec = 3 * 2 * Bn * 4 * HID * (2 * S * (EMB + HID) + T * (D_dec + HID))  # (11.2): two encoder directions, decoder
adam_bytes = 31 * model.n_params * 4  # (11.3)
seconds = {group: s / 2 for group, s in shares.items()}  # per step: two steps were profiled
print(f"output layer: N={N}, R={R}, V={V}: {flops_out / 1e9:5.1f} GFLOP per step, "
      f"{flops_out / seconds['affine maps: the output layer (and the bridge)'] / 1e9:5.1f} GFLOP/s achieved")
print(f"recurrent:    {flops_rec / 1e9:5.1f} GFLOP per step, in 2 x (2S + T) = {2 * (2 * S + T)} sequential steps, "
      f"{flops_rec / seconds['recurrent cells (LSTM steps and sequences)'] / 1e9:5.1f} GFLOP/s achieved")
print(f"Adam:         P = {model.n_params:,} parameters, {adam_bytes / 1e9:.2f} GB of memory traffic per step, "
      f"{adam_bytes / seconds['Adam'] / 1e9:5.1f} GB/s achieved")

# %% [markdown]
# Read the two outputs side by side. The **output layer** has the largest operation count
# — $|\mathcal V|$ is in the thousands, $H$ in the hundreds — and it is one large, regular product
# that runs close to the processor's peak; still, it takes the largest share of the step.
# This is why vocabulary size is the first lever on speed (lesson 10 capped it), and why
# large-vocabulary systems use subword units and sampled or adaptive softmaxes. The
# **recurrent cells** do about a third as many operations, in $2(2S + T)$ products that
# must run one after another, each followed by a dozen element-wise kernels for the gates.
# At these sizes each product — $(B, H) \times (H, 4H)$ — is still large enough for BLAS to
# run at nearly the output layer's rate (compare the GFLOP/s figures); with a smaller
# batch or hidden size the fixed cost of every step takes over, which is one reason
# recurrent models are trained with batches as large as memory and convergence allow.
# The softmax and cross-entropy are element-wise, but over $N \times |\mathcal V|$ entries, which is
# why they show up at all. **Adam** is a few percent: pure memory traffic, proportional to
# $P$ and independent of the batch.
#
# On a GPU the balance shifts. The products — the output layer above all — become very
# cheap, and the fixed cost of launching a kernel (a few microseconds, dozens of kernels
# per recurrent step) dominates: a recurrent model on a GPU is latency-bound — one of the
# main reasons Transformers, whose time steps run in parallel, replaced RNNs.
#
# ## 5. A CPU pitfall: BLAS threads
#
# NumPy hands its products to a BLAS library (OpenBLAS in the standard wheels), which
# starts one worker thread per core. On an idle machine and large products that helps.
# But threads that wait for a busy core spin or sleep, and every product waits for its
# slowest thread: on a shared machine — other jobs, or a test runner using every core —
# multithreaded BLAS can make a training step many times *slower*. That is why the first
# cell of lessons 06–11 sets one thread per process. We measure it in fresh processes
# (the setting is read when NumPy is imported):

# %%
import inspect
import subprocess
import sys

# lesson 08's model (a GRU of 64 units with additive attention) on a batch of 64 strings of 16 characters
probe = '''
import time
import numpy as np
from minis2s.data import make_batch
from minis2s.models.seq2seq import Seq2Seq, Seq2SeqConfig
from minis2s.train import batch_to_device
gen = np.random.default_rng(0)
batch = make_batch(*[[gen.integers(4, 40, 16).tolist() for _ in range(64)] for side in range(2)])
model = Seq2Seq(Seq2SeqConfig(src_vocab=40, tgt_vocab=40, cell="gru", emb=16, hidden=64))
arrays = batch_to_device(batch, np.float32)
model.forward_backward(*arrays)
t0 = time.perf_counter()
for _ in range(2):
    model.forward_backward(*arrays)
print((time.perf_counter() - t0) / 2)
'''
package_root = os.path.dirname(os.path.dirname(minis2s.__file__))
cores = os.cpu_count() or 1
for threads in sorted({1, cores}):
    env = {**os.environ, "OPENBLAS_NUM_THREADS": str(threads), "OMP_NUM_THREADS": str(threads),
           "MKL_NUM_THREADS": str(threads), "PYTHONPATH": package_root}
    try:
        result = subprocess.run([sys.executable, "-c", inspect.cleandoc(probe)], env=env, capture_output=True,
                                text=True, check=True, timeout=30)
    except subprocess.TimeoutExpired:
        print(f"{threads:3d} BLAS thread(s): more than 30 s for three steps -- stopped")
    else:
        print(f"{threads:3d} BLAS thread(s): {float(result.stdout) * 1e3:7.1f} ms per forward and backward")
print(f"({cores} cores; load average over the last minute: {os.getloadavg()[0]:.1f})")

# %% [markdown]
# On an idle machine with several cores the threaded run may be somewhat faster; when the
# load average approaches or exceeds the number of cores, expect the opposite. On the
# project's shared two-core machine, with other jobs running, we measured a training step
# of a model like lesson 08's at about 10 ms with one thread and about 600 ms with two.
# Export `OPENBLAS_NUM_THREADS` before starting Jupyter to choose for yourself.
#
# The command line chooses for you. With `--threads auto` (the default of `train`,
# `demo`, `translate` and `evaluate`) BLAS gets the cores that no other process is using:
# `minis2s.threads.BlasThreads` reads how busy each core was from `/proc/stat`, subtracts
# this process's own CPU time, and re-measures every five seconds while training, so a
# run gives a core back when a second job starts and takes it again when it ends
# (`benchmarks/threads.py` measures the three settings side by side). The rule itself:

# %%
from minis2s.threads import threads_for

show(threads_for)
for others in (0.0, 0.2, 0.6, 1.0, 2.0):
    print(f"other processes keep {others:.1f} cores busy -> {threads_for(others, cores)} BLAS thread(s) of {cores}")

# %% [markdown]
# ## Questions
#
# Answer in a few sentences, from what this lesson printed and derived; the instructors'
# answers are in [answers.md, lesson 11](answers.md#lesson-11), to read after you have tried.
#
# **Q11.1.** Why must the GPU training step never synchronise? Describe what happens on the
# host and on the device when `float(loss)` is called every step, and list three places where
# minis2s avoids a hidden synchronisation.
#
# **Q11.2.** Using the cost model (11.1)–(11.2), why is the vocabulary size the first lever on
# a CPU step's time, and why does the recurrent part, with fewer operations, dominate on a
# GPU?
#
# **Q11.3.** Section 5 measured one BLAS thread against several. Why can more threads make a
# step many times *slower* on a shared machine?

# %% [markdown]
# ## Summary
#
# - `minis2s.set_backend("cupy")` (or `MINIS2S_BACKEND=cupy`) runs the same code on a GPU,
#   or fails with one clear line; it never falls back silently.
# - Parameters cross to the device once, batches every step (kilobytes), the loss back only
#   every `log_every` steps; all moves are explicit (`B.to_device`, `B.to_host`).
# - The training step never reads a device value, so the GPU never waits for Python; the
#   strict backend makes any hidden synchronisation an error on a CPU.
# - On a CPU the output layer's products (11.1) dominate, then the sequential recurrent
#   steps (11.2); Adam (11.3) is memory traffic. On a GPU the products become cheap and
#   the recurrent loop's per-kernel latency dominates.
#
# This is the end of the course: from a finite-difference check of one tanh (lesson 01)
# to a translator whose every gradient you have derived, read and checked.
