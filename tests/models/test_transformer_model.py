"""The encoder-decoder Transformer (models/transformer.py): whole-model gradients in float64,
incremental decoding with a key/value cache equal to recomputing the prefix, padding, errors."""

import numpy as np
import pytest

from minis2s import backend as B
from minis2s.decode import beam_search, greedy, sample
from minis2s.errors import UserError
from minis2s.functional.activations import log_softmax
from minis2s.models.transformer import Transformer, TransformerConfig
from minis2s.gradcheck import TOLERANCE
from minis2s.suite.model import (MODEL_CASES, MODEL_TOLERANCE, TRANSFORMER_SIZES, check_model, is_norm_gain,
                                   random_batch, run)

TFM_CASES = [c for c in MODEL_CASES if c.arch == "transformer"]


def _cfg(**kw):
    return TransformerConfig(**{**TRANSFORMER_SIZES, "layers": 2, **kw})


@pytest.mark.parametrize("case", TFM_CASES, ids=lambda c: c.name)
def test_transformer_gradients_match_finite_differences(case, backend):
    results = run(case)
    params = Transformer(TransformerConfig(**{**TRANSFORMER_SIZES, **case.config})).params
    assert [r.wrt for r in results] == [n for n in params if not n.endswith("_bk")]
    # the ops' standard, not the model tolerance: no Transformer gradient is tiny enough for
    # finite differences to measure only their rounding (layer-norm gains drawn around 1)
    bad = {r.wrt: r.rel_error for r in results if not r.passed(TOLERANCE)}
    assert not bad, f"relative errors above {TOLERANCE}: {bad}"


def test_layer_norm_gains_are_drawn_around_one_so_no_path_is_scaled_towards_zero(monkeypatch):
    cfg = _cfg(norm_first=True)
    names = [n for n in Transformer(cfg).params if is_norm_gain(n)]
    assert "enc.l0.ln1_g" in names and "dec.ln_g" in names and "enc.l0.ln1_b" not in names
    seen, forward_backward = {}, Transformer.forward_backward

    def spy(self, *args, **kw):
        seen.update({n: B.to_host(self.params[n]).copy() for n in names})
        return forward_backward(self, *args, **kw)

    monkeypatch.setattr(Transformer, "forward_backward", spy)
    check_model(cfg, names=["out.b"], max_coords=1)
    gains = np.concatenate([seen[n] for n in names])
    assert 0.3 < gains.min() and gains.max() < 1.7 and abs(gains.mean() - 1.0) < 0.1


def test_key_bias_gradients_are_zero_as_the_softmax_ignores_them():
    with B.precision("float64"):
        model = Transformer(_cfg(dropout=0.0))
        model.forward_backward(*random_batch(np.random.default_rng(0), 9, 8))
    for name, g in model.grads.items():
        if name.endswith("_bk"):
            assert np.abs(g).max() < 1e-12, name


def test_check_model_finds_a_wrong_transformer_gradient(monkeypatch):
    forward_backward = Transformer.forward_backward

    def halved(self, *args, **kw):
        out = forward_backward(self, *args, **kw)
        if kw.get("backward", True):
            self.grads["dec.l1.ca_Wv"] *= 0.5
        return out

    monkeypatch.setattr(Transformer, "forward_backward", halved)
    failed = [r.wrt for r in check_model(_cfg(), names=["dec.l1.ca_Wv", "dec.l1.ca_Wq"])
              if not r.passed(MODEL_TOLERANCE)]
    assert failed == ["dec.l1.ca_Wv"]


@pytest.mark.parametrize("sentence_words", [0, 2], ids=["tokens", "sentences"])
def test_padding_changes_nothing_and_gets_exactly_zero_gradient(sentence_words):
    """Changing what sits in padded source and target positions leaves the loss and every
    gradient bit-identical (exact zeros at padding, masked keys)."""
    with B.precision("float64"):
        model = Transformer(_cfg(dropout=0.0, positional="learned", sentence_words=sentence_words))
        rng = np.random.default_rng(0)
        src, sm, ti, to, tm = random_batch(rng, 9, 8)
        loss1 = model.forward_backward(src, sm, ti, to, tm)[0]
        g1 = {k: v.copy() for k, v in model.grads.items()}
        src2, ti2 = src.copy(), ti.copy()
        src2[sm == 0] = 5  # padded source positions now hold a real id, still masked
        loss2 = model.forward_backward(src2, sm, ti2, to, tm)[0]
    assert float(loss1) == float(loss2)
    for k in g1:
        assert np.array_equal(g1[k], model.grads[k]), k
    pos = model.grads["enc.pos"]
    positions = -(-sm.shape[1] // sentence_words) if sentence_words else sm.shape[1]
    assert np.all(pos[positions:] == 0)  # positions past the longest source get nothing
    assert np.any(pos[positions - 1] != 0)


def _models(**kw):
    cfg = _cfg(d_model=8, d_ff=12, **kw)
    return Transformer(cfg, seed=1), Transformer(cfg, seed=1, kv_cache=False)


@pytest.mark.parametrize("norm_first, sentence_words", [(False, 0), (True, 0), (True, 2)])
def test_cached_decode_steps_equal_recomputing_the_prefix_and_the_full_pass(norm_first, sentence_words):
    with B.precision("float64"):
        cached, full = _models(norm_first=norm_first, sentence_words=sentence_words)
        src, sm, *_ = random_batch(np.random.default_rng(0), 9, 8)
        (m1, s1), (m2, s2) = cached.encode(src, sm), full.encode(src, sm)
        prev, fed = np.ones(3, dtype=src.dtype), []
        for _ in range(6):
            fed.append(prev)
            a, s1, w1 = cached.decode_step(m1, s1, prev)
            b, s2, w2 = full.decode_step(m2, s2, prev)
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-13)
            np.testing.assert_allclose(w1, w2, rtol=0, atol=1e-13)
            prev = a.argmax(axis=1)
        assert s1[0][0].shape == (3, 6, 8)  # one cached key projection per step (B, t, D)
        whole = log_softmax(cached.logits(src, sm, np.stack(fed, axis=1)), axis=-1)
        np.testing.assert_allclose(whole[:, -1], a, rtol=0, atol=1e-13)


def test_greedy_beam_and_sampling_with_the_cache_equal_recomputing():
    with B.precision("float64"):
        cached, full = _models(layers=2)
        src, sm, *_ = random_batch(np.random.default_rng(3), 9, 8)
        for decode in (lambda m: greedy(m, src, sm, 1, 2, max_len=12),
                       lambda m: beam_search(m, src, sm, 1, 2, beam=3, max_len=12),
                       lambda m: sample(m, src, sm, 1, 2, B.DeviceRNG(0), max_len=12)):
            a, b = decode(cached), decode(full)
            assert a.ids == b.ids
            np.testing.assert_allclose(a.scores, b.scores, rtol=0, atol=1e-12)


def test_decoding_stops_at_the_learned_position_table():
    model = Transformer(_cfg(positional="learned", max_len=5))
    src, sm, *_ = random_batch(np.random.default_rng(0), 9, 8)
    out = greedy(model, src, sm.astype(np.float32), 1, 2, max_len=40)
    assert max(len(ids) for ids in out.ids) <= 5


def test_a_source_longer_than_the_learned_table_is_one_clear_error():
    model = Transformer(_cfg(positional="learned", max_len=4))
    src, sm, *_ = random_batch(np.random.default_rng(0), 9, 8)  # S = 5
    with pytest.raises(UserError, match="source of 5 tokens is longer than the learned position table"):
        model.encode(src, sm)


def test_heads_must_divide_d_model():
    with pytest.raises(UserError, match="--heads 3 does not divide --d-model 4"):
        TransformerConfig(9, 8, d_model=4, heads=3).validate()


def test_teacher_forcing_below_one_is_refused():
    model = Transformer(_cfg())
    with pytest.raises(UserError, match="teacher-forcing"):
        model.forward_backward(*random_batch(np.random.default_rng(0), 9, 8), teacher_forcing=0.5)


def test_shared_vocabulary_has_one_table_for_both_sides():
    model = Transformer(_cfg(src_vocab=8, share_vocab=True))
    assert "enc.emb" not in model.params and "out.W" not in model.params
    with pytest.raises(UserError, match="shared vocabulary needs equal sizes"):
        _cfg(share_vocab=True).validate()


def test_a_source_read_as_sentences_has_one_memory_position_per_sentence():
    """Sources of 5, 2 and 3 tokens in rows of 2 words: 3, 1 and 2 sentences, so the memory is
    (3, 3, D) and the cross-attention weights of the row with one sentence put all on it."""
    with B.precision("float64"):
        model = Transformer(_cfg(sentence_words=2, dropout=0.0))
        src, sm, ti, *_ = random_batch(np.random.default_rng(0), 9, 8)
        ids, mask = model.read_source(src, sm)
        np.testing.assert_array_equal(mask, [[1, 1, 1], [1, 0, 0], [1, 1, 0]])
        np.testing.assert_array_equal(ids[1], [[src[1, 0], src[1, 1]], [0, 0], [0, 0]])
        memory, _ = model.encode(src, sm)
        weights = model.attention_weights(src, sm, ti)
    assert memory.values.shape == (3, 3, TRANSFORMER_SIZES["d_model"])
    for w in weights:
        assert w.shape[-1] == 3
        np.testing.assert_allclose(w[1, :, :, 0], 1.0, rtol=1e-12)
        assert np.all(w[2, :, :, 2] == 0)
