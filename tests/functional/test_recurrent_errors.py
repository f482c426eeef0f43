"""Bad arguments to the recurrent layers raise ShapeError naming the argument."""

import numpy as np
import pytest

from minis2s import backend as B
from minis2s.functional import bidirectional as bi
from minis2s.functional import gru, lstm, rnn
from minis2s.shapes import ShapeError

Bn, T, D, H = 2, 3, 4, 5
GATES = {"rnn": 1, "lstm": 4, "gru": 3}
SEQUENCE = {"rnn": rnn.rnn_forward, "lstm": lstm.lstm_forward, "gru": gru.gru_forward}
STEP = {"rnn": rnn.rnn_step_forward, "lstm": lstm.lstm_step_forward, "gru": gru.gru_step_forward}


def _args(cell, step=False, dtype="float64", **override):
    """Keyword arguments of a sequence (or step) forward with one entry replaced by a shape."""
    G = GATES[cell]
    h = "h_prev" if step else "h0"
    shapes = {"x": (Bn, D) if step else (Bn, T, D), h: (Bn, H)}
    if cell == "lstm":
        shapes["c_prev" if step else "c0"] = (Bn, H)
    shapes.update({"Wx": (G * H, D), "Wh": (G * H, H), "bx": (G * H,), "bh": (G * H,)})
    shapes.update(override)
    return {k: B.to_device(np.zeros(s), dtype) for k, s in shapes.items()}


BAD_SEQUENCE = [
    ("x", (Bn, D)),        # a step's input given to the sequence
    ("h0", (Bn + 1, H)),   # batch disagrees with x
    ("Wx", (H, D)),        # gate count missing (checked with Wh for the lstm and gru)
    ("Wh", (H, H + 1)),
    ("bx", (H + 1,)),
    ("bh", (2 * H,)),
]


@pytest.mark.parametrize("name, shape", BAD_SEQUENCE, ids=[n for n, _ in BAD_SEQUENCE])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_sequence_shape_errors_name_the_argument(cell, name, shape, backend):
    args = _args(cell, **{name: shape})
    if cell == "rnn" and name == "Wx":  # (H, D) is right for the rnn
        args["Wx"] = B.to_device(np.zeros((H, D + 1)))
    with pytest.raises(ShapeError, match=rf"^{name}:"):
        SEQUENCE[cell](**args)


def test_lstm_c0_and_mask_are_checked(backend):
    with pytest.raises(ShapeError, match=r"^c0:"):
        lstm.lstm_forward(**_args("lstm", c0=(Bn, H - 1)))
    with pytest.raises(ShapeError, match=r"^mask:"):
        lstm.lstm_forward(**_args("lstm"), mask=B.to_device(np.ones((Bn, T + 1))))
    with pytest.raises(ShapeError, match=r"^lengths:"):
        lstm.lstm_forward(**_args("lstm"), lengths=B.to_device(np.ones(Bn)))  # float lengths


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_step_shape_errors_name_the_argument(cell, backend):
    with pytest.raises(ShapeError, match=r"^h_prev:"):
        STEP[cell](**_args(cell, step=True, h_prev=(Bn, H + 1)))
    with pytest.raises(ShapeError, match=r"^x:"):
        STEP[cell](**_args(cell, step=True, x=(Bn, T, D)))


def test_mixed_float_dtypes_are_refused(backend):
    args = _args("gru")
    args["h0"] = B.to_device(np.zeros((Bn, H)), "float32")
    with pytest.raises(ShapeError, match="h0=float32"):
        gru.gru_forward(**args)


def test_gate_cores_check_their_arguments(backend):
    with pytest.raises(ShapeError, match=r"^a:"):
        lstm.lstm_gates_forward(B.to_device(np.zeros((Bn, 3 * H))), B.to_device(np.zeros((Bn, H))))
    with pytest.raises(ShapeError, match=r"^ah:"):
        gru.gru_gates_forward(B.to_device(np.zeros((Bn, 3 * H))), B.to_device(np.zeros((Bn, 2 * H))),
                              B.to_device(np.zeros((Bn, H))))


def test_bidirectional_refuses_missing_or_unexpected_keys_unknown_cells_and_mismatched_directions(backend):
    x = B.to_device(np.zeros((Bn, T, D)))
    lstm_dir = {k: v for k, v in _args("lstm").items() if k != "x"}
    without_c0 = {k: v for k, v in lstm_dir.items() if k != "c0"}
    with pytest.raises(ShapeError, match=r"^bwd: missing c0"):
        bi.bidirectional_forward("lstm", x, lstm_dir, without_c0)
    with pytest.raises(ShapeError, match=r"^fwd: unexpected c0 \(a gru direction holds h0, Wx"):
        bi.bidirectional_forward("gru", x, lstm_dir, lstm_dir)
    with pytest.raises(ValueError, match="cell"):
        bi.bidirectional_forward("transformer", x, lstm_dir, lstm_dir)
    small = {k: v for k, v in _args("lstm", Wh=(4 * (H - 1), H - 1)).items() if k != "x"}
    with pytest.raises(ShapeError, match=r"^bwd\['Wh'\]"):
        bi.bidirectional_forward("lstm", x, lstm_dir, small)
