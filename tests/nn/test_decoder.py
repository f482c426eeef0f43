"""The decoder's two paths agree: one step at a time (inference: encode, then decode_step per
token) gives exactly the teacher-forced loss of the whole-sequence loop that training runs."""

import numpy as np
import pytest

from minis2s import backend as B
from minis2s.models.seq2seq import Seq2Seq, Seq2SeqConfig
from minis2s.suite.model import MODEL_CASES, SIZES, random_batch


@pytest.mark.parametrize("case", MODEL_CASES[:5], ids=lambda c: c.name)
def test_decoding_step_by_step_gives_the_teacher_forced_loss(case, backend):
    with B.precision("float64"):
        model = Seq2Seq(Seq2SeqConfig(**SIZES, **case.config), seed=1)
        batch = random_batch(np.random.default_rng(0), SIZES["src_vocab"], SIZES["tgt_vocab"])
        src, src_mask, tgt_in, tgt_out, tgt_mask = batch
        _, nll_sum, n_tokens = model.forward_backward(*batch, train=False, backward=False)
        memory, states = model.encode(src, src_mask)
        gold, mask = B.to_host(tgt_out), B.to_host(tgt_mask)
        nll = 0.0
        for t in range(gold.shape[1]):
            logp, states, _ = model.decode_step(memory, states, tgt_in[:, t])
            nll -= float((B.to_host(logp)[np.arange(len(gold)), gold[:, t]] * mask[:, t]).sum())
    assert B.to_float(n_tokens) == mask.sum()
    assert nll == pytest.approx(B.to_float(nll_sum), rel=1e-12)
