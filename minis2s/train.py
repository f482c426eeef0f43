"""The training loop (lesson 07): a plain loop a reader can follow top to bottom.

    for each batch:  loss, grads = model.forward_backward(batch)
                     clip the global gradient norm; optimizer step; schedule step
    every N steps:   validate; checkpoint (atomically); keep the best; maybe stop early

Nothing is lost on a crash: checkpoints are directories renamed into place, so a kill during a
save leaves the previous one intact, and ``resume`` restores parameters, optimizer, schedule,
data order and random state -- on NumPy a resumed run is bit-identical to an uninterrupted one.
A non-finite loss stops training with one line and leaves the last good checkpoint as it was.

Ctrl-C once: the current step finishes, a checkpoint is saved (no validation, so it is quick)
and the run stops with the command that resumes it. Ctrl-C twice: it stops at once, and the
atomic saves leave the last complete checkpoint loadable. A failed write (disk full, read-only)
stops with one line saying what was not written and which checkpoint is intact.
"""

from __future__ import annotations

import contextlib
import json
import math
import signal
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, NamedTuple

from . import backend as B
from . import checkpoint as ckpt
from . import memory, runs
from .allocator import reuse_freed_memory
from .averaging import WeightAverage
from .data.batching import real_rows
from .errors import CheckpointError, UserError
from .functional.clip import clip_grad_norm
from .models import build_model, config_class
from .models.seq2seq import Seq2Seq
from .optim import SGD, Adam, AdamW
from .parallel import DataParallel
from .schedules import CosineLR, InverseSqrtWarmup, LinearWarmup, ReduceOnPlateau, StepLR


class NonFiniteLoss(UserError):
    """The loss became NaN or infinite."""


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C ended training; the message says what was saved and how to resume (exit 130)."""


class CtrlC:
    """While active, the first SIGINT asks the loop to stop after the current step (``requested``)
    and the second raises KeyboardInterrupt at once. The previous handler comes back on exit."""

    def __init__(self):
        self.requested = False
        self._previous = None

    def __enter__(self):
        try:
            self._previous = signal.signal(signal.SIGINT, self._handle)
        except ValueError:  # not the main thread: Ctrl-C keeps its usual meaning
            self._previous = None
        return self

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("\nCtrl-C: saving a checkpoint after this step (Ctrl-C again stops at once)", file=sys.stderr)

    def __exit__(self, *exc_info):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False


SCHEDULES = ("none", "cosine", "step", "plateau", "inverse_sqrt")
# prefixes of the arrays in a checkpoint's state_arrays.npz
TRAINED = "trained."  # the trained weights, when params.npz holds their average (--ema)
CARRIED = "carried."  # a language model's state carried across windows (truncated BPTT)


@dataclass
class TrainConfig:
    """The training recipe; saved in every checkpoint beside the model config."""

    epochs: float | None = None
    max_steps: int | None = None
    minutes: float | None = None
    batch_size: int = 64
    lr: float = 1e-3
    optimizer: str = "adam"
    weight_decay: float = 0.0
    momentum: float = 0.9
    clip: float = 1.0
    schedule: str = "none"  # none | cosine | step | plateau | inverse_sqrt
    warmup: int = 0
    adam_beta2: float = 0.999
    label_smoothing: float = 0.0
    ema: float = 0.0  # validate and save a moving average of the weights, decay xi (eq. 13.11; 0: off)
    teacher_forcing: float = 1.0
    teacher_forcing_final: float | None = None  # linear schedule from teacher_forcing to this
    eval_every: int = 500
    patience: int | None = None
    target: float | None = None  # stop once the validation metric reaches this
    seed: int = 0
    log_every: int = 10
    keep_checkpoints: int = 2
    metric: str = "loss"  # the validation figure that picks the best checkpoint
    higher_is_better: bool = False
    shards: int = 1  # each batch split across this many CPU processes (minis2s.parallel); 1: one stream

    def validate(self):
        if self.epochs is None and self.max_steps is None and self.minutes is None:
            raise UserError("give a training budget: --epochs, --max-steps or --minutes")
        if self.batch_size < 1:
            raise UserError(f"--batch-size must be positive, got {self.batch_size}")
        if self.lr <= 0:
            raise UserError(f"--lr must be positive, got {self.lr}")
        if not 0.0 <= self.teacher_forcing <= 1.0:
            raise UserError(f"--teacher-forcing must be in [0, 1], got {self.teacher_forcing}")
        if self.optimizer not in ("adam", "adamw", "sgd"):
            raise UserError(f"--optimizer must be adam, adamw or sgd, got {self.optimizer!r}")
        if self.schedule not in SCHEDULES:
            raise UserError(f"--schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}")
        if self.schedule == "inverse_sqrt" and self.warmup < 1:
            raise UserError("--schedule inverse_sqrt needs --warmup STEPS (the step of the peak learning rate)")
        if not 0.0 <= self.adam_beta2 < 1.0:
            raise UserError(f"--adam-beta2 must be in [0, 1), got {self.adam_beta2}")
        if not 1 <= self.shards <= self.batch_size:
            raise UserError(f"--shards must be between 1 and the batch size ({self.batch_size}), got {self.shards}")
        if not 0.0 <= self.ema < 1.0:
            raise UserError(f"--ema must be in [0, 1) (0: no weight averaging), got {self.ema}")
        return self


@dataclass
class TrainState:
    step: int = 0
    epoch: int = 0
    best: float | None = None
    best_key: list | None = None
    bad_evals: int = 0
    train_seconds: float = 0.0  # wall time minus validation: what the budget counts
    eval_seconds: float = 0.0
    target_tokens: int = 0
    history: list = field(default_factory=list)


def make_optimizer(params, tc: TrainConfig):
    if tc.optimizer == "sgd":
        return SGD(params, lr=tc.lr, momentum=tc.momentum, weight_decay=tc.weight_decay)
    betas = (0.9, tc.adam_beta2)
    if tc.optimizer == "adamw":
        return AdamW(params, lr=tc.lr, betas=betas, weight_decay=tc.weight_decay)
    return Adam(params, lr=tc.lr, betas=betas, weight_decay=tc.weight_decay)


def make_schedule(opt, tc: TrainConfig, total_steps: int | None):
    if tc.schedule == "inverse_sqrt":  # its own warm-up (eq. 13.7)
        return InverseSqrtWarmup(opt, tc.warmup)
    after = None
    if tc.schedule == "cosine":
        if not total_steps:
            raise UserError("--schedule cosine needs --max-steps or --epochs to know its length")
        after = CosineLR(opt, total_steps=max(1, total_steps - tc.warmup), min_lr=tc.lr * 0.01)
    elif tc.schedule == "step":
        after = StepLR(opt, step_size=max(1, (total_steps or 10000) // 3), gamma=0.3)
    elif tc.schedule == "plateau":
        after = ReduceOnPlateau(opt, factor=0.5, patience=1, mode="max" if tc.higher_is_better else "min")
    if tc.warmup:
        return LinearWarmup(opt, warmup_steps=tc.warmup, after=after)
    return after


def teacher_forcing_at(tc: TrainConfig, step: int, total_steps: int | None) -> float:
    """Constant, or linear from ``teacher_forcing`` to ``teacher_forcing_final`` over the run (eq. 6.7)."""
    if tc.teacher_forcing_final is None or not total_steps:
        return tc.teacher_forcing
    frac = min(1.0, step / total_steps)
    return tc.teacher_forcing + frac * (tc.teacher_forcing_final - tc.teacher_forcing)


def check_batch_ids(batch, cfg) -> None:
    """The batch's token ids against the model's vocabularies, on the host (no device read)."""
    B.check_token_ids(batch.src, cfg.src_vocab, "source ids")
    B.check_token_ids(batch.tgt_in, cfg.tgt_vocab, "target ids")
    B.check_token_ids(batch.tgt_out, cfg.tgt_vocab, "target ids")


class DeviceBatch(NamedTuple):
    """A batch's arrays on the backend, in :meth:`Seq2Seq.forward_backward`'s order: src (B, S),
    src_mask (B, S), tgt_in (B, T), tgt_out (B, T), tgt_mask (B, T)."""

    src: Any
    src_mask: Any
    tgt_in: Any
    tgt_out: Any
    tgt_mask: Any


def batch_to_device(batch, dtype) -> DeviceBatch:
    return DeviceBatch(
        B.to_device(batch.src),
        B.to_device(batch.src_mask, dtype),
        B.to_device(batch.tgt_in),
        B.to_device(batch.tgt_out),
        B.to_device(batch.tgt_mask, dtype),
    )


class _LogWindow:
    """The steps since the last log line: their summed loss (on the device), how many, their
    target tokens, and when the window opened (time.perf_counter())."""

    def __init__(self, start: float):
        self.loss, self.steps, self.tokens, self.start = None, 0, 0, start

    def add(self, loss, tokens: int) -> None:
        self.loss = loss if self.loss is None else self.loss + loss
        self.steps += 1
        self.tokens += tokens


class Trainer:
    """Owns the model, optimizer, schedule, data order and RNG of one run directory."""

    def __init__(self, model: Seq2Seq, batcher, tc: TrainConfig, out_dir, *, vocab: dict,
                 extra_config: dict | None = None, evaluate: Callable | None = None, quiet=False):
        self.model, self.batcher, self.tc = model, batcher, tc.validate()
        reuse_freed_memory()  # every step frees and allocates the same large arrays (allocator.py)
        self.out = Path(out_dir)
        self.vocab, self.extra = vocab, extra_config or {}
        self.evaluate = evaluate
        self.quiet = quiet
        # shards > 1: each batch split across CPU processes, the same math (minis2s.parallel); made
        # before the optimizer, since the parameters move into shared memory
        self.parallel = DataParallel(model, tc.shards, tc.seed) if tc.shards > 1 else None
        self.total_steps = tc.max_steps or (
            int(math.ceil(tc.epochs * batcher.batches_per_epoch())) if tc.epochs else None)
        self.opt = make_optimizer(model.params, tc)
        self.schedule = make_schedule(self.opt, tc, self.total_steps)
        self.rng = B.DeviceRNG(tc.seed)
        # the weights validated and saved, when averaged (eq. 13.11); the trained ones resume
        self.average = WeightAverage(model.params, tc.ema) if tc.ema else None
        self.state = TrainState()
        self.threads = None  # a minis2s.threads.BlasThreads to re-measure while training
        self._tb = None

    # ----------------------------------------------------------------------- persistence

    def config_json(self) -> dict:
        return {"model": self.model.cfg.to_json(), "train": asdict(self.tc), **self.extra}

    def save(self, name: str):
        """With weight averaging, params.npz holds the average (what translate, evaluate and export
        load) and state_arrays.npz the trained weights (what a resumed run continues from)."""
        return ckpt.save_checkpoint(
            self.out, name,
            config=self.config_json(), vocab=self.vocab,
            params=self.average.params if self.average else self.model.params,
            optimizer=self.opt.state_dict(),
            state={
                "trainer": asdict(self.state),
                "rng": self.rng.get_state(),
                "shard_rngs": self.parallel.get_state() if self.parallel else None,
                "batcher": self.batcher.state_dict(),
                "schedule": self.schedule.state_dict() if self.schedule else None,
            },
            state_arrays=self.state_arrays(),
        )

    def state_arrays(self) -> dict | None:
        """Training state held in arrays rather than JSON: the trained weights when params.npz
        holds their average."""
        if self.average is None:
            return None
        return {f"{TRAINED}{k}": v for k, v in self.model.params.items()}

    def restore(self, c) -> None:
        """Continue from a loaded :class:`minis2s.checkpoint.Checkpoint`."""
        arrays = c.state_arrays or {}
        if self.average is not None:
            trained = {k[len(TRAINED):]: v for k, v in arrays.items() if k.startswith(TRAINED)}
            if not trained:
                raise CheckpointError(f"{c.path}: the run averages its weights (--ema) but the checkpoint "
                                      "holds no trained weights to resume from (state_arrays.npz)")
            self.model.load_params(trained)
            self.average.load(c.params)
        else:
            self.model.load_params(c.params)
        if c.optimizer is not None:
            self.opt.load_state_dict(c.optimizer)
        st = c.state
        self.state = TrainState(**st["trainer"])
        self.rng.set_state(st["rng"])
        if self.parallel:
            self.parallel.set_state(st.get("shard_rngs"))
        self.batcher.load_state_dict(st["batcher"])
        if self.schedule and st.get("schedule"):
            self.schedule.load_state_dict(st["schedule"])

    # ----------------------------------------------------------------------- the loop

    def log(self, record: dict) -> None:
        """One line of metrics.jsonl, and the same figures as TensorBoard scalars."""
        with self._writing(self.out / "metrics.jsonl"):
            self.out.mkdir(parents=True, exist_ok=True)
            runs.append_line(self.out / "metrics.jsonl", json.dumps(record))
        if self._tb is None:
            self._tb = self._open_tensorboard()
        if self._tb:
            with self._writing(self.out / "tensorboard"):
                self._tb.add(record)

    def _open_tensorboard(self):
        """The TensorBoard event writer, or False without the tensorboardX package."""
        try:
            import tensorboardX  # noqa: F401
        except ImportError:
            return False
        with self._writing(self.out / "tensorboard"):
            return runs.TensorBoardEvents(self.out / "tensorboard")

    @contextlib.contextmanager
    def _writing(self, what: Path):
        """Turn a failed write into the run folder into one line (runs.write_error)."""
        try:
            yield
        except OSError as exc:
            raise runs.write_error(self.out, exc, what) from None

    def _budget_left(self, started: float) -> bool:
        tc, st = self.tc, self.state
        if tc.max_steps is not None and st.step >= tc.max_steps:
            return False
        if self.total_steps is not None and st.step >= self.total_steps:
            return False
        if tc.minutes is not None and self._train_seconds(started) >= tc.minutes * 60:
            return False
        return True

    def _train_seconds(self, started: float) -> float:
        return self._seconds_before + (time.perf_counter() - started) - (self.state.eval_seconds - self._eval_before)

    def fit(self) -> dict:
        """Train until the budget is spent, early stopping fires or Ctrl-C; returns a summary."""
        try:
            with CtrlC() as ctrl_c:
                return self._fit(ctrl_c)
        except KeyboardInterrupt as exc:
            if isinstance(exc, TrainingInterrupted):
                raise
            # a second Ctrl-C (or one outside our handler) stops wherever it lands; a save it
            # cuts short leaves only a temporary folder, so the last complete checkpoint loads
            raise TrainingInterrupted(
                f"stopped at once by Ctrl-C at step {self.state.step}: {runs.intact(self.out)}"
                + (f"; continue with {runs.RESUME} {self.out}" if runs.last_checkpoint(self.out) else "")
            ) from None
        finally:
            if self._tb:
                with contextlib.suppress(OSError):
                    self._tb.close()
                self._tb = None

    def _fit(self, ctrl_c: CtrlC) -> dict:
        """The loop: a training step per batch, the periodic log and the periodic validation,
        until the budget is spent, a validation says stop, or Ctrl-C asks to."""
        from tqdm import tqdm

        tc, st = self.tc, self.state
        bar = tqdm(total=self.total_steps, initial=st.step, desc="train", unit="step",
                   disable=self.quiet or None, file=sys.stderr, dynamic_ncols=True)
        started = time.perf_counter()
        self._seconds_before, self._eval_before = st.train_seconds, st.eval_seconds
        window = _LogWindow(time.perf_counter())
        stop_reason = "budget"
        try:
            while self._budget_left(started) and not ctrl_c.requested:
                batch = self.batcher.next_batch()
                if batch is None:  # epoch finished
                    st.epoch += 1
                    continue
                window.add(self._train_step(batch), batch.n_tgt_tokens)
                bar.update(1)
                if self.threads is not None:
                    self.threads.update()  # give a core back when other work starts
                due_eval = bool(tc.eval_every) and st.step % tc.eval_every == 0
                if st.step % tc.log_every == 0 or due_eval:
                    window = self._log_window(window, bar)
                if due_eval:
                    st.train_seconds = self._train_seconds(started)
                    reason = self._validate_and_save()
                    if reason:
                        stop_reason = reason
                        break
        finally:
            bar.close()
        st.train_seconds = self._train_seconds(started)
        if window.steps:
            self._checked_loss(window.loss, window.steps)
        if ctrl_c.requested:
            raise self._save_interrupted()
        if st.history[-1:] == [] or st.history[-1]["step"] != st.step:
            self._validate_and_save()  # the final state is always checkpointed
        return self._summary(stop_reason)

    def _train_step(self, batch):
        """One step on a host batch: forward and backward, clip the global gradient norm
        (eq. 3.11-3.12), the optimizer's update, the schedule's step. Returns the loss, left
        on the device (reading it would synchronise; the log reads a window's sum at once)."""
        tc, st, model = self.tc, self.state, self.model
        loss = self._forward_backward(batch)
        if tc.clip:
            clip_grad_norm(model.grads.values(), tc.clip)
        self.opt.step(model.grads)
        if self.average is not None:
            self.average.update(model.params, st.step + 1)
        if self.schedule is not None and not isinstance(self.schedule, ReduceOnPlateau):
            self.schedule.step()  # a plateau schedule steps on validation instead
        st.step += 1
        st.target_tokens += batch.n_tgt_tokens
        return loss

    def _forward_backward(self, batch):
        """The model's loss on a host batch (left on the device) and its gradients in
        ``model.grads``: here an encoder-decoder's, teacher forcing as scheduled."""
        tc, model = self.tc, self.model
        tf = teacher_forcing_at(tc, self.state.step, self.total_steps)
        check_batch_ids(batch, model.cfg)  # on the host, so the step never synchronises
        arrays = batch_to_device(batch, model.dtype)
        if self.parallel:
            loss, _, _ = self.parallel.forward_backward(
                *arrays, rng=self.rng, train=True, teacher_forcing=tf, label_smoothing=tc.label_smoothing,
                ids_checked=True)
            return loss
        loss, _, _ = model.forward_backward(
            *arrays, rng=self.rng, train=True, teacher_forcing=tf, label_smoothing=tc.label_smoothing,
            real_rows=real_rows(arrays.tgt_mask), ids_checked=True)
        return loss

    def _log_window(self, window: _LogWindow, bar) -> _LogWindow:
        """The periodic log: the window's mean loss and tokens per second to the progress bar
        and metrics.jsonl. Returns the next, empty window."""
        st = self.state
        # every checkpoint is preceded by this check, so none can hold a NaN
        mean_loss = self._checked_loss(window.loss, window.steps)  # one sync per interval
        now = time.perf_counter()
        tps = window.tokens / max(now - window.start, 1e-9)
        bar.set_postfix(loss=f"{mean_loss:.3f}", tok_s=f"{tps:,.0f}")
        self.log({"step": st.step, "epoch": st.epoch, "loss": mean_loss, "lr": self.opt.lr, "tokens_per_s": tps})
        return _LogWindow(now)

    def _summary(self, stop_reason: str) -> dict:
        """What :meth:`fit` returns."""
        st = self.state
        return {
            "steps": st.step,
            "epochs": st.epoch,
            "train_seconds": round(st.train_seconds, 2),
            "tokens_per_s": round(st.target_tokens / max(st.train_seconds, 1e-9), 1),
            "best": st.best,
            "stop_reason": stop_reason,
            "run_dir": str(self.out),
        }

    def _save_interrupted(self) -> TrainingInterrupted:
        """After the first Ctrl-C: checkpoint the current step without validating (quick), and
        the exception that ends the run with what was saved and how to go on."""
        st = self.state
        name = f"step-{st.step:08d}"
        if not (st.history and st.history[-1]["step"] == st.step):  # not just saved by validation
            # the end of a resumed run reports the best: mark one if there is none yet
            self._checkpoint(name, best=not (self.out / "best.json").exists())
        return TrainingInterrupted(
            f"interrupted: saved {self.out / 'checkpoints' / name} (step {st.step}); "
            f"continue with {runs.RESUME} {self.out}")

    def _checkpoint(self, name: str, best: bool) -> None:
        """Save checkpoint ``name`` (atomically), point best.json at it if ``best``, and prune
        the old ones; a failed write ends with one line (runs.write_error)."""
        with self._writing(self.out / "checkpoints" / name):
            self.save(name)
            if best:
                ckpt.mark_best(self.out, name)
            ckpt.prune(self.out, keep=self.tc.keep_checkpoints)

    def _checked_loss(self, run_loss, run_n) -> float:
        mean_loss = B.to_float(run_loss) / run_n
        if not math.isfinite(mean_loss):
            raise NonFiniteLoss(self._non_finite_message(mean_loss))
        return mean_loss

    def _non_finite_message(self, loss: float) -> str:
        """What is left after a NaN: the last complete checkpoint (from before it), or nothing."""
        head = f"loss became {loss} by step {self.state.step}, so training stopped (--lr is {self.tc.lr:g})"
        last = runs.last_checkpoint(self.out)
        if last is None:
            reuse = f", adding --overwrite to reuse {self.out}" if runs.describe(self.out) else ""
            return f"{head}; nothing was saved: start again with a smaller --lr (or --clip){reuse}"
        # on NumPy a resumed run replays the same batches bit for bit, so it diverges again
        return (f"{head}; {last[0]} (step {last[1]}) is the last complete checkpoint and is intact: "
                f"use it as it is, resume from it with {runs.RESUME} {self.out} (same batches and "
                f"--lr, so it may diverge again), or start again with a smaller --lr and --overwrite")

    def _inner_schedule(self):
        s = self.schedule
        return getattr(s, "after", s)

    def _validate_and_save(self) -> str | None:
        """Validate, checkpoint, track the best; returns why training should stop, if it should:
        "target" (the metric reached ``tc.target``) or "early_stopping"."""
        st, tc = self.state, self.tc
        t0 = time.perf_counter()
        record = {"step": st.step, "epoch": st.epoch, "train_seconds": round(st.train_seconds, 2)}
        if self.evaluate is not None:
            with self.average.swapped_in(self.model.params) if self.average else contextlib.nullcontext():
                record.update({f"val_{k}": v for k, v in self.evaluate(self.model).items()})
        name = f"step-{st.step:08d}"
        metric = record.get(f"val_{tc.metric}")
        improved = False
        if metric is not None:
            # ties (e.g. exact match stuck at 100%) go to the lower validation loss
            key = (metric if tc.higher_is_better else -metric, -record.get("val_loss", 0.0))
            improved = st.best_key is None or tuple(key) > tuple(st.best_key)
            if improved:
                st.best, st.best_key, st.bad_evals = metric, list(key), 0
            else:
                st.bad_evals += 1
            inner = self._inner_schedule()
            if isinstance(inner, ReduceOnPlateau):
                inner.step(metric)
        st.history.append(record)
        self.log(record)
        self._checkpoint(name, best=improved or metric is None)
        st.eval_seconds += time.perf_counter() - t0
        if metric is not None and tc.target is not None and (
                metric >= tc.target if tc.higher_is_better else metric <= tc.target):
            return "target"
        if tc.patience is not None and st.bad_evals > tc.patience:
            return "early_stopping"
        return None


class LMTrainer(Trainer):
    """The same loop for a :class:`~minis2s.models.lm.LanguageModel`: a batch is an
    :class:`~minis2s.data.lm.LMBatch`, and a window that continues the previous one's rows
    starts from the state that one ended in (truncated BPTT).

    The carried state is saved with each checkpoint (``state_arrays.npz``), so a resumed run
    continues the stream from the state it stopped in: on NumPy it is bit-identical to an
    uninterrupted run, as for translation."""

    carried = None  # the final state of the last window, per layer, on the device

    def __init__(self, model, batcher, tc: TrainConfig, out_dir, **kwargs):
        if tc.shards > 1:  # a shard would need the state its rows ended the last window in
            raise UserError("--shards splits encoder-decoder batches; train a language model with --shards 1")
        super().__init__(model, batcher, tc, out_dir, **kwargs)

    def state_arrays(self) -> dict | None:
        arrays = super().state_arrays() or {}
        if self.carried is not None:
            arrays.update({f"{CARRIED}l{l}.{k}": s for l, layer in enumerate(self.carried) for k, s in enumerate(layer)})
        return arrays or None

    def restore(self, c) -> None:
        super().restore(c)
        carried = [k for k in c.state_arrays or {} if k.startswith(CARRIED)]
        if carried:
            layers = self.model.cfg.layers
            self.carried = [tuple(B.to_device(c.state_arrays[f"{CARRIED}l{l}.{k}"], self.model.dtype)
                                  for k in range(len(carried) // layers)) for l in range(layers)]

    def _forward_backward(self, batch):
        model = self.model
        B.check_token_ids(batch.x, model.cfg.vocab, "input ids")  # on the host: no device read
        B.check_token_ids(batch.y, model.cfg.vocab, "target ids")
        x, y, mask = B.to_device(batch.x), B.to_device(batch.y), B.to_device(batch.mask, model.dtype)
        state = self.carried if batch.carry else None
        (loss, _, _), self.carried = model.forward_backward(
            x, y, mask, state, rng=self.rng, train=True, label_smoothing=self.tc.label_smoothing,
            real_rows=real_rows(mask), ids_checked=True)
        return loss


# --------------------------------------------------------------------------- a run from its recipe


def build_run(task_cfg: dict, model_cfg: dict, train_cfg: TrainConfig, out, quiet=False, resume=False, bpe=None):
    """Data, model and trainer for a run; the same inputs rebuild the same run on resume.

    task_cfg: ``{"kind": "toy", "name", "seed", "data"}``, ``{"kind": "translation", "src",
    "tgt", "data_dir", "min_freq"}`` (and ``"bpe"``: merges to learn), a dialogue corpus's
    (:func:`minis2s.tasks.dialogue_task`) or a language model's (:func:`_build_lm_run`); model_cfg:
    :class:`Seq2SeqConfig` fields besides the vocabulary sizes; bpe: the learned
    :class:`~minis2s.data.BPE` of a resumed run, used instead of learning ``task_cfg["bpe"]`` merges
    again. Before anything large is made: a batch size above the number of training
    pairs is capped to it, and a training step that would not fit in the memory available is
    refused. Returns (task, trainer).
    """
    from .data import Batcher
    from .tasks import toy_evaluator, toy_task, translation_evaluator, translation_task

    if task_cfg["kind"] == "lm":
        return _build_lm_run(task_cfg, model_cfg, train_cfg, out, quiet)
    if task_cfg["kind"] == "dialogue":
        from .tasks import dialogue_evaluator, dialogue_task

        task = dialogue_task(task_cfg, log_progress=not quiet)
        evaluate = dialogue_evaluator(task, task.val)
    elif task_cfg["kind"] == "translation":
        log = None if quiet else (lambda msg: print(msg, file=sys.stderr))
        task = translation_task(task_cfg.get("data_dir"), task_cfg["src"], task_cfg["tgt"],
                                min_freq=task_cfg.get("min_freq", 2), log=log,
                                bpe=bpe if bpe is not None else task_cfg.get("bpe"),
                                shared=bool(model_cfg.get("share_vocab")))
        evaluate = translation_evaluator(task, task.val)
    else:
        # a model that reads sentences (eq. 15.6) gets its source laid out as their grid
        task = toy_task(task_cfg["name"], seed=task_cfg["seed"], sentence_words=model_cfg.get("sentence_words", 0),
                        **task_cfg["data"])
        evaluate = toy_evaluator(task, task.val)
    if train_cfg.batch_size > len(task.train):
        print(f"note: the batch size {train_cfg.batch_size} is more than the {len(task.train)} training "
              f"pairs; using batches of {len(task.train)}", file=sys.stderr)
        train_cfg = replace(train_cfg, batch_size=len(task.train))
    model_cfg = dict(model_cfg)
    arch = model_cfg.pop("arch", "recurrent")
    cfg = config_class(arch)(src_vocab=len(task.src_vocab), tgt_vocab=len(task.tgt_vocab), **model_cfg).validate()
    if arch == "transformer":
        check_positions(cfg, task.train)
    memory.check_step_fits(cfg, train_cfg.batch_size, task.train, train_cfg.optimizer,
                           B.float_dtype().itemsize, resume=resume)
    model = build_model(cfg, seed=train_cfg.seed)
    batcher = Batcher(task.train, train_cfg.batch_size, seed=train_cfg.seed)
    trainer = Trainer(
        model, batcher, train_cfg, out, vocab=task.vocab_json(),
        extra_config={"arch": arch, "task": task_cfg, "tokenizers": task.tokenizer_json()},
        evaluate=evaluate, quiet=quiet)
    return task, trainer


def check_positions(cfg, pairs) -> None:
    """A Transformer with a learned position table embeds at most ``max_len`` positions: refuse
    training pairs longer than that (with <eos> / <sos>) in one line, before any work."""
    if cfg.positional != "learned":
        return
    longest = max(max(len(s), len(t)) for s, t in pairs) + 1
    if longest > cfg.max_len:
        raise UserError(f"the longest training sentence has {longest} tokens with <eos>, more than the learned "
                        f"position table's --max-len {cfg.max_len}; raise --max-len or use --positional sinusoidal")


def _build_lm_run(task_cfg: dict, model_cfg: dict, train_cfg: TrainConfig, out, quiet=False):
    """:func:`build_run` for a language model. task_cfg: ``{"kind": "lm", "lang", "level",
    "data_dir", "min_freq", "batching": "stream" | "sentence", "bptt"}``."""
    from .data.lm import SentenceBatcher, StreamBatcher, join_stream
    from .models.lm import LanguageModel, LMConfig
    from .tasks import lm_evaluator, lm_task

    task = lm_task(task_cfg.get("data_dir"), task_cfg["lang"], task_cfg["level"], task_cfg["min_freq"])
    batching, bptt = task_cfg["batching"], task_cfg["bptt"]
    model = LanguageModel(LMConfig(vocab=len(task.vocab), **model_cfg).validate(), seed=train_cfg.seed)
    if batching == "stream":
        batcher = StreamBatcher(join_stream(task.train), train_cfg.batch_size, bptt)
    else:
        batcher = SentenceBatcher(task.train, min(train_cfg.batch_size, len(task.train)), seed=train_cfg.seed)
    trainer = LMTrainer(
        model, batcher, train_cfg, out, vocab=task.vocab_json(),
        extra_config={"task": task_cfg, "tokenizers": task.tokenizer_json()},
        evaluate=lm_evaluator(task, task.val, batching, train_cfg.batch_size, bptt), quiet=quiet)
    return task, trainer


def held_out_summary(model, task, run_dir) -> dict:
    """Held-out figures of the best checkpoint (exact match for toy tasks, BLEU for translation,
    perplexity, BLEU, ROUGE-L and distinct-n for dialogue)."""
    from .tasks import bleu, bleu_and_ppl, exact_match

    best = ckpt.load_checkpoint(run_dir, prefer="best")
    model.load_params(best.params)
    if best.config.get("task", {}).get("kind") == "lm":
        from .tasks import lm_loss_and_ppl

        t, n_rows = best.config["task"], best.config["train"]["batch_size"]
        figures = {}
        for split, sentences in (("val", task.val), ("test", task.test)):
            for k, v in lm_loss_and_ppl(model, task.vocab, sentences, t["batching"], n_rows, t["bptt"]).items():
                figures[f"{split}_{k}"] = v
    elif best.config.get("task", {}).get("kind") == "dialogue":
        from .tasks import dialogue_figures

        figures = {f"test_{k}": v for k, v in dialogue_figures(model, task, task.test).items()}
    elif task.name.startswith("multi30k"):
        figures = {f"test_{k}": v for k, v in bleu_and_ppl(model, task, task.test).items()}
        # the headline figure is beam 5 (issue 5); the search costs seconds, training an hour
        figures["test_bleu_beam5"] = bleu(model, task, task.test, beam=5)
    else:
        figures = exact_match(model, task, task.test)
    return {"checkpoint": str(best.path), "n_params": model.n_params,
            **{k: round(v, 6) for k, v in figures.items()}}
