"""Gradient-check cases for masked softmax and every attention kind.

Each attention case checks every input against random upstream gradients on both outputs,
the context and the weights, over padded source rows.
"""

from ..functional import attention as F
from . import Case, lengths_mask

Hq, A, Hk, Hv = 4, 3, 3, 2


def _common(rng, lengths, S):
    return {"q": rng.standard_normal((len(lengths), Hq)),
            "values": rng.standard_normal((len(lengths), S, Hv))}, {"mask": lengths_mask(lengths, S)}


def _additive(lengths, S):
    def make(rng):
        inputs, static = _common(rng, lengths, S)
        inputs.update(keys_proj=rng.standard_normal((len(lengths), S, A)),
                      Wq=rng.standard_normal((A, Hq)), v=rng.standard_normal(A))
        return inputs, static
    return make


def _dot(lengths, S, scaled):
    def make(rng):
        inputs, static = _common(rng, lengths, S)
        inputs["keys"] = rng.standard_normal((len(lengths), S, Hq))
        return inputs, {**static, "scaled": scaled}
    return make


def _general(lengths, S):
    def make(rng):
        inputs, static = _common(rng, lengths, S)
        inputs.update(keys=rng.standard_normal((len(lengths), S, Hk)), W=rng.standard_normal((Hq, Hk)))
        return inputs, static
    return make


def _masked_softmax(rng):
    # a full row, a padded row and a row with no real position at all
    return {"scores": rng.standard_normal((3, 5))}, {"mask": lengths_mask([5, 2, 0], 5)}


def _masked_softmax_b1(rng):
    return {"scores": rng.standard_normal((1, 1))}, {"mask": lengths_mask([1], 1)}


ADDITIVE = (F.additive_attention_forward, F.additive_attention_backward)
DOT = (F.dot_attention_forward, F.dot_attention_backward)
GENERAL = (F.general_attention_forward, F.general_attention_backward)
MASKED_SOFTMAX = (F.masked_softmax_forward, F.masked_softmax_backward)
ADDITIVE_WRT = ("q", "keys_proj", "values", "Wq", "v")
DOT_WRT = ("q", "keys", "values")
GENERAL_WRT = ("q", "keys", "values", "W")

# three situations per kind: source lengths (one per batch row) and S
CASES = [
    Case("additive attention padded", *ADDITIVE, _additive([4, 2, 3], 4), wrt=ADDITIVE_WRT),
    Case("dot attention padded", *DOT, _dot([4, 2, 3], 4, scaled=False), wrt=DOT_WRT),
    Case("scaled dot attention padded", *DOT, _dot([4, 2, 3], 4, scaled=True), wrt=DOT_WRT),
    Case("general attention padded", *GENERAL, _general([4, 2, 3], 4), wrt=GENERAL_WRT),
    Case("additive attention B=1 S=1", *ADDITIVE, _additive([1], 1), wrt=ADDITIVE_WRT),
    Case("dot attention B=1 S=1", *DOT, _dot([1], 1, scaled=False), wrt=DOT_WRT),
    Case("scaled dot attention B=1 S=1", *DOT, _dot([1], 1, scaled=True), wrt=DOT_WRT),
    Case("general attention B=1 S=1", *GENERAL, _general([1], 1), wrt=GENERAL_WRT),
    Case("additive attention all-but-one mostly padded", *ADDITIVE, _additive([4, 1, 1], 4), wrt=ADDITIVE_WRT),
    Case("dot attention all-but-one mostly padded", *DOT, _dot([4, 1, 1], 4, scaled=False), wrt=DOT_WRT),
    Case("scaled dot attention all-but-one mostly padded", *DOT, _dot([4, 1, 1], 4, scaled=True), wrt=DOT_WRT),
    Case("general attention all-but-one mostly padded", *GENERAL, _general([4, 1, 1], 4), wrt=GENERAL_WRT),
    Case("masked softmax", *MASKED_SOFTMAX, _masked_softmax, wrt=("scores",)),
    Case("masked softmax B=1 S=1", *MASKED_SOFTMAX, _masked_softmax_b1, wrt=("scores",)),
]
