"""Gradient-check cases for affine maps and embeddings."""

from ..functional import linear as F
from . import case


@case("affine 2-D", F.affine_forward, F.affine_backward, wrt=("x", "W", "b"))
def _affine_2d(rng):
    return {"x": rng.standard_normal((4, 5)), "W": rng.standard_normal((3, 5)),
            "b": rng.standard_normal(3)}, {}


@case("affine 3-D", F.affine_forward, F.affine_backward, wrt=("x", "W", "b"))
def _affine_3d(rng):
    return {"x": rng.standard_normal((2, 3, 5)), "W": rng.standard_normal((4, 5)),
            "b": rng.standard_normal(4)}, {}


@case("affine B=1 T=1", F.affine_forward, F.affine_backward, wrt=("x", "W", "b"))
def _affine_b1(rng):
    return {"x": rng.standard_normal((1, 1, 5)), "W": rng.standard_normal((4, 5)),
            "b": rng.standard_normal(4)}, {}


@case("embedding padding_idx", F.embedding_forward, F.embedding_backward, wrt=("E",))
def _embedding(rng):
    ids = rng.integers(0, 7, size=(3, 6))
    ids[1, 3:] = 0  # padding reads row 0, which must get no gradient
    ids[2, 1:] = 0
    return {"E": rng.standard_normal((7, 4))}, {"ids": ids, "padding_idx": 0}
