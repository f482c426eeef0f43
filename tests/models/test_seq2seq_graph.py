"""The model graph read as the lessons draw it: encode, bridge, decode, readout."""

import numpy as np
import pytest

from minis2s import backend as B
from minis2s.functional.activations import log_softmax
from minis2s.models.seq2seq import Seq2Seq, Seq2SeqConfig
from minis2s.nn import decoder, encoder

CONFIGS = {
    "lstm-2layer-bi-additive": dict(cell="lstm", layers=2, bidirectional=True, attention="additive"),
    "gru-general-tied": dict(cell="gru", attention="general", tie_embeddings=True, input_feeding=False),
    "rnn-none": dict(cell="rnn", attention="none"),
}


@pytest.mark.parametrize("name", CONFIGS)
def test_the_teacher_forced_decoder_gives_the_log_probs_of_decode_step(name, backend):
    """Training's decoder over all T steps and inference's one step at a time are one path."""
    cfg = Seq2SeqConfig(src_vocab=9, tgt_vocab=8, emb=3, hidden=4, **CONFIGS[name])
    with B.precision("float64"):
        model = Seq2Seq(cfg, seed=4)
        p = model.params
        src = B.to_device(np.array([[4, 5, 6, 2], [7, 8, 2, 0]]))
        src_mask = B.to_device(np.array([[1, 1, 1, 1], [1, 1, 1, 0]]), model.dtype)
        tgt_in = B.to_device(np.array([[1, 4, 5], [1, 6, 7]]))
        (enc_out, finals), _ = encoder.encoder_forward(p, cfg, src, src_mask)
        states, _ = decoder.bridge_forward(p, cfg, finals)
        memory = decoder.make_memory(p, cfg, enc_out, src_mask)
        zs, _ = decoder.decoder_forward(p, cfg, memory, states, tgt_in)
        logits, _ = decoder.readout_forward(p, zs)
        every_step = B.to_host(log_softmax(logits, axis=-1))

        memory, states = model.encode(src, src_mask)
        for t in range(tgt_in.shape[1]):
            logp, states, _ = model.decode_step(memory, states, tgt_in[:, t])
            np.testing.assert_allclose(B.to_host(logp), every_step[:, t], rtol=1e-12, atol=1e-14)


def test_dtype_and_array_module_are_the_parameters():
    with B.precision("float64"):
        model = Seq2Seq(Seq2SeqConfig(src_vocab=9, tgt_vocab=8, emb=3, hidden=4))
    assert model.dtype == np.float64 and all(v.dtype == model.dtype for v in model.params.values())
    assert model.xp is B.get_array_module(*model.params.values())
    with B.use("strict"):
        assert Seq2Seq(Seq2SeqConfig(src_vocab=9, tgt_vocab=8, emb=3, hidden=4)).xp is B.strict
