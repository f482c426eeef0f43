"""Gradient-check cases for affine maps and embeddings."""

from ..functional import linear as F
from . import Case


def _affine(x_shape, out):
    def make(rng):
        return {"x": rng.standard_normal(x_shape), "W": rng.standard_normal((out, x_shape[-1])),
                "b": rng.standard_normal(out)}, {}
    return make


def _embedding(rng):
    ids = rng.integers(0, 7, size=(3, 6))
    ids[1, 3:] = 0  # padding reads row 0, which must get no gradient
    ids[2, 1:] = 0
    return {"E": rng.standard_normal((7, 4))}, {"ids": ids, "padding_idx": 0}


AFFINE = (F.affine_forward, F.affine_backward)

CASES = [
    Case("affine 2-D", *AFFINE, _affine((4, 5), 3), wrt=("x", "W", "b")),
    Case("affine 3-D", *AFFINE, _affine((2, 3, 5), 4), wrt=("x", "W", "b")),
    Case("affine B=1 T=1", *AFFINE, _affine((1, 1, 5), 4), wrt=("x", "W", "b")),
    Case("embedding padding_idx", F.embedding_forward, F.embedding_backward, _embedding, wrt=("E",)),
]
