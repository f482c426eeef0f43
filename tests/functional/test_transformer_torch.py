"""Layer norm, multi-head attention and the Transformer layers agree with torch.nn in float64:
outputs, attention weights and every gradient, to 1e-10.

torch packs the three input projections of ``nn.MultiheadAttention`` as ``in_proj_weight``
(3D, D) = [Wq; Wk; Wv] and ``in_proj_bias`` (3D,); ours are separate (D, D) and (D,) arrays.
Our masks mark real positions with 1; torch's ``key_padding_mask`` marks padding with True.
Our layers output exactly 0 at padded positions, torch's output whatever the padding computes:
outputs are compared at real positions, with the upstream gradient 0 at padded ones (where
both sides then give exactly zero gradient).
"""

import numpy as np
import pytest

from minis2s import backend as B
from minis2s.functional import activations as Fa
from minis2s.functional import layernorm as Fl
from minis2s.functional import multihead as Fm
from minis2s.functional import transformer as Ft
from minis2s.functional.transformer import MHA_PARAMS

torch = pytest.importorskip("torch")

ATOL = 1e-10
Bn, T, S, D, HEADS, F = 3, 5, 4, 8, 2, 7
T_LENGTHS = [5, 3, 1]
S_LENGTHS = [4, 2, 3]


def _dev(a):
    return B.to_device(np.asarray(a), "float64")


def _mask(lengths, n):
    return (np.arange(n)[None, :] < np.asarray(lengths)[:, None]).astype("float64")


def _pad_mask(lengths, n):
    """torch's key_padding_mask: True at padding."""
    return torch.from_numpy(_mask(lengths, n) == 0)


def _causal(n):
    """torch's attn_mask: True where query t may not see key s, i.e. s > t."""
    return torch.triu(torch.ones(n, n, dtype=torch.bool), diagonal=1)


def _close(ours, theirs, what):
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else theirs
    np.testing.assert_allclose(B.to_host(ours), theirs, rtol=0, atol=ATOL, err_msg=what)


def _leaf(a):
    return torch.tensor(a, dtype=torch.float64, requires_grad=True)


def _mha_arrays(rng, prefix=""):
    arrays = {}
    for n in MHA_PARAMS:
        shape = (D, D) if n[0] == "W" else (D,)
        arrays[prefix + n] = rng.standard_normal(shape) / (D**0.5 if n[0] == "W" else 3)
    return arrays


def _load_mha(module, arrays, prefix=""):
    """Copy our Wq..bo into a torch MultiheadAttention, packing the input projections."""
    a = {n: torch.from_numpy(arrays[prefix + n]) for n in MHA_PARAMS}
    with torch.no_grad():
        module.in_proj_weight.copy_(torch.cat([a["Wq"], a["Wk"], a["Wv"]]))
        module.in_proj_bias.copy_(torch.cat([a["bq"], a["bk"], a["bv"]]))
        module.out_proj.weight.copy_(a["Wo"])
        module.out_proj.bias.copy_(a["bo"])


def _mha_grads(module, prefix=""):
    """torch's gradients under our names, the packed ones split into (D, D) and (D,) pieces."""
    W, b = module.in_proj_weight.grad, module.in_proj_bias.grad
    grads = {}
    for i, n in enumerate("qkv"):
        grads[prefix + "W" + n] = W[i * D:(i + 1) * D]
        grads[prefix + "b" + n] = b[i * D:(i + 1) * D]
    grads[prefix + "Wo"], grads[prefix + "bo"] = module.out_proj.weight.grad, module.out_proj.bias.grad
    return grads


# ----------------------------------------------------------------------------- layer norm, activations


def test_layernorm_matches_torch(backend):
    rng = np.random.default_rng(0)
    x, g, b, dy = (rng.standard_normal((Bn, T, D)) * 3 + 1, rng.standard_normal(D),
                   rng.standard_normal(D), rng.standard_normal((Bn, T, D)))
    module = torch.nn.LayerNorm(D, dtype=torch.float64)
    with torch.no_grad():
        module.weight.copy_(torch.from_numpy(g))
        module.bias.copy_(torch.from_numpy(b))
    xt = _leaf(x)
    yt = module(xt)
    (yt * torch.from_numpy(dy)).sum().backward()

    y, cache = Fl.layernorm_forward(_dev(x), _dev(g), _dev(b))
    dx, dg, db = Fl.layernorm_backward(_dev(dy), cache)
    _close(y, yt, "y")
    _close(dx, xt.grad, "dx")
    _close(dg, module.weight.grad, "dgamma")
    _close(db, module.bias.grad, "dbeta")


@pytest.mark.parametrize("name", ["relu", "gelu"])
def test_activation_matches_torch(backend, name):
    rng = np.random.default_rng(1)
    x, dy = rng.standard_normal((4, 6)) * 3, rng.standard_normal((4, 6))
    xt = _leaf(x)
    yt = torch.relu(xt) if name == "relu" else torch.nn.functional.gelu(xt, approximate="tanh")
    (yt * torch.from_numpy(dy)).sum().backward()
    forward, backward = {"relu": (Fa.relu_forward, Fa.relu_backward),
                         "gelu": (Fa.gelu_forward, Fa.gelu_backward)}[name]
    y, cache = forward(_dev(x))
    _close(y, yt, "y")
    _close(backward(_dev(dy), cache), xt.grad, "dx")


# ----------------------------------------------------------------------------- multi-head attention


@pytest.mark.parametrize("kind", ["self", "causal", "cross"])
def test_multihead_attention_matches_torch(backend, kind):
    rng = np.random.default_rng(2)
    Sk = T if kind != "cross" else S
    k_lengths = T_LENGTHS if kind != "cross" else S_LENGTHS
    query = rng.standard_normal((Bn, T, D))
    key = query if kind != "cross" else rng.standard_normal((Bn, Sk, D))
    value = query if kind != "cross" else rng.standard_normal((Bn, Sk, D))
    arrays = _mha_arrays(rng)
    dy, dweights = rng.standard_normal((Bn, T, D)), rng.standard_normal((Bn, HEADS, T, Sk))

    module = torch.nn.MultiheadAttention(D, HEADS, batch_first=True, dtype=torch.float64)
    _load_mha(module, arrays)
    qt, kt, vt = _leaf(query), _leaf(key), _leaf(value)
    yt, wt = module(qt, kt, vt, key_padding_mask=_pad_mask(k_lengths, Sk),
                    attn_mask=_causal(T) if kind == "causal" else None,
                    need_weights=True, average_attn_weights=False)
    ((yt * torch.from_numpy(dy)).sum() + (wt * torch.from_numpy(dweights)).sum()).backward()

    (y, weights), cache = Fm.multihead_attention_forward(
        _dev(query), _dev(key), _dev(value), *[_dev(arrays[n]) for n in MHA_PARAMS], HEADS,
        key_mask=_dev(_mask(k_lengths, Sk)), causal=kind == "causal")
    dquery, dkey, dvalue, *dparams = Fm.multihead_attention_backward((_dev(dy), _dev(dweights)), cache)
    _close(y, yt, "y")
    _close(weights, wt, "weights")
    _close(dquery, qt.grad, "dquery")
    _close(dkey, kt.grad, "dkey")
    _close(dvalue, vt.grad, "dvalue")
    theirs = _mha_grads(module)
    for n, d in zip(MHA_PARAMS, dparams):
        _close(d, theirs[n], "d" + n)


# ----------------------------------------------------------------------------- layers


def _layer_arrays(rng, decoder):
    arrays = _mha_arrays(rng, "sa_")
    if decoder:
        arrays.update(_mha_arrays(rng, "ca_"))
    arrays.update(ff_W1=rng.standard_normal((F, D)) / D**0.5, ff_b1=rng.standard_normal(F) / 3,
                  ff_W2=rng.standard_normal((D, F)) / F**0.5, ff_b2=rng.standard_normal(D) / 3)
    for i in (1, 2, 3) if decoder else (1, 2):
        arrays[f"ln{i}_g"] = 1 + 0.3 * rng.standard_normal(D)
        arrays[f"ln{i}_b"] = 0.3 * rng.standard_normal(D)
    return arrays


def _torch_layer(decoder, norm_first, activation, arrays):
    act = "relu" if activation == "relu" else (lambda x: torch.nn.functional.gelu(x, approximate="tanh"))
    cls = torch.nn.TransformerDecoderLayer if decoder else torch.nn.TransformerEncoderLayer
    module = cls(D, HEADS, dim_feedforward=F, dropout=0.0, activation=act, batch_first=True,
                 norm_first=norm_first, dtype=torch.float64)
    _load_mha(module.self_attn, arrays, "sa_")
    if decoder:
        _load_mha(module.multihead_attn, arrays, "ca_")
    with torch.no_grad():
        for ours, (lin, attr) in _FF.items():
            getattr(getattr(module, lin), attr).copy_(torch.from_numpy(arrays[ours]))
        for i in (1, 2, 3) if decoder else (1, 2):
            getattr(module, f"norm{i}").weight.copy_(torch.from_numpy(arrays[f"ln{i}_g"]))
            getattr(module, f"norm{i}").bias.copy_(torch.from_numpy(arrays[f"ln{i}_b"]))
    return module


_FF = {"ff_W1": ("linear1", "weight"), "ff_b1": ("linear1", "bias"),
       "ff_W2": ("linear2", "weight"), "ff_b2": ("linear2", "bias")}


def _torch_layer_grads(module, decoder):
    grads = _mha_grads(module.self_attn, "sa_")
    if decoder:
        grads.update(_mha_grads(module.multihead_attn, "ca_"))
    for ours, (lin, attr) in _FF.items():
        grads[ours] = getattr(getattr(module, lin), attr).grad
    for i in (1, 2, 3) if decoder else (1, 2):
        grads[f"ln{i}_g"] = getattr(module, f"norm{i}").weight.grad
        grads[f"ln{i}_b"] = getattr(module, f"norm{i}").bias.grad
    return grads


def _check_layer(decoder, norm_first, activation, seed):
    rng = np.random.default_rng(seed)
    arrays = _layer_arrays(rng, decoder)
    x, memory = rng.standard_normal((Bn, T, D)), rng.standard_normal((Bn, S, D))
    real = _mask(T_LENGTHS, T)
    dy = rng.standard_normal((Bn, T, D)) * real[:, :, None]  # no gradient from padded outputs

    module = _torch_layer(decoder, norm_first, activation, arrays)
    xt, mt = _leaf(x), _leaf(memory)
    if decoder:
        yt = module(xt, mt, tgt_mask=_causal(T), tgt_key_padding_mask=_pad_mask(T_LENGTHS, T),
                    memory_key_padding_mask=_pad_mask(S_LENGTHS, S))
    else:
        yt = module(xt, src_key_padding_mask=_pad_mask(T_LENGTHS, T))
    (yt * torch.from_numpy(dy)).sum().backward()

    params = {n: _dev(a) for n, a in arrays.items()}
    if decoder:
        y, cache = Ft.decoder_layer_forward(_dev(x), _dev(memory), params, HEADS, mask=_dev(real),
                                            memory_mask=_dev(_mask(S_LENGTHS, S)), norm_first=norm_first,
                                            activation=activation)
        dx, dmemory, grads = Ft.decoder_layer_backward(_dev(dy), cache)
        _close(dmemory, mt.grad, "dmemory")
    else:
        y, cache = Ft.encoder_layer_forward(_dev(x), params, HEADS, mask=_dev(real), norm_first=norm_first,
                                            activation=activation)
        dx, grads = Ft.encoder_layer_backward(_dev(dy), cache)
    _close(y, yt.detach().numpy() * real[:, :, None], "y at real positions")
    _close(dx, xt.grad, "dx")
    theirs = _torch_layer_grads(module, decoder)
    assert set(grads) == set(theirs)
    for n, d in grads.items():
        _close(d, theirs[n], "d" + n)


@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("norm_first", [False, True], ids=["post-norm", "pre-norm"])
def test_encoder_layer_matches_torch(backend, norm_first, activation):
    _check_layer(decoder=False, norm_first=norm_first, activation=activation, seed=3)


@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("norm_first", [False, True], ids=["post-norm", "pre-norm"])
def test_decoder_layer_matches_torch(backend, norm_first, activation):
    _check_layer(decoder=True, norm_first=norm_first, activation=activation, seed=4)
