"""One interface over the three recurrent cells, so encoder and decoder are written once.

A cell's state is a tuple: ``(h,)`` for RNN and GRU, ``(h, c)`` for LSTM. Its parameters are
a dict ``{"Wx", "Wh", "bx", "bh"}`` in PyTorch's layout (weight_ih, weight_hh, bias_ih,
bias_hh). These adapters only reorder arguments; the math lives in ``minis2s.functional``.
"""

from __future__ import annotations

from .. import backend as B
from ..functional import bidirectional as bi
from ..functional import gru, lstm, rnn

CELLS = ("rnn", "lstm", "gru")
GATES = {"rnn": 1, "lstm": 4, "gru": 3}
PARAM_NAMES = ("Wx", "Wh", "bx", "bh")


def n_states(cell: str) -> int:
    return 2 if cell == "lstm" else 1


def init_params(cell: str, D: int, H: int, generator, prefix: str) -> dict:
    """PyTorch's initialisation U(-1/sqrt(H), 1/sqrt(H)); the LSTM forget-gate bias starts at 1
    so early gradients pass through the cell state (Jozefowicz et al., 2015)."""
    G = GATES[cell]
    k = H**-0.5
    p = {
        f"{prefix}Wx": B.uniform_init(generator, (G * H, D), k),
        f"{prefix}Wh": B.uniform_init(generator, (G * H, H), k),
        f"{prefix}bx": B.uniform_init(generator, (G * H,), k),
        f"{prefix}bh": B.uniform_init(generator, (G * H,), k),
    }
    if cell == "lstm":
        p[f"{prefix}bx"][H : 2 * H] = 1.0
        p[f"{prefix}bh"][H : 2 * H] = 0.0
    return p


def take(params: dict, prefix: str) -> tuple:
    return tuple(params[prefix + n] for n in PARAM_NAMES)


def step_forward(cell, x, state, p):
    """One time step. x: (B, D); state: tuple of (B, H); p: (Wx, Wh, bx, bh).
    Returns (new_state, cache)."""
    if cell == "lstm":
        (h, c), cache = lstm.lstm_step_forward(x, *state, *p)
        return (h, c), cache
    f = rnn.rnn_step_forward if cell == "rnn" else gru.gru_step_forward
    h, cache = f(x, state[0], *p)
    return (h,), cache


def step_backward(cell, dstate, cache):
    """Returns (dx, dstate_prev tuple, dparams tuple (dWx, dWh, dbx, dbh))."""
    if cell == "lstm":
        dx, dh, dc, *dp = lstm.lstm_step_backward(tuple(dstate), cache)
        return dx, (dh, dc), tuple(dp)
    f = rnn.rnn_step_backward if cell == "rnn" else gru.gru_step_backward
    dx, dh, *dp = f(dstate[0], cache)
    return dx, (dh,), tuple(dp)


def sequence_forward(cell, x, state0, p, mask):
    """A whole sequence. x: (B, T, D); mask: (B, T). Returns ((hs, final_state), cache)."""
    return bi.sequence_forward(cell, x, state0, p, mask=mask)


def sequence_backward(cell, dhs, dfinal, cache):
    """Returns (dx, dstate0 tuple, dparams tuple). The cache knows its cell; ``cell`` is kept
    so that every adapter here takes the same leading argument."""
    return bi.sequence_backward((dhs, dfinal), cache)


def _direction(state0, p):
    d = {"h0": state0[0], "Wx": p[0], "Wh": p[1], "bx": p[2], "bh": p[3]}
    if len(state0) == 2:
        d["c0"] = state0[1]
    return d


def _undirection(d):
    state = (d["h0"], d["c0"]) if "c0" in d else (d["h0"],)
    return state, (d["Wx"], d["Wh"], d["bx"], d["bh"])


def bidirectional_sequence_forward(cell, x, state0_f, p_f, state0_b, p_b, mask):
    """Returns ((hs (B, T, 2H), final_f, final_b), cache)."""
    return bi.bidirectional_forward(cell, x, _direction(state0_f, p_f), _direction(state0_b, p_b), mask=mask)


def bidirectional_sequence_backward(dhs, dfinal_f, dfinal_b, cache):
    """Returns (dx, (dstate0_f, dparams_f), (dstate0_b, dparams_b))."""
    dx, dfwd, dbwd = bi.bidirectional_backward((dhs, dfinal_f, dfinal_b), cache)
    return dx, _undirection(dfwd), _undirection(dbwd)
