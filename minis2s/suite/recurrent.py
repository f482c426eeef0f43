"""Gradient-check cases for the recurrent layers: RNN, LSTM, GRU and bidirectional.

Every case takes the upstream gradient on all outputs at once (hs and the final states), so
the state gradient that flows back in time and the one that enters from the end are both
checked. Sizes stay tiny (B <= 3, T <= 5, D, H <= 4, D != H so a transposed weight fails).
"""

from ..functional import bidirectional as bi
from ..functional import gru, lstm
from ..functional.cells import CELLS, PARAM_NAMES
from . import Case, lengths_mask


def _params(rng, cell, D, H, suffix=""):
    G = CELLS[cell].gates
    return {f"Wx{suffix}": 0.6 * rng.standard_normal((G * H, D)),
            f"Wh{suffix}": 0.6 * rng.standard_normal((G * H, H)),
            f"bx{suffix}": 0.3 * rng.standard_normal(G * H),
            f"bh{suffix}": 0.3 * rng.standard_normal(G * H)}


def _sequence(rng, cell, Bn, T, D, H, suffix=""):
    inputs = {f"{s}{suffix}": rng.standard_normal((Bn, H)) for s in CELLS[cell].initial}
    inputs.update(_params(rng, cell, D, H, suffix))
    return inputs


# --------------------------------------------------------------------------- pointwise cores


def _lstm_gates(rng):
    Bn, H = 3, 3
    G = CELLS["lstm"].gates
    return {"a": 2 * rng.standard_normal((Bn, G * H)), "c_prev": rng.standard_normal((Bn, H))}, {}


def _gru_gates(rng):
    Bn, H = 3, 3
    G = CELLS["gru"].gates
    return {"ax": 2 * rng.standard_normal((Bn, G * H)), "ah": 2 * rng.standard_normal((Bn, G * H)),
            "h_prev": rng.standard_normal((Bn, H))}, {}


# --------------------------------------------------------------------------- single steps


def _step_case(name, cell, Bn):
    """A case for one step of ``cell`` on a batch of Bn, D=4, H=3."""
    k = CELLS[cell]
    prev = tuple(s + "_prev" for s in k.states)  # the step's state arguments: h_prev (, c_prev)

    def make(rng):
        D, H = 4, 3
        inputs = {"x": rng.standard_normal((Bn, D))}
        inputs.update({a: rng.standard_normal((Bn, H)) for a in prev})
        inputs.update(_params(rng, cell, D, H))
        return inputs, {}

    return Case(name, k.step_forward, k.step_backward, make, wrt=("x",) + prev + PARAM_NAMES)


# --------------------------------------------------------------------------- sequences

# name: (B, T, lengths or None, given as "mask" or "lengths")
_SITUATIONS = {
    "padded mask": (3, 5, [5, 2, 4], "mask"),
    "padded lengths": (3, 4, [1, 4, 3], "lengths"),
    "one real row": (3, 5, [5, 0, 1], "lengths"),
    "B=1 T=1": (1, 1, None, None),
    "unpadded": (2, 3, None, None),
}


def _static(lengths, T, given):
    if given == "mask":
        return {"mask": lengths_mask(lengths, T)}
    if given == "lengths":
        return {"lengths": lengths_mask(lengths, T).sum(axis=1).astype("int64")}
    return {}


def _sequence_case(name, cell, situation):
    """A case for ``cell`` over a sequence in one of the _SITUATIONS, D=3, H=2."""
    k = CELLS[cell]
    Bn, T, lengths, given = _SITUATIONS[situation]

    def make(rng):
        D, H = 3, 2
        inputs = {"x": rng.standard_normal((Bn, T, D))}
        inputs.update(_sequence(rng, cell, Bn, T, D, H))
        return inputs, _static(lengths, T, given)

    return Case(name, k.forward, k.backward, make, wrt=("x",) + k.initial + PARAM_NAMES)


# --------------------------------------------------------------------------- bidirectional


def _bidirectional(cell):
    """bidirectional_forward/backward with flat arguments and outputs, as gradcheck wants them:
    inputs x, h0_f, (c0_f,) Wx_f, ..., h0_b, ...; outputs hs, final_f..., final_b..."""
    names = CELLS[cell].initial + PARAM_NAMES

    def forward(x, mask=None, lengths=None, **arrays):
        fwd = {n: arrays[n + "_f"] for n in names}
        bwd = {n: arrays[n + "_b"] for n in names}
        (hs, final_f, final_b), cache = bi.bidirectional_forward(cell, x, fwd, bwd, mask=mask, lengths=lengths)
        return (hs, *final_f, *final_b), cache

    def backward(dout, cache):
        k = len(CELLS[cell].states)
        dhs, dfinal_f, dfinal_b = dout[0], dout[1 : 1 + k], dout[1 + k :]
        dx, dfwd, dbwd = bi.bidirectional_backward((dhs, dfinal_f, dfinal_b), cache)
        return (dx, *(dfwd[n] for n in names), *(dbwd[n] for n in names))

    wrt = ("x",) + tuple(n + "_f" for n in names) + tuple(n + "_b" for n in names)
    return forward, backward, wrt


def _bidirectional_case(name, cell, situation):
    """A case for a bidirectional ``cell`` layer in one of the _SITUATIONS, D=3, H=2."""
    forward, backward, wrt = _bidirectional(cell)
    Bn, T, lengths, given = _SITUATIONS[situation]

    def make(rng):
        D, H = 3, 2
        inputs = {"x": rng.standard_normal((Bn, T, D))}
        inputs.update(_sequence(rng, cell, Bn, T, D, H, "_f"))
        inputs.update(_sequence(rng, cell, Bn, T, D, H, "_b"))
        return inputs, _static(lengths, T, given)

    return Case(name, forward, backward, make, wrt=wrt, max_coords=60)


CASES = [
    Case("lstm gates", lstm.lstm_gates_forward, lstm.lstm_gates_backward, _lstm_gates, wrt=("a", "c_prev")),
    Case("gru gates", gru.gru_gates_forward, gru.gru_gates_backward, _gru_gates, wrt=("ax", "ah", "h_prev")),
    _step_case("rnn step B=3", "rnn", 3),
    _step_case("rnn step B=1", "rnn", 1),
    _sequence_case("rnn sequence padded mask", "rnn", "padded mask"),
    _sequence_case("rnn sequence padded lengths", "rnn", "padded lengths"),
    _sequence_case("rnn sequence one real row", "rnn", "one real row"),
    _sequence_case("rnn sequence B=1 T=1", "rnn", "B=1 T=1"),
    _sequence_case("rnn sequence unpadded", "rnn", "unpadded"),
    _bidirectional_case("bidirectional rnn padded mask", "rnn", "padded mask"),
    _bidirectional_case("bidirectional rnn one real row", "rnn", "one real row"),
    _bidirectional_case("bidirectional rnn B=1 T=1", "rnn", "B=1 T=1"),
    _step_case("lstm step B=3", "lstm", 3),
    _step_case("lstm step B=1", "lstm", 1),
    _sequence_case("lstm sequence padded mask", "lstm", "padded mask"),
    _sequence_case("lstm sequence padded lengths", "lstm", "padded lengths"),
    _sequence_case("lstm sequence one real row", "lstm", "one real row"),
    _sequence_case("lstm sequence B=1 T=1", "lstm", "B=1 T=1"),
    _sequence_case("lstm sequence unpadded", "lstm", "unpadded"),
    _bidirectional_case("bidirectional lstm padded mask", "lstm", "padded mask"),
    _bidirectional_case("bidirectional lstm one real row", "lstm", "one real row"),
    _bidirectional_case("bidirectional lstm B=1 T=1", "lstm", "B=1 T=1"),
    _step_case("gru step B=3", "gru", 3),
    _step_case("gru step B=1", "gru", 1),
    _sequence_case("gru sequence padded mask", "gru", "padded mask"),
    _sequence_case("gru sequence padded lengths", "gru", "padded lengths"),
    _sequence_case("gru sequence one real row", "gru", "one real row"),
    _sequence_case("gru sequence B=1 T=1", "gru", "B=1 T=1"),
    _sequence_case("gru sequence unpadded", "gru", "unpadded"),
    _bidirectional_case("bidirectional gru padded mask", "gru", "padded mask"),
    _bidirectional_case("bidirectional gru one real row", "gru", "one real row"),
    _bidirectional_case("bidirectional gru B=1 T=1", "gru", "B=1 T=1"),
]
