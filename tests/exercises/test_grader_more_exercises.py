"""The backward exercises of issue 13 item 2: embedding, label-smoothed cross-entropy, the LSTM
and GRU over a padded batch, and the bridge. Their inputs hold what the mistakes need (repeated
ids, the padding id, eps > 0, padded rows); the way the stubs say to write them passes; and the
generic diagnostics (padding, the zero first time slice, the upstream paths) name the mistakes
even without the catalogue."""

import numpy as np
import pytest

from minis2s import backend as B
from minis2s.exercises import check, mistakes, solutions, stub
from minis2s.exercises.specs import EXERCISES


def _hints(report):
    return " ".join(report.hints)


@pytest.fixture
def no_catalogue(monkeypatch):
    """Grade without the catalogue: what the generic hints say about a mistake it lacks."""
    monkeypatch.setattr(mistakes, "for_exercise", lambda name: [])


# --------------------------------------------------------------------------- embedding


def test_embedding_inputs_repeat_ids_and_hold_the_padding_id():
    _, static = EXERCISES["embedding"].make(B.rng(0))
    ids = static["ids"].reshape(-1)
    counts = np.bincount(ids)
    real = np.delete(counts, static["padding_idx"])
    assert counts[static["padding_idx"]] > 0 and real.max() >= 3  # a real token read three times


def test_embedding_written_with_add_at_passes():
    def embedding_backward(dout, cache):
        dE = np.zeros(cache.E_shape)
        np.add.at(dE, cache.ids.reshape(-1), dout.reshape(-1, cache.E_shape[1]))
        dE[cache.padding_idx] = 0
        return dE

    assert check(embedding_backward, verbose=False).passed


def test_embedding_padding_row_is_named_without_the_catalogue(no_catalogue):
    report = check(lambda dout, cache: mistakes._embedding(dout, cache, zero_pad=False),
                   exercise="embedding", verbose=False)
    assert not report.passed and report.mistakes == []
    assert "dE is nonzero at padded positions: the padding row is read as a constant zero vector" \
        in _hints(report)


def test_embedding_transposed_is_named_without_the_catalogue(no_catalogue):
    report = check(lambda dout, cache: mistakes._embedding(dout, cache).T, exercise="embedding",
                   verbose=False)
    assert not report.passed
    assert "dE is the transpose of the right gradient" in _hints(report)


# --------------------------------------------------------------------------- label smoothing


def test_label_smoothed_exercise_grades_with_eps_above_zero():
    ex = EXERCISES["label_smoothed_cross_entropy"]
    inputs, static = ex.make(B.rng(0))
    _, cache = ex.forward(**inputs, **static)
    assert cache.eps > 0
    assert ex.solution is solutions.softmax_cross_entropy_backward  # one backward for every eps


def test_label_smoothed_stub_is_its_own_exercise():
    assert check(stub("label_smoothed_cross_entropy"), verbose=False).exercise == "label_smoothed_cross_entropy"
    assert check(stub("softmax_cross_entropy"), verbose=False).exercise == "softmax_cross_entropy"


def test_the_unsmoothed_answer_passes_eps_zero_and_fails_label_smoothing():
    def softmax_cross_entropy_backward(dloss, cache):
        p = np.exp(cache.logp)
        onehot = np.arange(p.shape[-1]) == cache.targets[..., None]
        return dloss * (p - onehot) * (cache.mask / cache.n)[..., None]

    assert check(softmax_cross_entropy_backward, verbose=False).passed
    report = check(softmax_cross_entropy_backward, exercise="label_smoothed_cross_entropy", verbose=False)
    assert not report.passed
    assert report.mistakes == ["ls_ce_onehot_instead_of_q"]


# --------------------------------------------------------------------------- LSTM and GRU sequences


def _through_steps(step_backward):
    """BPTT as the stubs describe it: a step backward on cache.step(t), masked, carrying the
    state's gradient unchanged through padding."""
    def backward(dout, cache):
        dhs, *ds = dout
        T = dhs.shape[1]
        dx, sums = np.zeros(cache.x.shape), [0.0] * 4
        for t in range(T - 1, -1, -1):
            m = cache.mask[:, t].astype(float)
            ds[0] = ds[0] + m * dhs[:, t]
            masked = tuple(m * d for d in ds)
            dx[:, t], *grads = step_backward(masked if len(ds) > 1 else masked[0], cache.step(t))
            ds = [p + (1 - m) * d for p, d in zip(grads[:len(ds)], ds)]
            sums = [a + b for a, b in zip(sums, grads[len(ds):])]
        return (dx, *ds, *sums)
    return backward


@pytest.mark.parametrize("name, step", [("lstm_sequence", solutions.lstm_step_backward),
                                        ("gru_sequence", solutions.gru_step_backward)])
def test_sequence_written_through_cache_step_passes(name, step):
    assert check(_through_steps(step), exercise=name, verbose=False).passed


@pytest.mark.parametrize("name", ["lstm_sequence", "gru_sequence"])
def test_sequence_inputs_have_a_padded_row_and_an_empty_one(name):
    _, static = EXERCISES[name].make(B.rng(0))
    lengths = static["mask"].sum(axis=1)
    T = static["mask"].shape[1]
    assert lengths.max() == T and 0 < sorted(lengths)[1] < T and lengths.min() == 0


@pytest.mark.parametrize("name, bptt", [("lstm_sequence", mistakes._lstm_bptt),
                                        ("gru_sequence", mistakes._gru_bptt)])
def test_sequence_off_by_one_loop_is_named_without_the_catalogue(no_catalogue, name, bptt):
    report = check(lambda dout, cache: bptt(dout, cache, first=1), exercise=name, verbose=False)
    assert report.mistakes == []
    assert report.hints[0].startswith("dx[:, 0] is zero: your loop does not reach t = 0")


@pytest.mark.parametrize("name, bptt", [("lstm_sequence", mistakes._lstm_bptt),
                                        ("gru_sequence", mistakes._gru_bptt)])
def test_sequence_padding_treated_as_real_is_named_without_the_catalogue(no_catalogue, name, bptt):
    report = check(lambda dout, cache: bptt(dout, cache, mask=False), exercise=name, verbose=False)
    assert "dx is nonzero at padded positions: a padded step's cell gets no gradient" in _hints(report)


def test_lstm_forgotten_dc_last_is_named_by_its_path_without_the_catalogue(no_catalogue):
    report = check(lambda dout, cache: mistakes._lstm_bptt(dout, cache, start=("h",)),
                   exercise="lstm_sequence", verbose=False)
    assert "dc_last" in _hints(report)


# --------------------------------------------------------------------------- bridge


def test_bridge_reads_a_bidirectional_final_state():
    ex = EXERCISES["bridge_state"]
    inputs, _ = ex.make(B.rng(0))
    assert inputs["h"].shape[1] != inputs["W"].shape[0]  # Henc = 2H' differs from H: shapes tell dW^T
    assert solutions.bridge_state_backward.__module__ == "minis2s.functional.bridge"


def test_bridge_missing_tanh_prime_is_blamed_on_da_without_the_catalogue(no_catalogue):
    report = check(lambda ds0, cache: mistakes._bridge(ds0, cache, slope="none"),
                   exercise="bridge_state", verbose=False)
    assert not report.passed
    assert "da = ds0 * (1 - s0^2)" in _hints(report)
