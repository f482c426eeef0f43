"""A training step queues its work without reading anything back from the device (issue 7).

On the strict backend (the CPU stand-in for a GPU) every device->host read goes through
``backend.to_host``; counting those calls counts the synchronisations a GPU would make.
"""

import numpy as np
import pytest

from minis2s import backend as B
from minis2s.data import make_batch
from minis2s.functional.clip import clip_grad_norm
from minis2s.models.seq2seq import Seq2Seq, Seq2SeqConfig
from minis2s.optim import Adam
from minis2s.train import batch_to_device, check_batch_ids, real_rows

CFG = Seq2SeqConfig(src_vocab=11, tgt_vocab=9, emb=4, hidden=6, cell="lstm", bidirectional=True,
                    attention="additive", dropout=0.2)


def _batch():
    return make_batch([[4, 5, 6], [7, 8], [9, 10, 4, 5]], [[4, 5], [6, 7, 8], [5]])


@pytest.fixture(params=["strict", pytest.param("cupy", marks=pytest.mark.gpu)])
def device_backend(request):
    with B.use(request.param):
        yield


def _count_reads(monkeypatch):
    reads = []
    real = B.to_host

    def counting(a):
        reads.append(getattr(a, "shape", None))
        return real(a)

    monkeypatch.setattr(B, "to_host", counting)
    return reads


def _step(model, opt, batch, rng, ids_checked):
    """The trainer's step, teacher forcing and sampling both (every branch of the decoder)."""
    arrays = batch_to_device(batch, model.dtype)
    model.forward_backward(*arrays, rng=rng, label_smoothing=0.1, teacher_forcing=0.5,
                           real_rows=real_rows(arrays.tgt_mask), ids_checked=ids_checked)
    clip_grad_norm(model.grads.values(), 1.0)
    opt.step(model.grads)


def test_training_step_makes_no_device_read_once_ids_are_checked_on_the_host(device_backend, monkeypatch):
    model, batch, rng = Seq2Seq(CFG), _batch(), B.DeviceRNG(0)
    opt = Adam(model.params, lr=1e-3)
    check_batch_ids(batch, CFG)
    reads = _count_reads(monkeypatch)
    _step(model, opt, batch, rng, ids_checked=True)
    assert reads == [], f"device reads inside the step: {reads}"
    _step(model, opt, batch, rng, ids_checked=False)  # unchecked ids are read back, as they must be
    assert len(reads) >= 1


def test_a_step_with_unchecked_ids_refuses_an_id_outside_the_vocabulary(device_backend):
    model, batch = Seq2Seq(CFG), _batch()
    batch.tgt_out[0, 0] = CFG.tgt_vocab
    arrays = batch_to_device(batch, model.dtype)
    with pytest.raises(IndexError, match="outside the vocabulary"):
        model.forward_backward(*arrays, rng=B.DeviceRNG(0))


def test_host_check_of_a_batch_names_the_bad_ids():
    batch = _batch()
    batch.src[1, 0] = CFG.src_vocab  # one past the vocabulary
    with pytest.raises(IndexError, match="source ids: token id 11 is outside the vocabulary"):
        check_batch_ids(batch, CFG)


def test_ids_on_the_host_are_always_checked():
    with pytest.raises(IndexError):
        B.check_token_ids(np.array([0, 12]), 9)


def test_transformer_training_step_makes_no_device_read_once_ids_are_checked(device_backend, monkeypatch):
    from minis2s.models.transformer import Transformer, TransformerConfig

    cfg = TransformerConfig(src_vocab=11, tgt_vocab=9, layers=2, d_model=8, heads=2, d_ff=12, dropout=0.2,
                            positional="learned", max_len=8)
    model, batch, rng = Transformer(cfg), _batch(), B.DeviceRNG(0)
    opt = Adam(model.params, lr=1e-3, betas=(0.9, 0.98))
    check_batch_ids(batch, cfg)
    reads = _count_reads(monkeypatch)
    for _ in range(2):
        arrays = batch_to_device(batch, model.dtype)
        loss, _, _ = model.forward_backward(*arrays, rng=rng, label_smoothing=0.1,
                                            real_rows=real_rows(arrays.tgt_mask), ids_checked=True)
        clip_grad_norm(model.grads.values(), 1.0)
        opt.step(model.grads)
    assert reads == [], f"device reads inside the step: {reads}"
    assert np.isfinite(B.to_float(loss))
