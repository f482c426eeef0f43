"""RNN, LSTM and GRU agree with torch.nn in float64: outputs and every gradient, packed or not."""

import numpy as np
import pytest

from minis2s import backend as B
from minis2s.functional import bidirectional as bi
from minis2s.functional import gru, lstm, rnn

torch = pytest.importorskip("torch")

GATES = {"rnn": 1, "lstm": 4, "gru": 3}
SEQUENCE = {"rnn": (rnn.rnn_forward, rnn.rnn_backward),
            "lstm": (lstm.lstm_forward, lstm.lstm_backward),
            "gru": (gru.gru_forward, gru.gru_backward)}
TORCH = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}
PARAMS = ("Wx", "Wh", "bx", "bh")
TORCH_PARAMS = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")
ATOL = 1e-10

Bn, T, D, H = 4, 5, 3, 4
LENGTHS = [5, 2, 4, 1]  # unsorted, as enforce_sorted=False allows; torch needs lengths >= 1


def _close(ours, theirs, what):
    np.testing.assert_allclose(B.to_host(ours), theirs.detach().numpy(), rtol=0, atol=ATOL, err_msg=what)


def _setup(cell, bidirectional, seed=0):
    """A torch module with random weights, and the same weights, inputs and upstream gradients
    as host arrays: per direction (fwd, and bwd if bidirectional) {"Wx", ..., "h0", ("c0")}."""
    rng = np.random.default_rng(seed)
    dirs = 2 if bidirectional else 1
    module = getattr(torch.nn, TORCH[cell])(D, H, batch_first=True, bidirectional=bidirectional,
                                            dtype=torch.float64)
    directions = []
    for d in range(dirs):
        suffix = "_reverse" if d else ""
        arrays = {}
        for ours, theirs in zip(PARAMS, TORCH_PARAMS):
            p = getattr(module, theirs + suffix)
            arrays[ours] = 0.5 * rng.standard_normal(tuple(p.shape))
            with torch.no_grad():
                p.copy_(torch.from_numpy(arrays[ours]))
        directions.append(arrays)
    states = {s: rng.standard_normal((dirs, Bn, H)) for s in (("h0", "c0") if cell == "lstm" else ("h0",))}
    for d, arrays in enumerate(directions):
        arrays.update({s: v[d] for s, v in states.items()})
    x = rng.standard_normal((Bn, T, D))
    grads = {"dhs": rng.standard_normal((Bn, T, dirs * H))}
    grads.update({"d" + s: rng.standard_normal((dirs, Bn, H)) for s in states})
    return module, directions, states, x, grads


def _torch_run(cell, module, states, x, grads, lengths):
    """Forward and backward in torch; returns hs, final states and the leaf tensors (with .grad)."""
    xt = torch.tensor(x, requires_grad=True)
    st = {s: torch.tensor(v, requires_grad=True) for s, v in states.items()}
    inp = xt
    if lengths is not None:
        inp = torch.nn.utils.rnn.pack_padded_sequence(xt, torch.tensor(lengths), batch_first=True,
                                                      enforce_sorted=False)
    out, final = module(inp, (st["h0"], st["c0"]) if cell == "lstm" else st["h0"])
    if lengths is not None:
        out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=T)
    finals = final if cell == "lstm" else (final,)
    loss = (out * torch.from_numpy(grads["dhs"])).sum()
    for s, f in zip(states, finals):
        loss = loss + (f * torch.from_numpy(grads["d" + s])).sum()
    loss.backward()
    return out, finals, xt, st


def _dev(a):
    return B.to_device(a, "float64")


@pytest.mark.parametrize("packed", [True, False], ids=["packed", "full"])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_sequence_matches_torch(cell, packed, backend):
    module, (p,), states, x, grads = _setup(cell, bidirectional=False)
    lengths = LENGTHS if packed else None
    out, finals, xt, st = _torch_run(cell, module, states, x, grads, lengths)

    forward, backward = SEQUENCE[cell]
    names = list(states)
    args = [_dev(x)] + [_dev(p[s]) for s in names] + [_dev(p[n]) for n in PARAMS]
    dev_lengths = None if lengths is None else B.to_device(np.array(lengths))
    (hs, *ours_final), cache = forward(*args, lengths=dev_lengths)
    _close(hs, out, "hs")
    for s, o, t in zip(names, ours_final, finals):
        _close(o, t[0], f"final {s}")

    dout = (_dev(grads["dhs"]),) + tuple(_dev(grads["d" + s][0]) for s in names)
    dx, *rest = backward(dout, cache)
    dstates, dparams = rest[: len(names)], rest[len(names):]
    _close(dx, xt.grad, "dx")
    for s, d in zip(names, dstates):
        _close(d, st[s].grad[0], f"d{s}")
    for n, tn, d in zip(PARAMS, TORCH_PARAMS, dparams):
        _close(d, getattr(module, tn).grad, f"d{n}")


@pytest.mark.parametrize("packed", [True, False], ids=["packed", "full"])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_bidirectional_matches_torch(cell, packed, backend):
    module, (pf, pb), states, x, grads = _setup(cell, bidirectional=True, seed=1)
    lengths = LENGTHS if packed else None
    out, finals, xt, st = _torch_run(cell, module, states, x, grads, lengths)

    names = list(states)
    fwd = {k: _dev(v) for k, v in pf.items()}
    bwd = {k: _dev(v) for k, v in pb.items()}
    dev_lengths = None if lengths is None else B.to_device(np.array(lengths))
    (hs, final_f, final_b), cache = bi.bidirectional_forward(cell, _dev(x), fwd, bwd, lengths=dev_lengths)
    _close(hs, out, "hs")
    for s, of, ob, t in zip(names, final_f, final_b, finals):
        _close(of, t[0], f"forward final {s}")
        _close(ob, t[1], f"backward final {s}")

    dfinal_f = tuple(_dev(grads["d" + s][0]) for s in names)
    dfinal_b = tuple(_dev(grads["d" + s][1]) for s in names)
    dx, dfwd, dbwd = bi.bidirectional_backward((_dev(grads["dhs"]), dfinal_f, dfinal_b), cache)
    _close(dx, xt.grad, "dx")
    for d, (dgrads, suffix) in enumerate([(dfwd, ""), (dbwd, "_reverse")]):
        assert set(dgrads) == set(fwd)
        for s in names:
            _close(dgrads[s], st[s].grad[d], f"d{s} direction {d}")
        for n, tn in zip(PARAMS, TORCH_PARAMS):
            _close(dgrads[n], getattr(module, tn + suffix).grad, f"d{n}{suffix}")


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_step_matches_torch_cell(cell, backend):
    rng = np.random.default_rng(2)
    module = getattr(torch.nn, TORCH[cell] + "Cell")(D, H, dtype=torch.float64)
    p = {}
    for ours, theirs in zip(PARAMS, ("weight_ih", "weight_hh", "bias_ih", "bias_hh")):
        tp = getattr(module, theirs)
        p[ours] = 0.5 * rng.standard_normal(tuple(tp.shape))
        with torch.no_grad():
            tp.copy_(torch.from_numpy(p[ours]))
    x, h, c = (rng.standard_normal(s) for s in ((Bn, D), (Bn, H), (Bn, H)))
    xt, ht, ct = (torch.tensor(a, requires_grad=True) for a in (x, h, c))
    weights = [_dev(p[n]) for n in PARAMS]
    dh, dc = rng.standard_normal((Bn, H)), rng.standard_normal((Bn, H))
    if cell == "lstm":
        h_t, c_t = module(xt, (ht, ct))
        (h_o, c_o), cache = lstm.lstm_step_forward(_dev(x), _dev(h), _dev(c), *weights)
        _close(c_o, c_t, "c")
        ((h_t * torch.from_numpy(dh)).sum() + (c_t * torch.from_numpy(dc)).sum()).backward()
        dx, dh_prev, dc_prev, *dparams = lstm.lstm_step_backward((_dev(dh), _dev(dc)), cache)
        _close(dc_prev, ct.grad, "dc_prev")
    else:
        h_t = module(xt, ht)
        step = {"rnn": (rnn.rnn_step_forward, rnn.rnn_step_backward),
                "gru": (gru.gru_step_forward, gru.gru_step_backward)}[cell]
        h_o, cache = step[0](_dev(x), _dev(h), *weights)
        (h_t * torch.from_numpy(dh)).sum().backward()
        dx, dh_prev, *dparams = step[1](_dev(dh), cache)
    _close(h_o, h_t, "h")
    _close(dx, xt.grad, "dx")
    _close(dh_prev, ht.grad, "dh_prev")
    for n, theirs, d in zip(PARAMS, ("weight_ih", "weight_hh", "bias_ih", "bias_hh"), dparams):
        _close(d, getattr(module, theirs).grad, f"d{n}")
