"""The bridge from the encoder's final state to the decoder's first state (lesson 09).

    eq. 9.5  s0 = tanh(h W^T + b),   h = [h_fwd; h_bwd] the encoder's final state   (B, H)

Backward: lesson 03's tanh slope (eq. 3.3), then lesson 02's affine backward (eq. 2.2). One
call maps one part of one layer's state (h, or an LSTM's c); :func:`minis2s.nn.decoder.bridge_forward`
runs it for every layer and part, with the parameters ``bridge.l{l}.{h,c}.W|b``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from .. import backend as B
from ..shapes import expect
from . import linear


class BridgeStateCache(NamedTuple):
    """What :func:`bridge_state_forward` saves for :func:`bridge_state_backward` (eq. 9.5).

    h: (B, Henc), the encoder's final state ([h_fwd; h_bwd] when bidirectional, Henc = 2H);
    W: (H, Henc), PyTorch's (out, in) layout; s0: (B, H) = tanh(a), from which tanh's slope
    is read (eq. 3.3).
    """

    h: Any
    W: Any
    s0: Any


def bridge_state_forward(h, W, b):
    """s0 = tanh(h W^T + b)                                              (eq. 9.5)

    h: (B, Henc); W: (H, Henc); b: (H,). Returns (s0 (B, H), BridgeStateCache).
    """
    dims = expect("W", W, ("H", "Henc"))  # named here: the error should say h, not x
    expect("h", h, ("B", "Henc"), dims)
    a, _ = linear.affine_forward(h, W, b)  # eq. 2.1
    s0 = B.get_array_module(a).tanh(a)  # eq. 9.5
    return s0, BridgeStateCache(h, W, s0)


def bridge_state_backward(ds0, cache):
    """ds0: (B, H). Returns dh (B, Henc), dW (H, Henc), db (H,).       (eq. 9.5)"""
    da = ds0 * (1.0 - cache.s0 * cache.s0)  # eq. 3.3: tanh' = 1 - s0^2
    return linear.affine_backward(da, linear.AffineCache(cache.h, cache.W))  # eq. 2.2
