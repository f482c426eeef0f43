"""The three recurrent cells behind one table (lessons 03-05, 08).

:data:`CELLS` says once what each kind of cell is: how many gate blocks its weights hold, the
parts of its state, and its step and sequence forward/backward pairs. The four functions below
run any kind by its name -- one step (the decoder), or a padded sequence (the encoder, and
each direction of :mod:`minis2s.functional.bidirectional`). They only route arguments; the
math is in :mod:`.rnn`, :mod:`.lstm` and :mod:`.gru`.

A state is a tuple: ``(h,)`` for the RNN and the GRU, ``(h, c)`` for the LSTM, each (B, H).
Weights are a dict ``{"Wx", "Wh", "bx", "bh"}`` in PyTorch's layout: weight_ih (G H, D),
weight_hh (G H, H), bias_ih and bias_hh (G H,), with G the number of gate blocks. A sequence
reads a *direction*: its initial state and weights under the names of the cell's sequence
forward, ``{"h0", ("c0",) "Wx", "Wh", "bx", "bh"}``.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

from . import gru, lstm, rnn


class Cell(NamedTuple):
    """One kind of recurrent cell.

    gates: G, the row blocks of Wx, Wh, bx and bh; states: the parts of its state, ("h",) or
    ("h", "c"); step_forward/step_backward: one time step; forward/backward: a padded sequence.
    """

    gates: int
    states: tuple
    step_forward: Callable
    step_backward: Callable
    forward: Callable
    backward: Callable

    @property
    def initial(self) -> tuple:
        """The initial state's names in a direction: ("h0",) or ("h0", "c0")."""
        return tuple(s + "0" for s in self.states)


CELLS = {
    "rnn": Cell(1, ("h",), rnn.rnn_step_forward, rnn.rnn_step_backward, rnn.rnn_forward, rnn.rnn_backward),
    "lstm": Cell(4, ("h", "c"), lstm.lstm_step_forward, lstm.lstm_step_backward, lstm.lstm_forward,
                 lstm.lstm_backward),
    "gru": Cell(3, ("h",), gru.gru_step_forward, gru.gru_step_backward, gru.gru_forward, gru.gru_backward),
}

#: every kind's weights: weight_ih, weight_hh, bias_ih, bias_hh in PyTorch's names
PARAM_NAMES = ("Wx", "Wh", "bx", "bh")


class SequenceCache(NamedTuple):
    """What :func:`sequence_forward` saves: the cell's name and that cell's own sequence cache
    (an :class:`~minis2s.functional.rnn.RNNCache`, ``LSTMCache`` or ``GRUCache``)."""

    cell: str
    inner: Any


def kind(cell: str) -> Cell:
    """The table's entry for ``cell``; a ValueError naming the kinds for anything else."""
    if cell not in CELLS:
        raise ValueError(f"cell: expected one of {', '.join(CELLS)}, got {cell!r}")
    return CELLS[cell]


# --------------------------------------------------------------------------- one step


def step_forward(cell, x, state, weights):
    """One step of any cell. x: (B, D); state: (h_prev,) or (h_prev, c_prev); weights: a dict.

    Returns (state (h,) or (h, c), the cell's step cache).
    """
    k = CELLS[cell]
    out, cache = k.step_forward(x, *state, **weights)
    return (out if len(k.states) > 1 else (out,)), cache  # the LSTM's step returns (h, c), the others h


def step_backward(cell, dstate, cache):
    """dstate: the gradient of the step's state, like ``state``.

    Returns (dx (B, D), dstate_prev like ``state``, dweights {"Wx", "Wh", "bx", "bh"}).
    """
    n = len(dstate)
    dx, *grads = CELLS[cell].step_backward(tuple(dstate) if n > 1 else dstate[0], cache)  # (dh, dc) or dh
    return dx, tuple(grads[:n]), dict(zip(PARAM_NAMES, grads[n:]))


# --------------------------------------------------------------------------- a sequence


def sequence_forward(cell, x, direction, mask=None, lengths=None):
    """Any cell over a padded batch. x: (B, T, D); direction: {"h0", ("c0",) "Wx", "Wh", "bx",
    "bh"}; mask: (B, T) or lengths: (B,), as the cells take them.

    Returns ((hs (B, T, H), final), SequenceCache), final the state after each row's last real
    token, (h,) or (h, c).
    """
    (hs, *final), cache = kind(cell).forward(x, **direction, mask=mask, lengths=lengths)
    return (hs, tuple(final)), SequenceCache(cell, cache)


def sequence_backward(dout, cache):
    """dout = (dhs, dfinal): dhs (B, T, H) or None; dfinal like ``final``, or None (entries may
    be None).

    Returns (dx (B, T, D), ddirection: the gradient of each entry of ``direction``).
    """
    dhs, dfinal = dout
    k = CELLS[cache.cell]
    if dfinal is None:
        dfinal = (None,) * len(k.states)
    dx, *grads = k.backward((dhs, *dfinal), cache.inner)
    return dx, dict(zip(k.initial + PARAM_NAMES, grads))
