"""The recurrent language model: gradients, truncated BPTT, batches, perplexity."""

import math

import numpy as np
import pytest

from minis2s import backend as B
from minis2s.data.lm import (
    SentenceBatcher,
    StreamBatcher,
    join_stream,
    sentence_batch,
    stream_rows,
    stream_windows,
)
from minis2s.functional.cells import CELLS
from minis2s.models.lm import LanguageModel, LMConfig
from minis2s.suite.model import check_language_model, random_lm_batch
from minis2s.tasks import lm_loss_and_ppl

TOLERANCE = 1e-7
SIZES = dict(vocab=9, emb=3, hidden=4)


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("layers, dropout", [(1, 0.0), (2, 0.3)])
def test_lm_gradients_match_centered_differences_in_float64(cell, layers, dropout, backend):
    results = check_language_model(LMConfig(cell=cell, layers=layers, dropout=dropout, **SIZES))
    assert [r.wrt for r in results] == list(LanguageModel(LMConfig(cell=cell, layers=layers, **SIZES)).params)
    worst = max(r.rel_error for r in results)
    assert worst <= TOLERANCE, {r.wrt: r.rel_error for r in results}


@pytest.mark.parametrize("cell", list(CELLS))
def test_a_window_from_a_carried_state_has_the_gradient_of_the_state_as_a_constant(cell):
    """Truncated BPTT: the state a window starts from is an input of the window, not a function
    of the parameters; the check perturbs the parameters with that state held fixed."""
    rng = np.random.default_rng(3)
    n_states = len(CELLS[cell].states)
    state = [tuple(B.to_device(rng.normal(0, 0.5, size=(3, 4))) for _ in range(n_states)) for _ in range(2)]
    results = check_language_model(LMConfig(cell=cell, layers=2, **SIZES), state=state)
    assert max(r.rel_error for r in results) <= TOLERANCE


def _two_windows(cell, dtype="float64"):
    """A model and a stream of 2 rows cut into windows of 4: (model, whole-row batch, windows)."""
    with B.precision(dtype):
        model = LanguageModel(LMConfig(cell=cell, layers=2, **SIZES), seed=1)
    rng = np.random.default_rng(0)
    stream = join_stream([list(rng.integers(4, 9, size=n)) for n in (3, 5, 2, 4)])
    return model, stream_windows(stream, 2, 100)[0], stream_windows(stream, 2, 4)


@pytest.mark.parametrize("cell", list(CELLS))
def test_window_two_from_the_carried_state_equals_its_part_of_the_whole_sequence(cell):
    model, whole, windows = _two_windows(cell)
    def dev(b):
        return B.to_device(b.x), B.to_device(b.y), B.to_device(b.mask, model.dtype)

    x, y, m = dev(whole)
    logp_whole = per_token_nll(model, x, y, m, None)
    (_, nll1, _), state = model.forward_backward(*dev(windows[0]), backward=False, train=False)
    assert windows[1].carry and not windows[0].carry
    (_, nll2, _), _ = model.forward_backward(*dev(windows[1]), state, backward=False, train=False)
    T1 = windows[0].x.shape[1]
    part = logp_whole[:, T1 : T1 + windows[1].x.shape[1]]
    assert B.to_float(nll2) == pytest.approx(float(part.sum()), rel=1e-12)
    windows_1_2 = logp_whole[:, : T1 + windows[1].x.shape[1]]
    assert B.to_float(nll1) + B.to_float(nll2) == pytest.approx(float(windows_1_2.sum()), rel=1e-12)
    # and without the carried state window 2 reads differently: the state matters
    (_, fresh, _), _ = model.forward_backward(*dev(windows[1]), None, backward=False, train=False)
    assert abs(B.to_float(fresh) - B.to_float(nll2)) > 1e-6


def per_token_nll(model, x, y, m, state):
    """-log p(y_t) at every position of one forward, 0 on padding (the test's own readout)."""
    from minis2s.functional.activations import log_softmax
    from minis2s.models.lm import layers_forward

    hs, _, _ = layers_forward(model.params, model.cfg, x, m, state or model.zero_state(x.shape[0]))
    logits = B.to_host(hs) @ B.to_host(model.params["out.W"]).T + B.to_host(model.params["out.b"])
    logp = log_softmax(logits)
    y, m = B.to_host(y), B.to_host(m)
    return -np.take_along_axis(logp, y[..., None], axis=-1)[..., 0] * m


def test_carried_state_gets_no_gradient_from_the_next_window():
    """The gradient of window 2 is the same whether its state came out of window 1's graph or was
    made up with the same values: nothing flows back into window 1."""
    model, _, windows = _two_windows("lstm")
    def dev(b):
        return B.to_device(b.x), B.to_device(b.y), B.to_device(b.mask, model.dtype)

    _, state = model.forward_backward(*dev(windows[0]), train=False)
    model.forward_backward(*dev(windows[1]), state, train=False)
    carried = {k: g.copy() for k, g in model.grads.items()}
    constant = [tuple(B.to_device(B.to_host(s).copy()) for s in layer) for layer in state]
    fresh = LanguageModel(model.cfg, seed=1, dtype="float64")
    fresh.forward_backward(*dev(windows[1]), constant, train=False)
    for k in carried:
        assert np.array_equal(B.to_host(carried[k]), B.to_host(fresh.grads[k])), k


def test_stream_rows_count_every_pair_once_and_pad_only_the_tail():
    stream = join_stream([[5, 6], [7], [8, 9, 4]])  # <eos> 5 6 <eos> 7 <eos> 8 9 4 <eos>: 10 tokens
    assert stream.tolist() == [2, 5, 6, 2, 7, 2, 8, 9, 4, 2]
    x, y, mask = stream_rows(stream, 4)  # 9 pairs: 3 rows of 3, not 4 with one all padding
    assert x.shape == (3, 3) and mask.all()
    assert x.reshape(-1).tolist() == stream[:-1].tolist() and y.reshape(-1).tolist() == stream[1:].tolist()
    x, y, mask = stream_rows(stream, 2)  # 2 rows of 5: the last position is padding
    assert mask.reshape(-1).tolist() == [1] * 9 + [0] and x[1].tolist() == [2, 8, 9, 4, 0]


def test_stream_batcher_replays_the_windows_and_resumes_where_it_stopped():
    stream = join_stream([[4 + i % 5] * (1 + i % 3) for i in range(30)])
    a = StreamBatcher(stream, 3, 5)
    first = [a.next_batch() for _ in range(a.batches_per_epoch())]
    assert a.next_batch() is None and [w.carry for w in first] == [False] + [True] * (len(first) - 1)
    assert sum(w.n_tgt_tokens for w in first) == len(stream) - 1
    a.next_batch()
    b = StreamBatcher(stream, 3, 5)
    b.load_state_dict(a.state_dict())
    assert np.array_equal(a.next_batch().x, b.next_batch().x)


def test_sentence_batches_start_after_eos_and_mask_padding():
    b = sentence_batch([[5, 6, 7], [8]])
    assert b.x.tolist() == [[2, 5, 6, 7], [2, 8, 0, 0]] and b.y.tolist() == [[5, 6, 7, 2], [8, 2, 0, 0]]
    assert b.mask.tolist() == [[1, 1, 1, 1], [1, 1, 0, 0]] and not b.carry
    batches = SentenceBatcher([[5, 6, 7], [8], [4, 4]], 2)
    got = [batches.next_batch() for _ in range(2)]
    assert all(g.x[0, 0] == 2 for g in got) and sum(g.n_tgt_tokens for g in got) == 4 + 2 + 3


def test_padding_changes_no_figure_of_a_sentence_batch():
    model = LanguageModel(LMConfig(cell="gru", **SIZES), seed=2, dtype="float64")
    short, long_ = [5, 6], [7, 8, 4, 5, 6]
    (_, alone, _), _ = _figures(model, sentence_batch([short]))
    (_, both, _), _ = _figures(model, sentence_batch([short, long_]))
    (_, other, _), _ = _figures(model, sentence_batch([long_]))
    assert B.to_float(both) == pytest.approx(B.to_float(alone) + B.to_float(other), rel=1e-12)


def _figures(model, b):
    return model.forward_backward(B.to_device(b.x), B.to_device(b.y), B.to_device(b.mask, model.dtype),
                                  backward=False, train=False)


@pytest.mark.parametrize("batching", ["stream", "sentence"])
def test_perplexity_is_exp_of_the_mean_per_token_loss(batching):
    from minis2s.data import Vocab

    vocab = Vocab(list(Vocab.SPECIALS) + list("abcde"))
    sentences = [list("abc"), list("ed"), list("aabbe"), list("c")]
    model = LanguageModel(LMConfig(cell="lstm", vocab=len(vocab), emb=3, hidden=4), seed=4, dtype="float64")
    figures = lm_loss_and_ppl(model, vocab, sentences, batching, batch_size=2, bptt=3)
    assert figures["ppl"] == pytest.approx(math.exp(figures["loss"]), rel=1e-12)
    # the mean is over every word and every <eos>: 11 + 4 tokens, each scored once
    if batching == "sentence":
        per_token = sum(float(per_token_nll(model, *(B.to_device(a) for a in (b.x, b.y, b.mask)), None).sum())
                        for b in [sentence_batch([vocab.encode(s) for s in sentences])])
        assert figures["loss"] == pytest.approx(per_token / 15, rel=1e-12)
    else:
        # windows of 3 with the state carried read each of the 2 rows as one forward would
        x, y, m = stream_rows(join_stream([vocab.encode(s) for s in sentences]), 2)
        assert m.sum() == 15
        whole = per_token_nll(model, B.to_device(x), B.to_device(y), B.to_device(m.astype("float64")), None)
        assert figures["loss"] == pytest.approx(float(whole.sum()) / 15, rel=1e-12)


def test_random_lm_batch_pads_after_each_rows_end():
    x, y, m = (B.to_host(a) for a in random_lm_batch(np.random.default_rng(0), 9))
    assert m.sum(axis=1).tolist() == [5, 2, 4] and (x[m == 0] == 0).all() and (y[m == 0] == 0).all()


def test_generation_runs_on_every_backend_without_reading_the_device_mid_step(backend):
    """The strict backend refuses hidden host reads; greedy, sampling and beam search run."""
    from minis2s.decode import beam_search, greedy, sample

    model = LanguageModel(LMConfig(cell="lstm", layers=2, **SIZES), seed=0)
    ctx = B.to_device(np.array([[2, 5, 6]] * 2))
    mask = B.to_device(np.ones((2, 3)), model.dtype)
    assert len(greedy(model, ctx, mask, 7, 2, max_len=5).ids) == 2
    assert len(sample(model, ctx, mask, 7, 2, B.DeviceRNG(0), top_p=0.9, max_len=5).ids) == 2
    assert len(beam_search(model, ctx, mask, 7, 2, beam=3, max_len=5).ids) == 2
