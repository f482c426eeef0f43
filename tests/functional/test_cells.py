"""The table of cell kinds and its dispatcher: any cell by its name, with exactly the numbers of
that cell's own functions, and gradients returned under the names of what went in."""

import numpy as np
import pytest

from minis2s import backend as B
from minis2s.functional import cells as C
from minis2s.functional import gru, lstm, rnn

Bn, T, D, H = 3, 4, 2, 3
# written out here, not read from the table, so that the table is checked against them
GATES = {"rnn": 1, "lstm": 4, "gru": 3}
STATES = {"rnn": ("h",), "lstm": ("h", "c"), "gru": ("h",)}
STEP = {"rnn": rnn.rnn_step_forward, "lstm": lstm.lstm_step_forward, "gru": gru.gru_step_forward}
SEQUENCE = {"rnn": rnn.rnn_forward, "lstm": lstm.lstm_forward, "gru": gru.gru_forward}
CELL_NAMES = list(GATES)


def _weights(rng, cell):
    G = GATES[cell] * H
    return {"Wx": rng.standard_normal((G, D)), "Wh": rng.standard_normal((G, H)),
            "bx": rng.standard_normal(G), "bh": rng.standard_normal(G)}


def _dev(arrays):
    return {k: B.to_device(v, "float64") for k, v in arrays.items()}


def test_the_table_holds_every_cell_with_its_gates_and_state():
    assert sorted(C.CELLS) == sorted(CELL_NAMES)
    for cell in CELL_NAMES:
        kind = C.CELLS[cell]
        assert (kind.gates, kind.states) == (GATES[cell], STATES[cell])
        assert kind.initial == tuple(s + "0" for s in STATES[cell])
    assert C.PARAM_NAMES == ("Wx", "Wh", "bx", "bh")


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_a_step_by_name_is_the_cells_own_step(cell, backend):
    rng = np.random.default_rng(0)
    w = _dev(_weights(rng, cell))
    x = B.to_device(rng.standard_normal((Bn, D)))
    state = tuple(B.to_device(rng.standard_normal((Bn, H))) for _ in STATES[cell])
    new_state, cache = C.step_forward(cell, x, state, w)
    own, _ = STEP[cell](x, *state, *(w[n] for n in C.PARAM_NAMES))
    own = own if cell == "lstm" else (own,)
    assert len(new_state) == len(STATES[cell])
    for ours, theirs in zip(new_state, own):
        np.testing.assert_array_equal(B.to_host(ours), B.to_host(theirs))

    dstate = tuple(B.to_device(rng.standard_normal((Bn, H))) for _ in STATES[cell])
    dx, dprev, dweights = C.step_backward(cell, dstate, cache)
    assert B.to_host(dx).shape == (Bn, D) and len(dprev) == len(STATES[cell])
    assert sorted(dweights) == sorted(C.PARAM_NAMES)
    assert B.to_host(dweights["Wx"]).shape == (GATES[cell] * H, D)


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_a_sequence_by_name_returns_its_gradients_under_the_directions_names(cell, backend):
    rng = np.random.default_rng(1)
    direction = _dev({**{s + "0": rng.standard_normal((Bn, H)) for s in STATES[cell]}, **_weights(rng, cell)})
    x = B.to_device(rng.standard_normal((Bn, T, D)))
    mask = B.to_device(np.arange(T)[None, :] < np.array([4, 2, 0])[:, None])
    (hs, final), cache = C.sequence_forward(cell, x, direction, mask=mask)
    own, _ = SEQUENCE[cell](x, **direction, mask=mask)
    np.testing.assert_array_equal(B.to_host(hs), B.to_host(own[0]))
    assert len(final) == len(STATES[cell])
    for ours, theirs in zip(final, own[1:]):
        np.testing.assert_array_equal(B.to_host(ours), B.to_host(theirs))

    dx, ddirection = C.sequence_backward((B.to_device(rng.standard_normal((Bn, T, H))), None), cache)
    assert sorted(ddirection) == sorted(direction)
    for name, g in ddirection.items():
        assert B.to_host(g).shape == B.to_host(direction[name]).shape, name
    assert B.to_host(dx).shape == (Bn, T, D)


def test_an_unknown_cell_is_refused_naming_the_known_ones():
    with pytest.raises(ValueError, match="rnn, lstm, gru, got 'transformer'"):
        C.sequence_forward("transformer", np.zeros((1, 1, 1)), {})
