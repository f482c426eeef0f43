"""Gradient-check cases for masked softmax and the attention kinds (upstream on context and weights)."""

from ..functional import attention as F
from . import case, lengths_mask


def _common(rng, lengths, S, Hq=4, K=3, Hv=2):
    Bn = len(lengths)
    return {
        "q": rng.standard_normal((Bn, Hq)),
        "values": rng.standard_normal((Bn, S, Hv)),
    }, {"mask": lengths_mask(lengths, S)}


SIZES = {"padded": ([4, 2, 3], 4), "B=1 S=1": ([1], 1), "all-but-one padded": ([4, 1, 1], 4)}

for label, (lengths, S) in SIZES.items():

    @case(f"additive attention {label}", F.additive_attention_forward, F.additive_attention_backward,
          wrt=("q", "keys_proj", "values", "Wq", "v"))
    def _additive(rng, lengths=lengths, S=S):
        inputs, static = _common(rng, lengths, S)
        inputs.update(keys_proj=rng.standard_normal((len(lengths), S, 3)),
                      Wq=rng.standard_normal((3, 4)), v=rng.standard_normal(3))
        return inputs, static

    @case(f"dot attention {label}", F.dot_attention_forward, F.dot_attention_backward,
          wrt=("q", "keys", "values"))
    def _dot(rng, lengths=lengths, S=S):
        inputs, static = _common(rng, lengths, S)
        inputs["keys"] = rng.standard_normal((len(lengths), S, 4))
        return inputs, static

    @case(f"scaled dot attention {label}", F.dot_attention_forward, F.dot_attention_backward,
          wrt=("q", "keys", "values"))
    def _scaled(rng, lengths=lengths, S=S):
        inputs, static = _dot(rng)
        static["scaled"] = True
        return inputs, static

    @case(f"general attention {label}", F.general_attention_forward, F.general_attention_backward,
          wrt=("q", "keys", "values", "W"))
    def _general(rng, lengths=lengths, S=S):
        inputs, static = _common(rng, lengths, S)
        inputs.update(keys=rng.standard_normal((len(lengths), S, 3)), W=rng.standard_normal((4, 3)))
        return inputs, static


@case("masked softmax", F.masked_softmax_forward, F.masked_softmax_backward, wrt=("scores",))
def _masked_softmax(rng):
    return {"scores": rng.standard_normal((3, 5))}, {"mask": lengths_mask([5, 2, 0], 5)}
