"""Diagnostic hints for wrong gradients outside the catalogue: gate blocks, factors, signs,
single batch rows, upstream paths, padding, shapes, and 'dx is right but dW is wrong'."""

import numpy as np

from minis2s.exercises import check, solution


def _hints(report):
    return " ".join(report.hints)


def _lstm(dout, cache, df_from=None, tanh_prime=True, transpose_dWx=False, scale_o=1.0,
          sigmoid_prime=True, dc_prev_f=True):
    dh, dc = dout
    i, f, g, o, tc = cache.i, cache.f, cache.g, cache.o, cache.tanh_c
    s = (lambda a: a * (1 - a)) if sigmoid_prime else (lambda a: a)
    dct = dc + dh * o * ((1 - tc**2) if tanh_prime else 1.0)
    df = (dct if df_from is None else df_from) * cache.c_prev
    da = np.concatenate([dct * g * s(i), df * s(f), dct * i * (1 - g**2), scale_o * dh * tc * s(o)],
                        axis=1)
    db = da.sum(0)
    dWx = cache.x.T @ da if transpose_dWx else da.T @ cache.x
    return da @ cache.Wx, da @ cache.Wh, dct * f if dc_prev_f else dct, dWx, da.T @ cache.h_prev, db, db


def test_grader_names_the_wrong_gate_block():
    def lstm_step_backward(dout, cache):  # df from dc instead of dc_total
        return _lstm(dout, cache, df_from=dout[1])

    report = check(lstm_step_backward, verbose=False)
    assert not report.passed
    assert "the forget-gate block (rows H:2H = 5:10) of dWx, dWh, dbx, dbh is wrong" in _hints(report)
    assert "df = dc_total * c_prev" in _hints(report)
    assert "input-gate" not in _hints(report) and "output-gate" not in _hints(report)
    passed = {r.name: r.passed for r in report.results}
    assert passed["dc_prev"] and not passed["dWx"]


def test_grader_names_the_part_of_the_upstream_gradient_that_is_wrong():
    def lstm_step_backward(dout, cache):
        return _lstm(dout, cache, df_from=dout[1])

    text = _hints(check(lstm_step_backward, verbose=False))
    assert "comes from dh is wrong, the part from dc is right" in text


def test_grader_separates_two_mistakes_at_once():
    def lstm_step_backward(dout, cache):  # sigmoid' written as s, and dc_prev without f
        return _lstm(dout, cache, sigmoid_prime=False, dc_prev_f=False)

    report = check(lstm_step_backward, verbose=False)
    assert set(report.mistakes) == {"lstm_sigmoid_prime_as_s", "lstm_dc_prev_without_f"}
    text = _hints(report)
    assert "sigmoid' is s * (1 - s), not s" in text and "dc_prev misses the forget gate" in text
    assert "(seen in" not in text  # each explains every gradient it touches


def test_grader_reports_compounded_mistakes_separately():
    def lstm_step_backward(dout, cache):  # no tanh' on the cell, and dWx transposed too
        return _lstm(dout, cache, tanh_prime=False, transpose_dWx=True)

    report = check(lstm_step_backward, verbose=False)
    text = _hints(report)
    assert "misses tanh'" in text and "dWx has shape (4, 20), expected (20, 4)" in text
    assert "it looks transposed" in text


def test_grader_reports_a_constant_factor_and_a_sign():
    def affine_backward(dy, cache):
        return -dy @ cache.W, 2 * dy.T @ cache.x, dy.mean(axis=0)

    report = check(affine_backward, verbose=False)
    text = _hints(report)
    assert "dx has the wrong sign" in text
    assert "dW is off by a factor of 2 -- did you average or sum twice" in text
    assert "db is off by a factor of 0.25 = 1 / (B, the batch size)" in text


def test_grader_groups_gradients_that_share_a_factor():
    def lstm_step_backward(dout, cache):  # the o block doubled: only the gate grads scale
        return _lstm(dout, cache, scale_o=2.0)

    text = _hints(check(lstm_step_backward, verbose=False))
    assert "output-gate block (rows 3H:4H = 15:20)" in text


def test_grader_reports_a_gradient_overwritten_instead_of_accumulated():
    def affine_backward(dy, cache):
        dW = np.zeros_like(cache.W)
        for b in range(dy.shape[0]):
            dW = np.outer(dy[b], cache.x[b])  # should be +=
        return dy @ cache.W, dW, dy.sum(0)

    text = _hints(check(affine_backward, verbose=False))
    assert "dW holds the contribution of batch row 3 alone" in text and "accumulated" in text


def test_grader_says_dx_right_but_dW_wrong_means_after_the_preactivation():
    def rnn_step_backward(dh, cache):
        da = dh * (1 - cache.h**2)
        dWx = da.T @ cache.x[::-1]  # rows of x out of order
        return da @ cache.Wx, da @ cache.Wh, dWx, da.T @ cache.h_prev, da.sum(0), da.sum(0)

    report = check(rnn_step_backward, verbose=False)
    text = _hints(report)
    assert "dx, dh_prev, dbx and dbh are right, so your da = dh * (1 - h^2) (eq. 3.4) is right" in text
    assert "the mistake comes after it, in dWx = da^T x" in text


def test_grader_flags_gradient_at_padded_positions():
    def softmax_cross_entropy_backward(dloss, cache):  # no mask, divided by all positions
        z = cache.logits
        p = np.exp(z - z.max(-1, keepdims=True))
        p /= p.sum(-1, keepdims=True)
        p[np.arange(z.shape[0])[:, None], np.arange(z.shape[1]), cache.targets] -= 1
        return p * dloss / (z.shape[0] * z.shape[1])

    report = check(softmax_cross_entropy_backward, verbose=False)
    assert "dlogits is nonzero at padded positions: padding gets no gradient" in _hints(report)


def test_grader_shape_hints_name_the_gradient():
    def affine_backward(dy, cache):
        return dy @ cache.W, dy.T @ cache.x, dy  # db not summed: (B, H)

    report = check(affine_backward, verbose=False)
    row = next(r for r in report.results if r.name == "db")
    assert not row.passed and row.rel_error is None and "shape (4, 3), expected (3,)" in row.note
    assert "it is not summed over the batch" in _hints(report)


def test_grader_reports_a_square_transposed_weight_and_a_single_row_bias():
    def rnn_step_backward(dh, cache):  # Wh is square: only the values show the transposition
        da = dh * (1 - cache.h**2)
        return (da @ cache.Wx, da @ cache.Wh, da.T @ cache.x, cache.h_prev.T @ da,
                da.sum(0), da[0] * 1.0)

    report = check(rnn_step_backward, verbose=False)
    text = _hints(report)
    assert report.mistakes == ["rnn_dWh_transposed"]
    assert "dWh is transposed" in text and "its shape cannot tell" in text
    assert "dbh holds the contribution of batch row 0 alone" in text
    assert [r.name for r in report.results if not r.passed] == ["dWh", "dbh"]


def test_grader_reports_zero_gradients():
    def gru_step_backward(dh, cache):
        right = solution("gru_step")(dh, cache)
        return right[:4] + (np.zeros_like(right[4]), right[5])

    report = check(gru_step_backward, verbose=False)
    assert "dbx is all zeros" in _hints(report)
    assert [r.name for r in report.results if not r.passed] == ["dbx"]


def test_grader_attention_dweights_path():
    def additive_attention_backward(dout, cache):  # dweights added after the softmax backward
        dcontext, dweights = dout
        w, t = cache.weights, cache.t
        dw = (cache.values @ dcontext[:, :, None])[..., 0]
        de = w * (dw - (w * dw).sum(1, keepdims=True)) + dweights
        du = de[:, :, None] * cache.v * (1 - t * t)
        dqp = du.sum(1)
        return (dqp @ cache.Wq, du, w[:, :, None] * dcontext[:, None, :], dqp.T @ cache.q,
                (de[:, :, None] * t).sum((0, 1)))

    text = _hints(check(additive_attention_backward, verbose=False))
    assert "comes from dweights is wrong, the part from dcontext is right" in text
