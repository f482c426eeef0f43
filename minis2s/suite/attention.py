"""Gradient-check cases for masked softmax and every attention kind.

Each attention case checks every input against random upstream gradients on both outputs,
the context and the weights, over padded source rows.
"""

from ..functional import attention as F
from . import case, lengths_mask

Hq, A, Hk, Hv = 4, 3, 3, 2

#: label -> source lengths (one per batch row) and S
SIZES = {
    "padded": ([4, 2, 3], 4),
    "B=1 S=1": ([1], 1),
    "all-but-one mostly padded": ([4, 1, 1], 4),
}


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


for label, (lengths, S) in SIZES.items():
    case(f"additive attention {label}", F.additive_attention_forward, F.additive_attention_backward,
         wrt=("q", "keys_proj", "values", "Wq", "v"))(_additive(lengths, S))
    case(f"dot attention {label}", F.dot_attention_forward, F.dot_attention_backward,
         wrt=("q", "keys", "values"))(_dot(lengths, S, scaled=False))
    case(f"scaled dot attention {label}", F.dot_attention_forward, F.dot_attention_backward,
         wrt=("q", "keys", "values"))(_dot(lengths, S, scaled=True))
    case(f"general attention {label}", F.general_attention_forward, F.general_attention_backward,
         wrt=("q", "keys", "values", "W"))(_general(lengths, S))


@case("masked softmax", F.masked_softmax_forward, F.masked_softmax_backward, wrt=("scores",))
def _masked_softmax(rng):
    # a full row, a padded row and a row with no real position at all
    return {"scores": rng.standard_normal((3, 5))}, {"mask": lengths_mask([5, 2, 0], 5)}


@case("masked softmax B=1 S=1", F.masked_softmax_forward, F.masked_softmax_backward, wrt=("scores",))
def _masked_softmax_b1(rng):
    return {"scores": rng.standard_normal((1, 1))}, {"mask": lengths_mask([1], 1)}
