"""Gradient-check cases for softmax cross-entropy: masks, ignore_index, label smoothing."""

from ..functional import losses as F
from . import case, lengths_mask

CE = (F.softmax_cross_entropy_forward, F.softmax_cross_entropy_backward)


def _make(rng, lengths, T, V=6, **static):
    Bn = len(lengths)
    targets = rng.integers(0, V, size=(Bn, T))
    return {"logits": rng.standard_normal((Bn, T, V)) * 2}, {
        "targets": targets, "mask": lengths_mask(lengths, T), **static}


@case("cross-entropy 3-D", *CE, wrt=("logits",))
def _plain(rng):
    targets = rng.integers(0, 5, size=(2, 3))
    return {"logits": rng.standard_normal((2, 3, 5)) * 2}, {"targets": targets}


@case("cross-entropy masked", *CE, wrt=("logits",))
def _masked(rng):
    return _make(rng, [4, 2, 3], 4)


@case("cross-entropy label smoothing", *CE, wrt=("logits",))
def _smoothed(rng):
    return _make(rng, [4, 1, 3], 4, label_smoothing=0.1)


@case("cross-entropy all-but-one padded", *CE, wrt=("logits",))
def _one_row(rng):
    return _make(rng, [3, 0, 0], 3, label_smoothing=0.2)


@case("cross-entropy B=1 T=1", *CE, wrt=("logits",))
def _b1(rng):
    return _make(rng, [1], 1)


@case("cross-entropy no real token", *CE, wrt=("logits",))
def _none_real(rng):
    return _make(rng, [0, 0], 2, label_smoothing=0.1)


@case("cross-entropy ignore_index 2-D", *CE, wrt=("logits",))
def _ignore(rng):
    targets = rng.integers(0, 5, size=(7,))
    targets[[1, 4]] = -100
    return {"logits": rng.standard_normal((7, 5))}, {"targets": targets, "ignore_index": -100}


@case("cross-entropy 2-D mask + ignore_index + smoothing", *CE, wrt=("logits",))
def _all_2d(rng):
    targets = rng.integers(0, 5, size=(6,))
    targets[2] = 0  # ignore_index may be a real id, such as <pad>
    mask = lengths_mask([4], 6)[0]
    return {"logits": rng.standard_normal((6, 5)) * 2}, {
        "targets": targets, "mask": mask, "ignore_index": 0, "label_smoothing": 0.15}
