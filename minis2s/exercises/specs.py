"""The seven exercises: what each one checks, on which inputs, and the lesson text its hints cite.

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
from ..functional import gru as F_gru
from ..functional import linear as F_linear
from ..functional import losses as F_losses
from ..functional import lstm as F_lstm
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
        return getattr(solutions, self.backward_name)

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
                "dlogits = (p - onehot(y)) m / N"),
    forward=F_losses.softmax_cross_entropy_forward,
    make=_ce_inputs,
    wrt=("logits",),
    formulas={"dlogits": "dlogits = dloss * (p - onehot(y)) * m / N per token (eq. 2.11)"},
    sizes=_ce_sizes,
    padded=lambda inputs, static: {
        "dlogits": B.host.broadcast_to((static["mask"] == 0)[..., None], inputs["logits"].shape)},
    padded_note="padding gets no gradient: multiply by the mask m (eq. 2.11)",
    stress=lambda rng: _ce_inputs(rng, offset=1000.0),
    stress_label="logits +-1000",
    stress_hint=OVERFLOW_HINT,
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
    first_step=("write eq. 3.7 first: loop t from T-1 down to 0, dh = dh + m_t dhs_t, and send m_t dh through a step backward"),
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


EXERCISES = {e.name: e for e in (AFFINE, SOFTMAX_CROSS_ENTROPY, RNN_STEP, RNN_SEQUENCE, LSTM_STEP,
                                 GRU_STEP, ADDITIVE_ATTENTION)}


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
