"""Affine and embedding: parity with torch, padding, ids outside the vocabulary, shape errors."""

import numpy as np
import pytest

from minis2s import backend as B
from minis2s.functional import linear as F
from minis2s.shapes import ShapeError


def test_affine_and_embedding_match_torch_in_float64():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x, W, b = rng.standard_normal((2, 3, 5)), rng.standard_normal((4, 5)), rng.standard_normal(4)
    dy = rng.standard_normal((2, 3, 4))
    y, cache = F.affine_forward(x, W, b)
    dx, dW, db = F.affine_backward(dy, cache)
    tx, tW, tb = (torch.tensor(a, requires_grad=True) for a in (x, W, b))
    ty = torch.nn.functional.linear(tx, tW, tb)
    ty.backward(torch.tensor(dy))
    for ours, theirs in ((y, ty), (dx, tx.grad), (dW, tW.grad), (db, tb.grad)):
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-10, atol=1e-12)

    E = rng.standard_normal((6, 3))
    E[0] = 0.0  # torch's padding row starts at zero
    ids = np.array([[1, 2, 0], [5, 5, 0]])
    dout = rng.standard_normal((2, 3, 3))
    out, cache = F.embedding_forward(ids, E, padding_idx=0)
    dE = F.embedding_backward(dout, cache)
    emb = torch.nn.Embedding(6, 3, padding_idx=0, dtype=torch.float64)
    with torch.no_grad():
        emb.weight.copy_(torch.tensor(E))
    tout = emb(torch.tensor(ids))
    tout.backward(torch.tensor(dout))
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(dE, emb.weight.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("bad", [-1, 6, 1000])
def test_ids_outside_the_vocabulary_raise_on_every_backend(backend, bad):
    E = B.to_device(np.zeros((6, 3)))
    ids = B.to_device(np.array([[1, bad]]))
    with pytest.raises(IndexError, match=r"outside the vocabulary \[0, 6\)"):
        F.embedding_forward(ids, E)


def test_repeated_ids_accumulate_and_padding_gets_nothing(backend):
    E = B.to_device(np.ones((4, 2)))
    ids = B.to_device(np.array([[2, 2, 0], [2, 1, 0]]))
    _, cache = F.embedding_forward(ids, E, padding_idx=0)
    dE = B.to_host(F.embedding_backward(B.to_device(np.ones((2, 3, 2))), cache))
    assert dE[2].tolist() == [3.0, 3.0] and dE[1].tolist() == [1.0, 1.0] and dE[0].tolist() == [0.0, 0.0]


@pytest.mark.parametrize("x_shape, W_shape, needle", [
    ((4, 5), (3, 6), "x: expected shape (B, D) = (4, 6), got (4, 5) (D=6 from earlier arguments)"),
    ((4, 5), (3, 5, 1), "W: expected 2-D shape (H, D), got 3-D shape (3, 5, 1)"),
])
def test_affine_shape_errors_name_the_argument_and_both_shapes(x_shape, W_shape, needle):
    with pytest.raises(ShapeError) as exc:
        F.affine_forward(np.zeros(x_shape), np.zeros(W_shape), np.zeros(W_shape[0]))
    assert needle in str(exc.value)


def test_dtype_errors_name_the_argument():
    with pytest.raises(ShapeError, match="ids: expected dtype an integer dtype, got float64"):
        F.embedding_forward(np.zeros((2, 3)), np.zeros((5, 4)))
    with pytest.raises(ShapeError, match="float arguments must share one dtype"):
        F.affine_forward(np.zeros((2, 3), "float32"), np.zeros((4, 3)), np.zeros(4))
