"""Gradient-check cases for softmax cross-entropy: masks, ignore_index, label smoothing."""

from ..functional import losses as F
from . import Case, lengths_mask

CE = (F.softmax_cross_entropy_forward, F.softmax_cross_entropy_backward)


def _padded(lengths, T, V=6, **static):
    """(B, T, V) logits whose rows hold ``lengths`` real targets; ``static`` adds keywords."""

    def make(rng):
        Bn = len(lengths)
        targets = rng.integers(0, V, size=(Bn, T))
        return {"logits": rng.standard_normal((Bn, T, V)) * 2}, {
            "targets": targets, "mask": lengths_mask(lengths, T), **static}

    return make


def _plain(rng):
    targets = rng.integers(0, 5, size=(2, 3))
    return {"logits": rng.standard_normal((2, 3, 5)) * 2}, {"targets": targets}


def _ignore(rng):
    targets = rng.integers(0, 5, size=(7,))
    targets[[1, 4]] = -100
    return {"logits": rng.standard_normal((7, 5))}, {"targets": targets, "ignore_index": -100}


def _all_2d(rng):
    targets = rng.integers(0, 5, size=(6,))
    targets[2] = 0  # ignore_index may be a real id, such as <pad>
    mask = lengths_mask([4], 6)[0]
    return {"logits": rng.standard_normal((6, 5)) * 2}, {
        "targets": targets, "mask": mask, "ignore_index": 0, "label_smoothing": 0.15}


CASES = [
    Case("cross-entropy 3-D", *CE, _plain, wrt=("logits",)),
    Case("cross-entropy masked", *CE, _padded([4, 2, 3], 4), wrt=("logits",)),
    Case("cross-entropy label smoothing", *CE, _padded([4, 1, 3], 4, label_smoothing=0.1), wrt=("logits",)),
    Case("cross-entropy all-but-one padded", *CE, _padded([3, 0, 0], 3, label_smoothing=0.2), wrt=("logits",)),
    Case("cross-entropy B=1 T=1", *CE, _padded([1], 1), wrt=("logits",)),
    Case("cross-entropy no real token", *CE, _padded([0, 0], 2, label_smoothing=0.1), wrt=("logits",)),
    Case("cross-entropy ignore_index 2-D", *CE, _ignore, wrt=("logits",)),
    Case("cross-entropy 2-D mask + ignore_index + smoothing", *CE, _all_2d, wrt=("logits",)),
]
