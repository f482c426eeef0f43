"""Gradient-check cases for pointwise nonlinearities, (log-)softmax and dropout."""

from ..backend import DeviceRNG
from ..functional import activations as F
from ..functional import dropout as Fd
from . import case


def _x(rng, shape=(3, 5)):
    return {"x": rng.standard_normal(shape) * 2}, {}


case("tanh", F.tanh_forward, F.tanh_backward, wrt=("x",))(_x)
case("sigmoid", F.sigmoid_forward, F.sigmoid_backward, wrt=("x",))(_x)
case("softmax", F.softmax_forward, F.softmax_backward, wrt=("x",))(_x)
case("log_softmax", F.log_softmax_forward, F.log_softmax_backward, wrt=("x",))(_x)


@case("sigmoid large |x|", F.sigmoid_forward, F.sigmoid_backward, wrt=("x",))
def _sigmoid_wide(rng):
    # both branches of the stable sigmoid, far into the tails
    return {"x": rng.standard_normal((2, 6)) * 8}, {}


@case("softmax 3-D", F.softmax_forward, F.softmax_backward, wrt=("x",))
def _softmax_3d(rng):
    return _x(rng, (2, 3, 4))


@case("log_softmax 3-D", F.log_softmax_forward, F.log_softmax_backward, wrt=("x",))
def _log_softmax_3d(rng):
    return _x(rng, (2, 3, 4))


def _dropout_forward(x, p, seed):
    # a fresh generator per call: every forward of the check draws the same mask
    return Fd.dropout_forward(x, p, DeviceRNG(seed), train=True)


@case("dropout p=0.4", _dropout_forward, Fd.dropout_backward, wrt=("x",))
def _dropout(rng):
    return {"x": rng.standard_normal((4, 6))}, {"p": 0.4, "seed": 3}


@case("dropout eval (identity)", Fd.dropout_forward, Fd.dropout_backward, wrt=("x",))
def _dropout_eval(rng):
    return {"x": rng.standard_normal((3, 4))}, {"p": 0.5, "rng": None, "train": False}
