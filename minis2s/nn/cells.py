"""A recurrent layer's weights in the model's parameter dict (lessons 04, 06).

A layer named ``prefix`` (``"enc.l0.f."``, ``"dec.l1."``) owns ``prefix + "Wx"``, ``"Wh"``,
``"bx"`` and ``"bh"``; :func:`weights` hands them to :mod:`minis2s.functional.cells` under their
own names, and :func:`add_grads` adds the gradients that come back into the model's ``grads``.
What each kind of cell is (its gate count, its state) is in
:data:`minis2s.functional.cells.CELLS`.
"""

from __future__ import annotations

from .. import backend as B
from ..functional.cells import CELLS, PARAM_NAMES


def init_params(cell: str, D: int, H: int, generator, prefix: str) -> dict:
    """PyTorch's initialisation U(-1/sqrt(H), 1/sqrt(H)); the LSTM forget-gate bias starts at 1
    so early gradients pass through the cell state (Jozefowicz et al., 2015)."""
    G = CELLS[cell].gates
    k = H**-0.5
    p = {
        f"{prefix}Wx": B.uniform_init(generator, (G * H, D), k),
        f"{prefix}Wh": B.uniform_init(generator, (G * H, H), k),
        f"{prefix}bx": B.uniform_init(generator, (G * H,), k),
        f"{prefix}bh": B.uniform_init(generator, (G * H,), k),
    }
    if cell == "lstm":  # row blocks i, f, g, o: the second is the forget gate's
        p[f"{prefix}bx"][H : 2 * H] = 1.0
        p[f"{prefix}bh"][H : 2 * H] = 0.0
    return p


def weights(params: dict, prefix: str) -> dict:
    """The layer's {"Wx", "Wh", "bx", "bh"} (the arrays themselves, not copies)."""
    return {name: params[prefix + name] for name in PARAM_NAMES}


def add_grads(grads: dict, prefix: str, dweights: dict) -> None:
    """grads[prefix + name] += dweights[name] for the layer's four weights."""
    for name in PARAM_NAMES:
        grads[prefix + name] += dweights[name]
