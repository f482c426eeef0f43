"""The exercises: what each one checks, on which inputs, and the lesson text its hints cite.

An :class:`Exercise` pairs the library's forward (from :mod:`minis2s.functional`, whose named
cache the learner's backward reads) with the inputs the grader draws, the gradients the learner
returns, and the equations to point at when one is wrong:
a formula per gradient, gate row blocks for the gated cells, the paths of each upstream
gradient, and the gradients that witness the pre-activation gradient (``db = sum da``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, ClassVar

from .. import backend as B
from ..functional import attention as F_attention
from ..functional import bridge as F_bridge
from ..functional import gru as F_gru
from ..functional import layernorm as F_layernorm
from ..functional import linear as F_linear
from ..functional import losses as F_losses
from ..functional import lstm as F_lstm
from ..functional import multihead as F_multihead
from ..functional import positional as F_positional
from ..functional import rnn as F_rnn
from ..functional.cells import CELLS
from . import solutions, stubs
from .hints import OVERFLOW_HINT

BATCH = "B, the batch size"


@dataclass(frozen=True)
class Preact:
    """A pre-activation gradient (``da``): the gradients that reveal it, and those made from it."""

    name: str  # as the hint names it, with its equation
    witnesses: tuple  # gradients that are right only if it is right
    products: tuple  # gradients computed from it by one product or sum
    after: str = ""  # what the products share after it (said when it is right and they are not)


@dataclass(frozen=True)
class Exercise:
    """One backward function to write. ``make(rng) -> (inputs, static)``: host float64 inputs
    (differentiated, in the order of ``wrt``) and the rest (ids, masks)."""

    kind: ClassVar[str] = "gradient"  # graded by gradient check; "output": see .outputs

    name: str
    backward_name: str
    lesson: str
    equations: str
    first_step: str  # what to write first: the stub's NotImplementedError message
    forward: Callable  # the library's forward: (out, cache) with a named cache
    make: Callable
    wrt: tuple
    formulas: dict  # gradient name -> the equation it must satisfy
    sizes: Callable  # (inputs, static) -> {name of a size: value}, to name a constant factor
    upstream: tuple = ()  # names of the parts of dout, when the forward has several outputs
    paths: dict = field(default_factory=dict)  # part of dout -> where it flows (the equations)
    gates: tuple = ()  # gate row blocks of the gated gradients, in order
    gate_names: dict = field(default_factory=dict)
    gate_formulas: dict = field(default_factory=dict)
    gated: tuple = ()  # gradients split into len(gates) row blocks
    gate_patterns: dict = field(default_factory=dict)  # frozenset of wrong gates -> hint
    preacts: tuple = ()
    steps: dict = field(default_factory=dict)  # gradient -> the index its axis 1 runs over ("t")
    step_notes: dict = field(default_factory=dict)  # "first"/"last" -> why that slice is zero
    padded: Callable | None = None  # (inputs, static) -> {gradient: host bool mask of padding}
    padded_note: str = ""  # why those entries must be 0, with the equation
    stress: Callable | None = None  # rng -> (inputs, static): inputs a careless backward fails on
    stress_label: str = ""
    stress_hint: str = ""
    solution_name: str = ""  # the library backward it is graded against, when not backward_name

    @property
    def function_name(self) -> str:
        """The function the learner writes, named as in the stub."""
        return self.backward_name

    @property
    def grads(self) -> tuple:
        """Names of the returned gradients, in order: ``dx`` for input ``x``."""
        return tuple("d" + w for w in self.wrt)

    @property
    def solution(self) -> Callable:
        return getattr(solutions, self.solution_name or self.backward_name)

    @property
    def stub(self) -> Callable:
        return getattr(stubs, self.backward_name)

    @property
    def title(self) -> str:
        return f"{self.backward_name} (exercise {self.name!r}, lesson {self.lesson}, {self.equations})"


def _lengths_mask(lengths, T):
    np = B.host
    return (np.arange(T)[None, :] < np.asarray(lengths)[:, None]).astype("float64")


# --------------------------------------------------------------------------- lesson 02


def _affine_inputs(rng):
    return {"x": rng.standard_normal((4, 5)), "W": rng.standard_normal((3, 5)),
            "b": rng.standard_normal(3)}, {}


AFFINE = Exercise(
    name="affine",
    backward_name="affine_backward",
    lesson="02",
    equations="eq. 2.1-2.2",
    first_step="write eq. 2.2 first: dx = dy W, dW = dy^T x, db = the sum of dy over the rows",
    forward=F_linear.affine_forward,
    make=_affine_inputs,
    wrt=("x", "W", "b"),
    formulas={
        "dx": "dx = dy W (eq. 2.2)",
        "dW": "dW = dy^T x, shape (H, D) like W (eq. 2.2)",
        "db": "db = the sum of dy over the batch rows (eq. 2.2)",
    },
    sizes=lambda inputs, static: {BATCH: inputs["x"].shape[0]},
)


def _embedding_inputs(rng):
    """Ids with repeats (1 read three times, 4 twice), the padding id 0 ending two rows, and a
    token (6) that no position reads."""
    ids = B.host.asarray([[1, 4, 1, 2], [3, 1, 4, 0], [5, 0, 0, 0]])
    return {"E": rng.standard_normal((7, 3))}, {"ids": ids, "padding_idx": 0}


def _embedding_padded(inputs, static):
    np = B.host
    pad = np.arange(inputs["E"].shape[0]) == static["padding_idx"]
    return {"dE": np.broadcast_to(pad[:, None], inputs["E"].shape)}


EMBEDDING = Exercise(
    name="embedding",
    backward_name="embedding_backward",
    lesson="02",
    equations="eq. 2.3-2.4",
    first_step=("write eq. 2.4 first: dE = zeros (V, D), add every position's dout into the row of "
                "its id (B.scatter_add or np.add.at), then set the padding row to 0"),
    forward=F_linear.embedding_forward,
    make=_embedding_inputs,
    wrt=("E",),
    formulas={"dE": "dE_v = the sum of dout over every position whose id is v, shape (V, D) like E, "
                    "and 0 for the padding row (eq. 2.4)"},
    sizes=lambda inputs, static: {BATCH: static["ids"].shape[0], "T, the number of positions":
                                  static["ids"].shape[1], "B*T, every position": static["ids"].size},
    padded=_embedding_padded,
    padded_note="the padding row is read as a constant zero vector, so dE[padding_idx] = 0 (eq. 2.4)",
)


def _ce_inputs(rng, offset=0.0):
    Bn, T, V = 3, 4, 5
    logits = 1.5 * rng.standard_normal((Bn, T, V))
    if offset:
        logits += offset * rng.choice([-1.0, 1.0], size=(Bn, T, 1))
    static = {"targets": rng.integers(0, V, size=(Bn, T)), "mask": _lengths_mask([4, 2, 1], T)}
    return {"logits": logits}, static


def _ce_sizes(inputs, static):
    Bn, T, _ = inputs["logits"].shape
    return {"N, the number of real tokens": int(static["mask"].sum()),
            "B*T, every position, padding included": Bn * T, BATCH: Bn, "T, the target length": T}


SOFTMAX_CROSS_ENTROPY = Exercise(
    name="softmax_cross_entropy",
    backward_name="softmax_cross_entropy_backward",
    lesson="02",
    equations="eq. 2.5, 2.9-2.11",
    first_step=("write eq. 2.5 (p = softmax(logits), max-shifted) and eq. 2.11: "
                "dlogits = (p - onehot(y)) M / N"),
    forward=F_losses.softmax_cross_entropy_forward,
    make=_ce_inputs,
    wrt=("logits",),
    formulas={"dlogits": "dlogits = dloss * (p - onehot(y)) * M / N per token (eq. 2.11)"},
    sizes=_ce_sizes,
    padded=lambda inputs, static: {
        "dlogits": B.host.broadcast_to((static["mask"] == 0)[..., None], inputs["logits"].shape)},
    padded_note="padding gets no gradient: multiply by the mask M (eq. 2.11)",
    stress=lambda rng: _ce_inputs(rng, offset=1000.0),
    stress_label="logits +-1000",
    stress_hint=OVERFLOW_HINT,
)


def _ls_ce_inputs(rng, offset=0.0):
    inputs, static = _ce_inputs(rng, offset)
    return inputs, {**static, "label_smoothing": 0.1}


LABEL_SMOOTHED_CROSS_ENTROPY = Exercise(
    name="label_smoothed_cross_entropy",
    backward_name="label_smoothed_cross_entropy_backward",
    lesson="02",
    equations="eq. 2.9-2.11",
    first_step=("write eq. 2.9 first: q = (1 - eps) onehot(y) + eps / V, then eq. 2.11: "
                "dlogits = (p - q) M / N"),
    forward=F_losses.softmax_cross_entropy_forward,
    make=_ls_ce_inputs,
    wrt=("logits",),
    formulas={"dlogits": "dlogits = dloss * (p - q) * M / N per token, with "
                         "q = (1 - eps) onehot(y) + eps / V (eq. 2.9, 2.11)"},
    sizes=_ce_sizes,
    padded=lambda inputs, static: {
        "dlogits": B.host.broadcast_to((static["mask"] == 0)[..., None], inputs["logits"].shape)},
    padded_note="padding gets no gradient: multiply by the mask M (eq. 2.11)",
    stress=lambda rng: _ls_ce_inputs(rng, offset=1000.0),
    stress_label="logits +-1000",
    stress_hint=OVERFLOW_HINT,
    solution_name="softmax_cross_entropy_backward",  # one backward for every eps
)


# --------------------------------------------------------------------------- lessons 03-05


def _cell_inputs(rng, cell, Bn=3, D=4, H=5):
    """One step's inputs for ``cell``: x, h_prev (, c_prev) and its weights, G H rows for G gates."""
    kind = CELLS[cell]
    G = kind.gates * H
    inputs = {"x": rng.standard_normal((Bn, D))}
    inputs.update({s + "_prev": rng.standard_normal((Bn, H)) for s in kind.states})
    inputs.update({"Wx": 0.5 * rng.standard_normal((G, D)), "Wh": 0.5 * rng.standard_normal((G, H)),
                   "bx": 0.3 * rng.standard_normal(G), "bh": 0.3 * rng.standard_normal(G)})
    return inputs, {}


#: What the products of a cell's pre-activation gradient share after it (``after`` above).
_SUMS = ("the bias gradients are sums of {da} over the batch rows, the weight gradients sums of "
         "its rows' outer products, with no mean and no extra factor")


def _cell_sizes(inputs, static):
    return {BATCH: inputs["x"].shape[0]}


RNN_STEP = Exercise(
    name="rnn_step",
    backward_name="rnn_step_backward",
    lesson="03",
    equations="eq. 3.4-3.6",
    first_step="write eq. 3.4 first: da = dh * (1 - h^2)",
    forward=F_rnn.rnn_step_forward,
    make=lambda rng: _cell_inputs(rng, "rnn"),
    wrt=("x", "h_prev", "Wx", "Wh", "bx", "bh"),
    formulas={
        "dx": "dx = da Wx (eq. 3.5)",
        "dh_prev": "dh_prev = da Wh (eq. 3.5)",
        "dWx": "dWx = da^T x, shape (H, D) like Wx (eq. 3.6)",
        "dWh": "dWh = da^T h_prev, not h_prev^T da (eq. 3.6)",
        "dbx": "dbx = the sum of da over the batch rows (eq. 3.6)",
        "dbh": "dbh = the sum of da over the batch rows (eq. 3.6)",
    },
    sizes=_cell_sizes,
    preacts=(Preact("da = dh * (1 - h^2) (eq. 3.4)", ("dx", "dh_prev", "dbx", "dbh"),
                    ("dx", "dh_prev", "dWx", "dWh", "dbx", "dbh"), _SUMS.format(da="da")),),
)


def _sequence_inputs(rng, Bn=3, T=5, D=4, H=5):
    """A batch of lengths 5, 2 and 0: a full row, a padded one and one that is all padding."""
    cell, _ = _cell_inputs(rng, "rnn", Bn=Bn, D=D, H=H)
    inputs = {"x": rng.standard_normal((Bn, T, D)), "h0": cell["h_prev"],
               **{k: cell[k] for k in ("Wx", "Wh", "bx", "bh")}}
    return inputs, {"mask": _lengths_mask([T, 2, 0], T)}


RNN_SEQUENCE = Exercise(
    name="rnn_sequence",
    backward_name="rnn_backward",
    lesson="03",
    equations="eq. 3.7-3.9",
    first_step=("write eq. 3.7 first: loop t from T-1 down to 0, dh = dh + M_t dhs_t, and send M_t dh through a step backward"),
    forward=F_rnn.rnn_forward,
    make=_sequence_inputs,
    wrt=("x", "h0", "Wx", "Wh", "bx", "bh"),
    formulas={
        "dx": "dx_t = da_t Wx at each real step, 0 at padding (eq. 3.5, 3.9)",
        "dh0": "dh0 is the dh carried out of the first step: da_0 Wh, or what padding passes on "
               "unchanged (eq. 3.5, 3.9)",
        "dWx": "dWx = the sum over the steps of da_t^T x_t (eq. 3.6)",
        "dWh": "dWh = the sum over the steps of da_t^T h_(t-1) (eq. 3.6)",
        "dbx": "dbx = the sum of da_t over the batch rows and the steps (eq. 3.6)",
        "dbh": "dbh = the sum of da_t over the batch rows and the steps (eq. 3.6)",
    },
    sizes=lambda inputs, static: {BATCH: inputs["x"].shape[0],
                                  "T, the number of steps": inputs["x"].shape[1]},
    upstream=("dhs", "dh_last"),
    paths={
        "dhs": "dhs_t joins the carried gradient at step t, masked, since a padded output is the "
               "constant 0 (eq. 3.7, 3.8)",
        "dh_last": "dh_last, the gradient of the final state, starts the loop at t = T-1 and passes "
                   "unchanged through a row's padded steps (eq. 3.7, 3.9)",
    },
    padded=lambda inputs, static: {
        "dx": B.host.broadcast_to((static["mask"] == 0)[..., None], inputs["x"].shape)},
    padded_note="a padded step's tanh gets no gradient, so dx is 0 there (eq. 3.9)",
    steps={"dx": "t"},
    step_notes={
        "first": "your loop does not reach t = 0 -- it must run t = T-1 down to 0 inclusive, "
                 "range(T - 1, -1, -1) (eq. 3.7)",
        "last": "your loop does not start at t = T-1, the last step (eq. 3.7)",
    },
)

LSTM_STEP = Exercise(
    name="lstm_step",
    backward_name="lstm_step_backward",
    lesson="04",
    equations="eq. 4.7-4.10",
    first_step="write eq. 4.7 first: dc_total = dc + dh * o * (1 - tanh(c)^2)",
    forward=F_lstm.lstm_step_forward,
    make=lambda rng: _cell_inputs(rng, "lstm"),
    wrt=("x", "h_prev", "c_prev", "Wx", "Wh", "bx", "bh"),
    formulas={
        "dx": "dx = da Wx (eq. 4.10)",
        "dh_prev": "dh_prev = da Wh (eq. 4.10)",
        "dc_prev": "dc_prev = dc_total * f (eq. 4.8), with dc_total from eq. 4.7",
        "dWx": "dWx = da^T x, shape (4H, D) like Wx (eq. 4.10)",
        "dWh": "dWh = da^T h_prev, shape (4H, H) like Wh (eq. 4.10)",
        "dbx": "dbx = the sum of da over the batch rows (eq. 4.10)",
        "dbh": "dbh = the sum of da over the batch rows (eq. 4.10)",
    },
    sizes=_cell_sizes,
    upstream=("dh", "dc"),
    paths={
        "dh": "dh reaches o through do = dh * tanh(c) (eq. 4.8) and c through "
              "dh * o * (1 - tanh(c)^2) (eq. 4.7)",
        "dc": "dc adds straight into dc_total = dc + dh * o * (1 - tanh(c)^2) (eq. 4.7)",
    },
    gates=("i", "f", "g", "o"),
    gate_names={"i": "input-gate", "f": "forget-gate", "g": "candidate (g)", "o": "output-gate"},
    gate_formulas={
        "i": "eq. 4.8-4.9: di = dc_total * g, da_i = di * i * (1 - i)",
        "f": "eq. 4.8-4.9: df = dc_total * c_prev, da_f = df * f * (1 - f)",
        "g": "eq. 4.8-4.9: dg = dc_total * i, da_g = dg * (1 - g^2)",
        "o": "eq. 4.8-4.9: do = dh * tanh(c), da_o = do * o * (1 - o)",
    },
    gated=("dWx", "dWh", "dbx", "dbh"),
    gate_patterns={
        frozenset("ifg"): "i, f and g are wrong and o is right: the three share dc_total, "
                          "so check eq. 4.7: dc_total = dc + dh * o * (1 - tanh(c)^2)",
        frozenset("ifo"): "the sigmoid gates i, f, o are wrong and the tanh gate g is right: "
                          "check sigmoid' = s * (1 - s) (eq. 4.9)",
        frozenset("ifgo"): "every gate block is wrong: check what they share -- dh and dc_total "
                           "(eq. 4.7) -- and that da stacks the blocks in the order i, f, g, o",
    },
    preacts=(Preact("da = [da_i, da_f, da_g, da_o] (eq. 4.7-4.9)", ("dx", "dh_prev", "dbx", "dbh"),
                    ("dx", "dh_prev", "dWx", "dWh", "dbx", "dbh"), _SUMS.format(da="da")),),
)

def _gated_sequence_inputs(rng, cell, Bn=3, T=5, D=4, H=5):
    """A batch of lengths 5, 2 and 0, as for rnn_sequence, with the cell's initial state
    (h0, and c0 for the LSTM)."""
    step, _ = _cell_inputs(rng, cell, Bn=Bn, D=D, H=H)
    inputs = {"x": rng.standard_normal((Bn, T, D)),
              **{s + "0": step[s + "_prev"] for s in CELLS[cell].states},
              **{k: step[k] for k in ("Wx", "Wh", "bx", "bh")}}
    return inputs, {"mask": _lengths_mask([T, 2, 0], T)}


def _sequence_sizes(inputs, static):
    return {BATCH: inputs["x"].shape[0], "T, the number of steps": inputs["x"].shape[1]}


def _dx_padded(inputs, static):
    return {"dx": B.host.broadcast_to((static["mask"] == 0)[..., None], inputs["x"].shape)}


#: Why a whole first or last time slice of dx is zero: the BPTT loop's bounds (eq. 3.7).
_LOOP_NOTES = {
    "first": "your loop does not reach t = 0 -- it must run t = T-1 down to 0 inclusive, "
             "range(T - 1, -1, -1) (eq. 3.7)",
    "last": "your loop does not start at t = T-1, the last step (eq. 3.7)",
}

LSTM_SEQUENCE = Exercise(
    name="lstm_sequence",
    backward_name="lstm_backward",
    lesson="04",
    equations="eq. 4.7-4.11",
    first_step=("write eq. 4.11 first: loop t from T-1 down to 0, dh = dh + M_t dhs_t, send "
                "(M_t dh, M_t dc) through a step backward, and pass (dh, dc) unchanged where M_t = 0"),
    forward=F_lstm.lstm_forward,
    make=lambda rng: _gated_sequence_inputs(rng, "lstm"),
    wrt=("x", "h0", "c0", "Wx", "Wh", "bx", "bh"),
    formulas={
        "dx": "dx_t = da_t Wx at each real step, 0 at padding (eq. 4.10, 4.11)",
        "dh0": "dh0 is the dh carried out of the first step: da_0 Wh, or what padding passes on "
               "unchanged (eq. 4.10, 4.11)",
        "dc0": "dc0 is the dc carried out of the first step: dc_total * f, or what padding passes "
               "on unchanged (eq. 4.8, 4.11)",
        "dWx": "dWx = the sum over the steps of da_t^T x_t (eq. 4.10)",
        "dWh": "dWh = the sum over the steps of da_t^T h_(t-1) (eq. 4.10)",
        "dbx": "dbx = the sum of da_t over the batch rows and the steps (eq. 4.10)",
        "dbh": "dbh = the sum of da_t over the batch rows and the steps (eq. 4.10)",
    },
    sizes=_sequence_sizes,
    upstream=("dhs", "dh_last", "dc_last"),
    paths={
        "dhs": "dhs_t joins the carried dh at step t, masked, since a padded output is the "
               "constant 0 (eq. 3.7, 4.11)",
        "dh_last": "dh_last, the gradient of the final h, starts the loop at t = T-1 and passes "
                   "unchanged through a row's padded steps to its last real step (eq. 4.11)",
        "dc_last": "dc_last, the gradient of the final c, starts the loop at t = T-1 and passes "
                   "unchanged through a row's padded steps to its last real step (eq. 4.11)",
    },
    padded=_dx_padded,
    padded_note="a padded step's cell gets no gradient, so dx is 0 there (eq. 4.11)",
    steps={"dx": "t"},
    step_notes=_LOOP_NOTES,
)

GRU_STEP = Exercise(
    name="gru_step",
    backward_name="gru_step_backward",
    lesson="05",
    equations="eq. 5.5-5.8",
    first_step="write eq. 5.5 first: dn = dh * (1 - z), dz = dh * (h_prev - n)",
    forward=F_gru.gru_step_forward,
    make=lambda rng: _cell_inputs(rng, "gru"),
    wrt=("x", "h_prev", "Wx", "Wh", "bx", "bh"),
    formulas={
        "dx": "dx = dax Wx (eq. 5.8)",
        "dh_prev": "dh_prev = dh * z + dah Wh: the direct path plus the recurrent one (eq. 5.8)",
        "dWx": "dWx = dax^T x, shape (3H, D) like Wx (eq. 5.8)",
        "dWh": "dWh = dah^T h_prev, shape (3H, H) like Wh (eq. 5.8)",
        "dbx": "dbx = the sum of dax over the batch rows (eq. 5.8)",
        "dbh": "dbh = the sum of dah over the batch rows (eq. 5.8)",
    },
    sizes=_cell_sizes,
    gates=("r", "z", "n"),
    gate_names={"r": "reset-gate", "z": "update-gate", "n": "candidate (n)"},
    gate_formulas={
        "r": "eq. 5.6-5.7: dr = dax_n * ah_n, da_r = dr * r * (1 - r)",
        "z": "eq. 5.5, 5.7: dz = dh * (h_prev - n), da_z = dz * z * (1 - z)",
        "n": "eq. 5.5-5.6: dax_n = dh * (1 - z) * (1 - n^2), and dah_n = dax_n * r",
    },
    gated=("dWx", "dWh", "dbx", "dbh"),
    gate_patterns={
        frozenset("rz"): "the sigmoid gates r and z are wrong and n is right: "
                         "check sigmoid' = s * (1 - s) (eq. 5.7)",
        frozenset("zn"): "z and n are wrong: check eq. 5.4-5.5, h = (1 - z) * n + z * h_prev, "
                         "so dn = dh * (1 - z) and dz = dh * (h_prev - n)",
        frozenset("rzn"): "every gate block is wrong: check what they share -- dh and (1 - z) "
                          "in eq. 5.5 -- and that the blocks are stacked in the order r, z, n",
    },
    preacts=(
        Preact("dax, the gradient of x Wx^T + bx (eq. 5.5-5.7)", ("dx", "dbx"), ("dx", "dWx", "dbx"),
               _SUMS.format(da="dax")),
        Preact("dah, the gradient of h_prev Wh^T + bh (eq. 5.6-5.7)", ("dbh",),
               ("dh_prev", "dWh", "dbh"), _SUMS.format(da="dah")),
    ),
)


GRU_SEQUENCE = Exercise(
    name="gru_sequence",
    backward_name="gru_backward",
    lesson="05",
    equations="eq. 5.5-5.9",
    first_step=("write eq. 5.9 first: loop t from T-1 down to 0, dh = dh + M_t dhs_t, send M_t dh "
                "through a step backward, and pass dh unchanged where M_t = 0"),
    forward=F_gru.gru_forward,
    make=lambda rng: _gated_sequence_inputs(rng, "gru"),
    wrt=("x", "h0", "Wx", "Wh", "bx", "bh"),
    formulas={
        "dx": "dx_t = dax_t Wx at each real step, 0 at padding (eq. 5.8, 5.9)",
        "dh0": "dh0 is the dh carried out of the first step: dh * z + dah_0 Wh, or what padding "
               "passes on unchanged (eq. 5.8, 5.9)",
        "dWx": "dWx = the sum over the steps of dax_t^T x_t (eq. 5.8)",
        "dWh": "dWh = the sum over the steps of dah_t^T h_(t-1) (eq. 5.8)",
        "dbx": "dbx = the sum of dax_t over the batch rows and the steps (eq. 5.8)",
        "dbh": "dbh = the sum of dah_t over the batch rows and the steps (eq. 5.8)",
    },
    sizes=_sequence_sizes,
    upstream=("dhs", "dh_last"),
    paths={
        "dhs": "dhs_t joins the carried dh at step t, masked, since a padded output is the "
               "constant 0 (eq. 3.7, 5.9)",
        "dh_last": "dh_last, the gradient of the final state, starts the loop at t = T-1 and "
                   "passes unchanged through a row's padded steps to its last real step (eq. 5.9)",
    },
    padded=_dx_padded,
    padded_note="a padded step's cell gets no gradient, so dx is 0 there (eq. 5.9)",
    steps={"dx": "t"},
    step_notes=_LOOP_NOTES,
)


# --------------------------------------------------------------------------- lesson 08


def _attention_inputs(rng, Bn=3, S=4, A=5, Hq=6, Hv=2):
    return {"q": rng.standard_normal((Bn, Hq)), "keys_proj": 0.8 * rng.standard_normal((Bn, S, A)),
            "values": rng.standard_normal((Bn, S, Hv)), "Wq": 0.5 * rng.standard_normal((A, Hq)),
            "v": rng.standard_normal(A)}, {"mask": _lengths_mask([4, 2, 1], S)}


def _attention_padded(inputs, static):
    pad = (static["mask"] == 0)[..., None]
    return {"dkeys_proj": B.host.broadcast_to(pad, inputs["keys_proj"].shape),
            "dvalues": B.host.broadcast_to(pad, inputs["values"].shape)}


ADDITIVE_ATTENTION = Exercise(
    name="additive_attention",
    backward_name="additive_attention_backward",
    lesson="08",
    equations="eq. 8.6-8.8",
    first_step="write eq. 8.6 first: dalpha_s = v_s . dcontext + dweights_s, dvalues_s = alpha_s dcontext",
    forward=F_attention.additive_attention_forward,
    make=_attention_inputs,
    wrt=("q", "keys_proj", "values", "Wq", "v"),
    formulas={
        "dq": "dq = (sum over s of du_s) Wq (eq. 8.8)",
        "dkeys_proj": "dkeys_proj = du = de_s v * (1 - t^2) (eq. 8.8)",
        "dvalues": "dvalues_s = alpha_s dcontext (eq. 8.6)",
        "dWq": "dWq = (sum over s of du_s)^T q, shape (A, Hq) like Wq (eq. 8.8)",
        "dv": "dv = the sum over b and s of de_s t_s (eq. 8.8)",
    },
    sizes=lambda inputs, static: {BATCH: inputs["q"].shape[0],
                                  "S, the source length": inputs["keys_proj"].shape[1]},
    upstream=("dcontext", "dweights"),
    paths={
        "dcontext": "dcontext reaches the weights through dalpha_s = v_s . dcontext and the values "
                    "through dvalues_s = alpha_s dcontext (eq. 8.6)",
        "dweights": "the forward returns (context, weights), so dweights, the upstream gradient of "
                    "the weights, adds to dalpha_s before the softmax backward (eq. 8.6-8.7)",
    },
    preacts=(
        Preact("de, the gradient of the scores (eq. 8.7)", ("dv",), ("dkeys_proj",)),
        Preact("du = dkeys_proj, the gradient at tanh's input (eq. 8.8)", ("dkeys_proj",),
               ("dq", "dWq"), "dq and dWq both start from sum over s of du_s: q Wq^T is added at "
               "every source position s, so the query's gradient is summed (not averaged) over "
               "the S positions"),
    ),
    padded=_attention_padded,
    padded_note="a padded position has weight alpha_s = 0, so de_s, du_s and dvalues_s are 0 there "
                "(eq. 8.6-8.7)",
)


# --------------------------------------------------------------------------- lesson 09


def _bridge_inputs(rng, Bn=3, Henc=6, H=4):
    """h = [h_fwd; h_bwd], a bidirectional encoder's final state (Henc = 2 * 3), to H = 4."""
    return {"h": rng.standard_normal((Bn, Henc)), "W": 0.5 * rng.standard_normal((H, Henc)),
            "b": 0.3 * rng.standard_normal(H)}, {}


BRIDGE_STATE = Exercise(
    name="bridge_state",
    backward_name="bridge_state_backward",
    lesson="09",
    equations="eq. 9.5",
    first_step="write eq. 3.3 first: da = ds0 * (1 - s0^2); then eq. 2.2: dh = da W, dW = da^T h, "
               "db = the sum of da over the rows",
    forward=F_bridge.bridge_state_forward,
    make=_bridge_inputs,
    wrt=("h", "W", "b"),
    formulas={
        "dh": "dh = da W with da = ds0 * (1 - s0^2) (eq. 3.3, 9.5)",
        "dW": "dW = da^T h, shape (H, Henc) like W (eq. 2.2, 9.5)",
        "db": "db = the sum of da over the batch rows (eq. 2.2, 9.5)",
    },
    sizes=lambda inputs, static: {BATCH: inputs["h"].shape[0]},
    preacts=(Preact("da = ds0 * (1 - s0^2) (eq. 3.3)", ("dh", "db"), ("dh", "dW", "db"),
                    "the bias gradient is the sum of da over the batch rows, the weight gradient "
                    "the sum of its rows' outer products, with no mean and no extra factor"),),
)


# --------------------------------------------------------------------------- lesson 12


def _heads_inputs(rng, Bn=3, T=4, D=6):
    """Causal self-attention projections over a padded batch of lengths 4, 2 and 3, two heads."""
    lengths = _lengths_mask([4, 2, 3], T)
    return ({"q": rng.standard_normal((Bn, T, D)), "k": rng.standard_normal((Bn, T, D)),
             "v": rng.standard_normal((Bn, T, D))},
            {"heads": 2, "key_mask": lengths, "query_mask": lengths, "causal": True})


def _heads_padded(inputs, static):
    np = B.host
    query = np.broadcast_to((static["query_mask"] == 0)[..., None], inputs["q"].shape)
    key = np.broadcast_to((static["key_mask"] == 0)[..., None], inputs["k"].shape)
    return {"dq": query, "dk": key, "dv": key}


ATTENTION_HEADS = Exercise(
    name="attention_heads",
    backward_name="attention_heads_backward",
    lesson="12",
    equations="eq. 12.2-12.6",
    first_step=("write eq. 12.5 first: split dC into heads like the forward split q, then "
                "dalpha = dC V^T and dV = alpha^T dC"),
    forward=F_multihead.attention_heads_forward,
    make=_heads_inputs,
    wrt=("q", "k", "v"),
    formulas={
        "dq": "dQ_j = dl K_j / sqrt(d), heads merged back to (B, T, h d) (eq. 12.6)",
        "dk": "dK_j = dl^T Q_j / sqrt(d), heads merged back to (B, S, h d) (eq. 12.6)",
        "dv": "dV_j = alpha^T dC_j, heads merged back to (B, S, h d) (eq. 12.5)",
    },
    sizes=lambda inputs, static: {BATCH: inputs["q"].shape[0],
                                  "sqrt(d), d = D / h the head size":
                                      (inputs["q"].shape[2] / static["heads"]) ** 0.5},
    upstream=("dC", "dweights"),
    paths={
        "dC": "dC, split into heads, reaches the weights through dalpha = dC V^T and the values "
              "through dV = alpha^T dC (eq. 12.5)",
        "dweights": "the forward returns (C, weights), so dweights adds to dalpha before the "
                    "softmax backward (eq. 12.5-12.6)",
    },
    preacts=(Preact("dl, the gradient of the scaled scores (eq. 12.6)", ("dq", "dk"), ("dq", "dk")),),
    padded=_heads_padded,
    padded_note="a padded key has weight 0 from every query and a padded query sees no key, so "
                "their rows of dq, dk and dv are 0 (eq. 12.5-12.6)",
)


def _layernorm_inputs(rng, Bn=3, T=4, D=5):
    return {"x": 2.0 * rng.standard_normal((Bn, T, D)) + 1.0, "gamma": 1.0 + 0.5 * rng.standard_normal(D),
            "beta": rng.standard_normal(D)}, {}


LAYERNORM = Exercise(
    name="layernorm",
    backward_name="layernorm_backward",
    lesson="12",
    equations="eq. 12.7-12.8",
    first_step="write eq. 12.8 first: dxhat = dy * gamma, then dx = (dxhat - mean(dxhat) - "
               "xhat * mean(dxhat * xhat)) / sd, means over the D features",
    forward=F_layernorm.layernorm_forward,
    make=_layernorm_inputs,
    wrt=("x", "gamma", "beta"),
    formulas={
        "dx": "dx = (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) * rstd, dxhat = dy * gamma, "
              "means over the last axis (eq. 12.8)",
        "dgamma": "dgamma = the sum of dy * xhat over every row, batch and time (eq. 12.8)",
        "dbeta": "dbeta = the sum of dy over every row, batch and time (eq. 12.8)",
    },
    sizes=lambda inputs, static: {BATCH: inputs["x"].shape[0], "D, the features": inputs["x"].shape[-1],
                                  "B*T, the rows": inputs["x"].shape[0] * inputs["x"].shape[1]},
)


# --------------------------------------------------------------------------- lesson 15


def _sentence_inputs(rng, D=4):
    """Three stories of up to 3 sentences of 3 word slots: short sentences (padded slots), a
    word read twice in one sentence, and empty sentences ending two stories."""
    ids = B.host.asarray([[[1, 4, 1], [2, 5, 0], [3, 0, 0]],
                          [[5, 2, 6], [0, 0, 0], [0, 0, 0]],
                          [[4, 4, 0], [6, 1, 2], [0, 0, 0]]])
    return ({"E": rng.standard_normal((7, D)), "L": 0.5 * rng.standard_normal((3, D)),
             "P": rng.standard_normal((4, D))}, {"ids": ids, "padding_idx": 0})


def _sentence_padded(inputs, static):
    np = B.host
    pad = np.arange(inputs["E"].shape[0]) == static["padding_idx"]
    unread = np.arange(inputs["P"].shape[0]) >= static["ids"].shape[1]
    return {"dE": np.broadcast_to(pad[:, None], inputs["E"].shape),
            "dP": np.broadcast_to(unread[:, None], inputs["P"].shape)}


SENTENCE_EMBEDDING = Exercise(
    name="sentence_embedding",
    backward_name="sentence_position_backward",
    lesson="15",
    equations="eq. 15.6",
    first_step=("write eq. 15.6's backward first: every word slot j of sentence s gets sqrt(D) do_s, "
                "then multiply by (1 + L_j) for dE and by E[x_sj] for dL"),
    forward=F_positional.sentence_position_forward,
    make=_sentence_inputs,
    wrt=("E", "L", "P"),
    formulas={
        "dE": "dE_v = sqrt(D) times the sum of (1 + L_j) * do_s over every word slot j of every sentence "
              "s holding v, 0 for the padding row (eq. 15.6)",
        "dL": "dL_j = sqrt(D) times the sum over stories and sentences of E[x_sj] * do_s (eq. 15.6)",
        "dP": "dP_s = the sum over stories of do_s, taken only where sentence s holds a word (eq. 15.6)",
    },
    sizes=lambda inputs, static: {BATCH: static["ids"].shape[0], "sqrt(D)": inputs["E"].shape[1] ** 0.5,
                                  "J, the word slots": static["ids"].shape[2]},
    padded=_sentence_padded,
    padded_note="the padding row is read as a constant zero vector, so dE[padding_idx] = 0; rows of P "
                "past the longest story are never read, so they get 0 (eq. 15.6)",
)


EXERCISES = {e.name: e for e in (AFFINE, EMBEDDING, SOFTMAX_CROSS_ENTROPY, LABEL_SMOOTHED_CROSS_ENTROPY,
                                 RNN_STEP, RNN_SEQUENCE, LSTM_STEP, LSTM_SEQUENCE, GRU_STEP,
                                 GRU_SEQUENCE, ADDITIVE_ATTENTION, BRIDGE_STATE, ATTENTION_HEADS,
                                 LAYERNORM, SENTENCE_EMBEDDING)}


# the exercises checked by their output (forward passes, algorithms) share the table, each
# after the gradient exercises of its lesson: list_exercises() stays in lesson order
from .outputs import OUTPUT_EXERCISES  # here, not at the top: the gradient table comes first

EXERCISES = dict(sorted({**EXERCISES, **OUTPUT_EXERCISES}.items(), key=lambda item: item[1].lesson))


def find(name: str) -> Exercise:
    """The exercise called ``name`` (``"lstm_step"``) or whose function it is (``"lstm_step_backward"``)."""
    for e in EXERCISES.values():
        if name in (e.name, e.function_name):
            return e
    raise ValueError(f"unknown exercise {name!r}; the exercises are: {', '.join(EXERCISES)}")


def infer(function_name: str) -> Exercise | None:
    """The exercise a function is for, from its name: ``my_lstm_step_backward`` -> lstm_step."""
    candidates = [e for e in EXERCISES.values()
                  if e.function_name in function_name or e.name in function_name]
    return max(candidates, key=lambda e: len(e.name), default=None)
