"""Gradient-check cases for pointwise nonlinearities, (log-)softmax and dropout."""

from ..backend import DeviceRNG
from ..functional import activations as F
from ..functional import dropout as Fd
from . import Case


def _x(rng, shape=(3, 5)):
    return {"x": rng.standard_normal(shape) * 2}, {}


def _wide(rng):
    # both branches of the stable sigmoid, far into the tails
    return {"x": rng.standard_normal((2, 6)) * 8}, {}


def _x_3d(rng):
    return _x(rng, (2, 3, 4))


def _dropout_forward(x, p, seed):
    # a fresh generator per call: every forward of the check draws the same mask
    return Fd.dropout_forward(x, p, DeviceRNG(seed), train=True)


def _dropout(rng):
    return {"x": rng.standard_normal((4, 6))}, {"p": 0.4, "seed": 3}


def _dropout_eval(rng):
    return {"x": rng.standard_normal((3, 4))}, {"p": 0.5, "rng": None, "train": False}


CASES = [
    Case("tanh", F.tanh_forward, F.tanh_backward, _x, wrt=("x",)),
    Case("sigmoid", F.sigmoid_forward, F.sigmoid_backward, _x, wrt=("x",)),
    Case("softmax", F.softmax_forward, F.softmax_backward, _x, wrt=("x",)),
    Case("log_softmax", F.log_softmax_forward, F.log_softmax_backward, _x, wrt=("x",)),
    Case("sigmoid large |x|", F.sigmoid_forward, F.sigmoid_backward, _wide, wrt=("x",)),
    Case("softmax 3-D", F.softmax_forward, F.softmax_backward, _x_3d, wrt=("x",)),
    Case("log_softmax 3-D", F.log_softmax_forward, F.log_softmax_backward, _x_3d, wrt=("x",)),
    Case("dropout p=0.4", _dropout_forward, Fd.dropout_backward, _dropout, wrt=("x",)),
    Case("dropout eval (identity)", Fd.dropout_forward, Fd.dropout_backward, _dropout_eval, wrt=("x",)),
]
