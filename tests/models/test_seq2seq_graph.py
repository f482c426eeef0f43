"""The model graph read as the lessons draw it: encode, bridge, decode, readout."""

import numpy as np

from minis2s import backend as B
from minis2s.models.seq2seq import Seq2Seq, Seq2SeqConfig


def test_dtype_and_array_module_are_the_parameters():
    with B.precision("float64"):
        model = Seq2Seq(Seq2SeqConfig(src_vocab=9, tgt_vocab=8, emb=3, hidden=4))
    assert model.dtype == np.float64 and all(v.dtype == model.dtype for v in model.params.values())
    assert model.xp is B.get_array_module(*model.params.values())
    with B.use("strict"):
        assert Seq2Seq(Seq2SeqConfig(src_vocab=9, tgt_vocab=8, emb=3, hidden=4)).xp is B.strict
