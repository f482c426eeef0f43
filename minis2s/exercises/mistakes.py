"""A catalogue of typical wrong backward passes, and the hint that names each one.

Every entry is a complete backward that a learner might plausibly write: the reference
solution with one typical mistake. The grader runs each entry of the exercise on the same
upstream gradient and cache as the learner's function; where the learner's gradient (or one
gate block of it) equals a mistake's and differs from the right one, the mistake's hint is
given. The tests grade every entry and assert that its hint comes back (``keywords``).

``stress`` entries are right on ordinary inputs and fail only on the exercise's stress inputs
(the softmax without its max shift overflows at logits of +-1000): the grader recognises those
by non-finite gradients there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .. import backend as B
from ..functional.linear import embedding_backward
from .hints import OVERFLOW_HINT


@dataclass(frozen=True)
class Mistake:
    exercise: str
    name: str
    hint: str
    keywords: tuple  # words the hint must contain, lower case (the tests check them)
    backward: Callable
    stress: bool = False


MISTAKES: list[Mistake] = []


def mistake(exercise: str, hint: str, keywords, stress: bool = False):
    """Decorator: register a wrong backward under its function name."""

    def register(fn):
        MISTAKES.append(Mistake(exercise, fn.__name__, hint, tuple(keywords), fn, stress))
        return fn

    return register


def for_exercise(name: str) -> list[Mistake]:
    return [m for m in MISTAKES if m.exercise == name]


# --------------------------------------------------------------------------- affine


@mistake("affine", "dW is transposed: W has PyTorch's (out, in) layout (H, D), so dW = dy^T x, "
         "shape (H, D), not x^T dy (eq. 2.2)", ("transposed", "dw"))
def affine_dW_transposed(dy, cache):
    return dy @ cache.W, cache.x.T @ dy, dy.sum(axis=0)


@mistake("affine", "db is not accumulated: it holds one row of dy (overwritten in a loop?) -- sum dy "
         "over all the batch rows, db = dy.sum(axis=0) (eq. 2.2)", ("db", "accumulated"))
def affine_db_one_row(dy, cache):
    return dy @ cache.W, dy.T @ cache.x, dy[-1] * 1.0


@mistake("affine", "dW is averaged over the batch: the gradient of a sum over rows is the sum of "
         "the rows' gradients, dW = dy^T x with no 1/B (eq. 2.2) -- the mean belongs to the loss, "
         "and dy already carries it", ("averaged", "no 1/b"))
def affine_dW_averaged(dy, cache):
    return dy @ cache.W, dy.T @ cache.x / dy.shape[0], dy.sum(axis=0)


# --------------------------------------------------------------------------- embedding


def _embedding(dout, cache, *, assign=False, zero_pad=True):
    xp = B.get_array_module(dout)
    V, D = cache.E_shape
    dE = xp.zeros((V, D), dtype=dout.dtype)
    ids, rows = cache.ids.reshape(-1), dout.reshape(-1, D)
    if assign:
        dE[ids] = rows  # a repeated id keeps the last position's row only
    else:
        B.scatter_add(dE, ids, rows)
    if zero_pad:
        dE[cache.padding_idx] = 0
    return dE


@mistake("embedding", "repeated ids lose gradient: dE[ids] = dout (and dE[ids] += dout, which "
         "NumPy buffers into the same thing) keeps one position's gradient per id; a token read "
         "k times must add all k, dE_v = the sum over its positions (eq. 2.4) -- use "
         "B.scatter_add or np.add.at", ("repeated", "np.add.at", "eq. 2.4"))
def embedding_assigns_repeated_ids(dout, cache):
    return _embedding(dout, cache, assign=True)


@mistake("embedding", "the padding row is not zeroed: padded positions read a constant zero "
         "vector, not E[padding_idx], so that row gets no gradient, dE[padding_idx] = 0 (eq. 2.4)",
         ("padding row", "de[padding_idx] = 0"))
def embedding_padding_row_kept(dout, cache):
    return _embedding(dout, cache, zero_pad=False)


@mistake("embedding", "dE is transposed: it has the table's shape (V, D), one row per token id, "
         "like E (eq. 2.4)", ("transposed", "(v, d)"))
def embedding_transposed(dout, cache):
    return _embedding(dout, cache).T


@mistake("embedding", "dE is the gradient of the looked-up rows, one per position (B*T, D), not "
         "of the table: add each position's row of dout into the row of its id, so dE has the "
         "table's shape (V, D) (eq. 2.4)", ("one per position", "row of its id"))
def embedding_not_scattered(dout, cache):
    return dout.reshape(-1, cache.E_shape[1]) * 1.0


# --------------------------------------------------------------------------- softmax cross-entropy


def _probs(logits, shift=True):
    xp = B.get_array_module(logits)
    e = xp.exp(logits - logits.max(axis=-1, keepdims=True) if shift else logits)
    return e / e.sum(axis=-1, keepdims=True)


def _onehot(cache):
    xp = B.get_array_module(cache.logits)
    return xp.arange(cache.logits.shape[-1]) == cache.targets[..., None]


@mistake("softmax_cross_entropy", "dlogits is nonzero at padded positions: multiply by the mask M, "
         "dlogits = dloss * (p - onehot(y)) * M / N (eq. 2.11)", ("padded", "mask"))
def ce_no_mask(dloss, cache):
    return (_probs(cache.logits) - _onehot(cache)) * (dloss / cache.n)


@mistake("softmax_cross_entropy", "dlogits is averaged over all B*T positions, padding included: "
         "divide by N, the number of real tokens (cache.n), eq. 2.10-2.11", ("real tokens", "b*t"))
def ce_mean_over_all_positions(dloss, cache):
    Bn, T, _ = cache.logits.shape
    return (_probs(cache.logits) - _onehot(cache)) * (cache.mask * (dloss / (Bn * T)))[..., None]


@mistake("softmax_cross_entropy", OVERFLOW_HINT, ("overflow", "row max", "eq. 2.5"), stress=True)
def ce_no_max_shift(dloss, cache):
    p = _probs(cache.logits, shift=False)
    return (p - _onehot(cache)) * (cache.mask * (dloss / cache.n))[..., None]


@mistake("softmax_cross_entropy", "dlogits misses the target term: subtract 1 at the target class, "
         "dlogits = (p - onehot(y)) * M / N (eq. 2.11)", ("onehot", "target"))
def ce_no_onehot(dloss, cache):
    return _probs(cache.logits) * (cache.mask * (dloss / cache.n))[..., None]


@mistake("softmax_cross_entropy", "dlogits ignores the upstream gradient dloss: multiply by it, "
         "dlogits = dloss * (p - onehot(y)) * M / N (eq. 2.11)", ("dloss",))
def ce_ignores_dloss(dloss, cache):
    return (_probs(cache.logits) - _onehot(cache)) * (cache.mask / cache.n)[..., None]


# --------------------------------------------------------------------------- label-smoothed cross-entropy


def _ls_ce(dloss, cache, *, others=None, mask=True, divisor=None, smooth=True):
    """(p - q) dloss M / N with one part changed. ``others``: the number of classes eps is spread
    over, the target excluded (V - 1); None is the library's q = (1 - eps) onehot(y) + eps / V."""
    V = cache.logits.shape[-1]
    eps = cache.eps if smooth else 0.0
    onehot = _onehot(cache)
    q = (1 - eps) * onehot + (eps / V if others is None else (eps / others) * (1 - onehot))
    m = cache.mask[..., None] if mask else 1.0
    return (_probs(cache.logits) - q) * m * (dloss / (cache.n if divisor is None else divisor))


@mistake("label_smoothed_cross_entropy", "eps is spread over the V - 1 other classes: the library "
         "(and PyTorch) spreads it over all V classes, the target included, q = (1 - eps) "
         "onehot(y) + eps / V (eq. 2.9), so the target gets 1 - eps + eps / V",
         ("v - 1", "eps / v", "eq. 2.9"))
def ls_ce_smooths_over_v_minus_1(dloss, cache):
    return _ls_ce(dloss, cache, others=cache.logits.shape[-1] - 1)


@mistake("label_smoothed_cross_entropy", "dlogits is nonzero at padded positions: the smoothing "
         "term eps / V must be masked too, dlogits = dloss * (p - q) * M / N (eq. 2.11)",
         ("padded", "masked"))
def ls_ce_no_mask(dloss, cache):
    return _ls_ce(dloss, cache, mask=False)


@mistake("label_smoothed_cross_entropy", "dlogits is averaged over all B*T positions, padding "
         "included: divide by N, the number of real tokens (cache.n), eq. 2.10-2.11",
         ("real tokens", "b*t"))
def ls_ce_mean_over_all_positions(dloss, cache):
    Bn, T, _ = cache.logits.shape
    return _ls_ce(dloss, cache, divisor=Bn * T)


@mistake("label_smoothed_cross_entropy", "dlogits uses onehot(y) as the target, ignoring the "
         "smoothing: the target distribution is q = (1 - eps) onehot(y) + eps / V (cache.eps), "
         "so dlogits = dloss * (p - q) * M / N (eq. 2.9, 2.11)", ("ignoring the smoothing", "cache.eps"))
def ls_ce_onehot_instead_of_q(dloss, cache):
    return _ls_ce(dloss, cache, smooth=False)


@mistake("label_smoothed_cross_entropy", OVERFLOW_HINT, ("overflow", "row max", "eq. 2.5"), stress=True)
def ls_ce_no_max_shift(dloss, cache):
    V, eps = cache.logits.shape[-1], cache.eps
    q = (1 - eps) * _onehot(cache) + eps / V
    return (_probs(cache.logits, shift=False) - q) * (cache.mask * (dloss / cache.n))[..., None]


# --------------------------------------------------------------------------- RNN step


def _rnn_tail(da, cache, dWh=None):
    db = da.sum(axis=0)
    dWh = da.T @ cache.h_prev if dWh is None else dWh
    return da @ cache.Wx, da @ cache.Wh, da.T @ cache.x, dWh, db, db.copy()


@mistake("rnn_step", "missing tanh': the gradient of a is da = dh * (1 - h^2) (eq. 3.4), "
         "and every other gradient is made from da", ("tanh'", "eq. 3.4"))
def rnn_no_tanh_prime(dh, cache):
    return _rnn_tail(dh * 1.0, cache)


@mistake("rnn_step", "tanh' is 1 - h^2, not 1 - h: da = dh * (1 - h^2) (eq. 3.4)",
         ("1 - h^2", "eq. 3.4"))
def rnn_tanh_prime_as_1_minus_h(dh, cache):
    return _rnn_tail(dh * (1 - cache.h), cache)


@mistake("rnn_step", "dh_prev misses the recurrent weights: h_prev enters a through h_prev Wh^T, "
         "so dh_prev = da Wh (eq. 3.5)", ("dh_prev", "wh", "recurrent"))
def rnn_dh_prev_without_Wh(dh, cache):
    da = dh * (1 - cache.h * cache.h)
    dx, _, dWx, dWh, dbx, dbh = _rnn_tail(da, cache)
    return dx, da, dWx, dWh, dbx, dbh


@mistake("rnn_step", "dWh is transposed: Wh is stored (out, in), so dWh = da^T h_prev, not "
         "h_prev^T da (eq. 3.6); Wh is square, so its shape cannot tell", ("transposed", "dwh"))
def rnn_dWh_transposed(dh, cache):
    da = dh * (1 - cache.h * cache.h)
    return _rnn_tail(da, cache, dWh=cache.h_prev.T @ da)


@mistake("rnn_step", "dWh is not accumulated over the batch: it holds the last row's outer product "
         "only (overwritten in a loop?) -- sum over every row, dWh = da^T h_prev (eq. 3.6)",
         ("accumulated", "batch", "dwh"))
def rnn_dWh_last_row(dh, cache):
    da = dh * (1 - cache.h * cache.h)
    return _rnn_tail(da, cache, dWh=da[-1:].T @ cache.h_prev[-1:])



# --------------------------------------------------------------------------- RNN sequence (BPTT)


def _bptt(dout, cache, *, carry=True, mask=True, accumulate=True, reverse=True, start=True,
          first=0):
    """The reference BPTT (solutions.rnn_backward) with one of its parts switched off; ``first``:
    the first step the loop reaches (1: the off-by-one ``range(T - 1, 0, -1)``)."""
    from .solutions import rnn_step_backward

    dhs, dh_last = dout
    xp = B.get_array_module(dhs)
    T = dhs.shape[1]
    dh = dh_last if start else xp.zeros_like(dh_last)
    dx, sums = [xp.zeros_like(cache.x[:, 0])] * T, [0.0] * 4
    for t in (reversed(range(first, T)) if reverse else range(first, T)):
        m = cache.mask[:, t].astype(dhs.dtype) if mask else 1.0  # 1.0 on real tokens, 0.0 on padding
        dh = (dh if carry or t == T - 1 else (1 - m) * dh) + m * dhs[:, t]
        dx[t], dh_prev, *step = rnn_step_backward(m * dh, cache.step(t))
        dh = dh_prev + (1 - m) * dh
        sums = [a + b for a, b in zip(sums, step)] if accumulate else step
    return (xp.stack(dx, axis=1), dh, *sums)


@mistake("rnn_sequence", "dWx, dWh, dbx and dbh hold one time step's contribution only "
         "(overwritten in the loop?): every step uses the same weights, so their gradients are "
         "summed over time, dWh = sum_t da_t^T h_(t-1) (eq. 3.6)", ("summed over time", "eq. 3.6"))
def bptt_weights_not_summed_over_time(dout, cache):
    return _bptt(dout, cache, accumulate=False)


@mistake("rnn_sequence", "the gradient each step sends back, da_t Wh, is dropped: h_(t-1) feeds "
         "step t as well as the output, so add dh_prev into the dh of the step before (eq. 3.7)",
         ("dropped", "dh_prev", "eq. 3.7"))
def bptt_dh_not_carried(dout, cache):
    return _bptt(dout, cache, carry=False)


@mistake("rnn_sequence", "padded steps are treated as real: where M_t = 0 the output is the "
         "constant 0, so dhs_t is ignored, the tanh gets no gradient and dh passes to t-1 "
         "unchanged (eq. 3.9, with eq. 3.8)", ("padded", "eq. 3.9"))
def bptt_padding_not_masked(dout, cache):
    return _bptt(dout, cache, mask=False)


@mistake("rnn_sequence", "the loop runs forward in time: BPTT goes from the last step to the "
         "first, t = T-1 down to 0, because dh_(t-1) needs step t's gradient (eq. 3.7)",
         ("last step to the first", "eq. 3.7"))
def bptt_forward_in_time(dout, cache):
    return _bptt(dout, cache, reverse=False)


@mistake("rnn_sequence", "dh_last, the gradient of the final state, is never used: start the "
         "loop with dh = dh_last rather than zeros (eq. 3.7 at t = T-1)", ("dh_last", "start"))
def bptt_dh_last_ignored(dout, cache):
    return _bptt(dout, cache, start=False)


@mistake("rnn_sequence", "dx[:, 0] is zero: your loop does not reach t = 0 -- range(T - 1, 0, -1) "
         "stops at t = 1; run t = T-1 down to 0 inclusive, range(T - 1, -1, -1), so step 0's "
         "weight gradients are added and dh0 is the dh carried out of it (eq. 3.7)",
         ("dx[:, 0] is zero", "t = 0"))
def bptt_skips_first_step(dout, cache):
    return _bptt(dout, cache, first=1)

# --------------------------------------------------------------------------- LSTM step


def _lstm_tail(da_i, da_f, da_g, da_o, dc_prev, cache, transpose_dWx=False, last_row_dWh=False):
    xp = B.get_array_module(da_i)
    da = xp.concatenate([da_i, da_f, da_g, da_o], axis=1)
    db = da.sum(axis=0)
    dWx = cache.x.T @ da if transpose_dWx else da.T @ cache.x
    dWh = da[-1:].T @ cache.h_prev[-1:] if last_row_dWh else da.T @ cache.h_prev
    return da @ cache.Wx, da @ cache.Wh, dc_prev, dWx, dWh, db, db.copy()


def _lstm(dout, cache, *, tanh_prime=True, sigmoid_prime=True, df_cell=None, dc_prev_f=True,
          upstream_dc=True, g_tanh=True, g_zero=False, **tail):
    dh, dc = dout
    i, f, g, o, tanh_c = cache.i, cache.f, cache.g, cache.o, cache.tanh_c
    dc_total = dh * o * ((1 - tanh_c * tanh_c) if tanh_prime else 1.0)
    if upstream_dc:
        dc_total = dc_total + dc
    di, df = dc_total * g, dc_total * (cache.c_prev if df_cell is None else df_cell)
    dg, do = dc_total * i, dh * tanh_c
    s = (lambda a: a * (1 - a)) if sigmoid_prime else (lambda a: a)
    da_g = dg * (1 - g * g) if g_tanh else dg * g * (1 - g)
    if g_zero:
        da_g = da_g * 0.0
    dc_prev = dc_total * f if dc_prev_f else dc_total * 1.0
    return _lstm_tail(di * s(i), df * s(f), da_g, do * s(o), dc_prev, cache, **tail)


@mistake("lstm_step", "the gradient reaching c through h misses tanh': h = o * tanh(c), so "
         "dc_total = dc + dh * o * (1 - tanh(c)^2) (eq. 4.7)", ("tanh", "eq. 4.7", "dc_total"))
def lstm_no_tanh_prime_on_cell(dout, cache):
    return _lstm(dout, cache, tanh_prime=False)


@mistake("lstm_step", "dc_total misses the upstream dc: c reaches the loss directly (the next step "
         "reads it) as well as through h, so dc_total = dc + dh * o * (1 - tanh(c)^2) (eq. 4.7)",
         ("dc_total", "directly", "eq. 4.7"))
def lstm_dc_total_without_dc(dout, cache):
    return _lstm(dout, cache, upstream_dc=False)


@mistake("lstm_step", "the candidate g is a tanh, not a sigmoid: its slope is 1 - g^2, so "
         "da_g = dg * (1 - g^2) (eq. 4.9)", ("tanh", "1 - g^2"))
def lstm_g_with_sigmoid_slope(dout, cache):
    return _lstm(dout, cache, g_tanh=False)


@mistake("lstm_step", "sigmoid' is s * (1 - s), not s: da_i = di * i * (1 - i), and likewise for "
         "f and o (eq. 4.9)", ("sigmoid'", "s * (1 - s)"))
def lstm_sigmoid_prime_as_s(dout, cache):
    return _lstm(dout, cache, sigmoid_prime=False)


@mistake("lstm_step", "the forget-gate gradient uses the new cell c: f multiplies c_prev, so "
         "df = dc_total * c_prev (eq. 4.8)", ("forget", "c_prev"))
def lstm_df_uses_new_cell(dout, cache):
    c = cache.f * cache.c_prev + cache.i * cache.g  # eq. 4.5: the new cell
    return _lstm(dout, cache, df_cell=c)


@mistake("lstm_step", "dc_prev misses the forget gate: c = f * c_prev + i * g, so "
         "dc_prev = dc_total * f (eq. 4.8)", ("dc_prev", "* f"))
def lstm_dc_prev_without_f(dout, cache):
    return _lstm(dout, cache, dc_prev_f=False)


@mistake("lstm_step", "dWx is transposed: Wx is stored (out, in) = (4H, D), so dWx = da^T x, "
         "not x^T da (eq. 4.10)", ("transposed", "dwx"))
def lstm_dWx_transposed(dout, cache):
    return _lstm(dout, cache, transpose_dWx=True)


@mistake("lstm_step", "dWh is not accumulated over the batch: it holds the last row's outer product "
         "only (overwritten in a loop?) -- sum over every row, dWh = da^T h_prev (eq. 4.10)",
         ("accumulated", "batch", "dwh"))
def lstm_dWh_last_row(dout, cache):
    return _lstm(dout, cache, last_row_dWh=True)


@mistake("lstm_step", "the g block of da is zero: da = [da_i, da_f, da_g, da_o] was filled in "
         "without its candidate block (left at zeros) -- dg = dc_total * i, "
         "da_g = dg * (1 - g^2) (eq. 4.8-4.9)", ("g block of da is zero", "da_g"))
def lstm_g_block_left_zero(dout, cache):
    return _lstm(dout, cache, g_zero=True)


# --------------------------------------------------------------------------- GRU step


def _gru(dh, cache, *, swap_z=False, sigmoid_prime=True, recurrent=True, direct=True, reset=True):
    xp = B.get_array_module(dh)
    h_prev, r, z, n = cache.h_prev, cache.r, cache.z, cache.n
    keep = 1 - z if swap_z else z  # the weight of h_prev in h
    dn = dh * (1 - keep)
    dz = dh * (n - h_prev) if swap_z else dh * (h_prev - n)
    dax_n = dn * (1 - n * n)
    dah_n = dax_n * r if reset else dax_n * 1.0
    s = (lambda a: a * (1 - a)) if sigmoid_prime else (lambda a: a)
    da_r, da_z = dax_n * cache.ah_n * s(r), dz * s(z)
    dax = xp.concatenate([da_r, da_z, dax_n], axis=1)
    dah = xp.concatenate([da_r, da_z, dah_n], axis=1)
    dh_prev = xp.zeros_like(dh)
    if direct:
        dh_prev = dh_prev + dh * keep
    if recurrent:
        dh_prev = dh_prev + dah @ cache.Wh
    return (dax @ cache.Wx, dh_prev, dax.T @ cache.x, dah.T @ h_prev,
            dax.sum(axis=0), dah.sum(axis=0))


@mistake("gru_step", "z and (1 - z) are swapped: PyTorch's GRU keeps the old state with z, "
         "h = (1 - z) * n + z * h_prev (eq. 5.4), so dn = dh * (1 - z), dz = dh * (h_prev - n) and "
         "the direct path into h_prev is dh * z (eq. 5.5) -- you differentiated "
         "h = z * n + (1 - z) * h_prev", ("(1 - z)", "eq. 5.4"))
def gru_z_swapped(dh, cache):
    return _gru(dh, cache, swap_z=True)


@mistake("gru_step", "sigmoid' is s * (1 - s), not s: da_r = dr * r * (1 - r), "
         "da_z = dz * z * (1 - z) (eq. 5.7)", ("sigmoid'", "s * (1 - s)"))
def gru_sigmoid_prime_as_s(dh, cache):
    return _gru(dh, cache, sigmoid_prime=False)


@mistake("gru_step", "dh_prev misses the recurrent term dah Wh: h_prev feeds the gates through Wh "
         "as well as the direct path, dh_prev = dh * z + dah Wh (eq. 5.8)", ("recurrent", "dah wh"))
def gru_dh_prev_without_recurrent(dh, cache):
    return _gru(dh, cache, recurrent=False)


@mistake("gru_step", "dh_prev misses the direct path dh * z: h = (1 - z) * n + z * h_prev uses "
         "h_prev itself too, so dh_prev = dh * z + dah Wh (eq. 5.5, 5.8)", ("direct", "dh * z"))
def gru_dh_prev_without_direct(dh, cache):
    return _gru(dh, cache, direct=False)


@mistake("gru_step", "the n block of dWh and dbh misses the reset gate: n = tanh(ax_n + r * ah_n), "
         "so dah_n = dax_n * r (eq. 5.6), while dax_n has no r", ("reset", "dah_n"))
def gru_reset_missing_in_dah_n(dh, cache):
    return _gru(dh, cache, reset=False)


# --------------------------------------------------------------------------- LSTM and GRU sequences


def _gated_bptt(dout, cache, step_backward, *, carry=("h", "c"), mask_dhs=True, mask=True,
                start=("h", "c"), first=0):
    """The reference BPTT of a gated cell (through its step backward) with one part switched off.

    carry: the parts of the state that pass a padded step unchanged; mask_dhs: dhs_t joins the
    carried dh only at real steps; start: the parts of the final state's gradient the loop
    starts from; first: the first step the loop reaches (1: ``range(T - 1, 0, -1)``)."""
    dhs, *dfinal = dout
    xp = B.get_array_module(dhs)
    names = ("h", "c")[:len(dfinal)]
    T = dhs.shape[1]
    ds = [d if s in start else xp.zeros_like(d) for s, d in zip(names, dfinal)]
    dx, sums = [xp.zeros_like(cache.x[:, 0])] * T, [0.0] * 4
    for t in reversed(range(first, T)):
        m = cache.mask[:, t].astype(dhs.dtype) if mask else 1.0  # 1.0 on real tokens, 0.0 on padding
        ds[0] = ds[0] + (m * dhs[:, t] if mask_dhs else dhs[:, t])
        masked = tuple(m * d for d in ds)
        dx[t], *grads = step_backward(masked if len(ds) > 1 else masked[0], cache.step(t))
        prev, step = grads[:len(ds)], grads[len(ds):]
        ds = [p + (1 - m) * d if s in carry else p for s, p, d in zip(names, prev, ds)]
        sums = [a + b for a, b in zip(sums, step)]
    return (xp.stack(dx, axis=1), *ds, *sums)


def _lstm_bptt(dout, cache, **switches):
    from .solutions import lstm_step_backward

    return _gated_bptt(dout, cache, lstm_step_backward, **switches)


def _gru_bptt(dout, cache, **switches):
    from .solutions import gru_step_backward

    return _gated_bptt(dout, cache, gru_step_backward, **switches)


@mistake("lstm_sequence", "dx[:, 0] is zero: your loop does not reach t = 0 -- range(T - 1, 0, -1) "
         "stops at t = 1; run t = T-1 down to 0 inclusive, range(T - 1, -1, -1), so step 0's "
         "weight gradients are added and dh0, dc0 are what is carried out of it (eq. 3.7)",
         ("dx[:, 0] is zero", "t = 0"))
def lstm_bptt_skips_first_step(dout, cache):
    return _lstm_bptt(dout, cache, first=1)


@mistake("lstm_sequence", "dc is not carried through padded steps: where M_t = 0 the cell state is "
         "copied, c_t = c_(t-1), so dc passes that step unchanged, like dh (eq. 4.11) -- the step "
         "backward of a padded row returns 0 for dc_prev, so add back (1 - M_t) dc",
         ("dc", "unchanged", "eq. 4.11"))
def lstm_bptt_dc_not_carried_through_padding(dout, cache):
    return _lstm_bptt(dout, cache, carry=("h",))


@mistake("lstm_sequence", "dhs_t is added at padded steps: a padded output is the constant 0, so "
         "its gradient goes nowhere -- add M_t dhs_t, not dhs_t, to the carried dh (eq. 4.11)",
         ("padded output", "m_t dhs_t"))
def lstm_bptt_dhs_added_at_padding(dout, cache):
    return _lstm_bptt(dout, cache, mask_dhs=False)


@mistake("lstm_sequence", "padded steps are treated as real: where M_t = 0 the cell gets no "
         "gradient, dhs_t is ignored and (dh, dc) pass to t-1 unchanged (eq. 4.11)",
         ("treated as real", "eq. 4.11"))
def lstm_bptt_padding_not_masked(dout, cache):
    return _lstm_bptt(dout, cache, mask=False)


@mistake("lstm_sequence", "the final state's gradients dh_last and dc_last are never used: start "
         "the loop with dh = dh_last and dc = dc_last rather than zeros; they reach each row's "
         "last real step through its padding (eq. 4.11)", ("dh_last and dc_last", "start"))
def lstm_bptt_final_state_ignored(dout, cache):
    return _lstm_bptt(dout, cache, start=())


@mistake("lstm_sequence", "dc_last, the gradient of the final cell state, is never used: start "
         "the loop with dc = dc_last, not zeros -- c reaches the loss directly as well as through "
         "h (eq. 4.7, 4.11)", ("dc_last", "not zeros"))
def lstm_bptt_dc_last_ignored(dout, cache):
    return _lstm_bptt(dout, cache, start=("h",))


@mistake("gru_sequence", "dx[:, 0] is zero: your loop does not reach t = 0 -- range(T - 1, 0, -1) "
         "stops at t = 1; run t = T-1 down to 0 inclusive, range(T - 1, -1, -1), so step 0's "
         "weight gradients are added and dh0 is the dh carried out of it (eq. 3.7)",
         ("dx[:, 0] is zero", "t = 0"))
def gru_bptt_skips_first_step(dout, cache):
    return _gru_bptt(dout, cache, first=1)


@mistake("gru_sequence", "dh is not carried through padded steps: where M_t = 0 the state is "
         "copied, h_t = h_(t-1), so dh passes that step unchanged (eq. 5.9) -- the step backward "
         "of a padded row returns 0 for dh_prev, so add back (1 - M_t) dh",
         ("not carried", "unchanged", "eq. 5.9"))
def gru_bptt_dh_not_carried_through_padding(dout, cache):
    return _gru_bptt(dout, cache, carry=())


@mistake("gru_sequence", "dhs_t is added at padded steps: a padded output is the constant 0, so "
         "its gradient goes nowhere -- add M_t dhs_t, not dhs_t, to the carried dh (eq. 5.9)",
         ("padded output", "m_t dhs_t"))
def gru_bptt_dhs_added_at_padding(dout, cache):
    return _gru_bptt(dout, cache, mask_dhs=False)


@mistake("gru_sequence", "padded steps are treated as real: where M_t = 0 the cell gets no "
         "gradient, dhs_t is ignored and dh passes to t-1 unchanged (eq. 5.9)",
         ("treated as real", "eq. 5.9"))
def gru_bptt_padding_not_masked(dout, cache):
    return _gru_bptt(dout, cache, mask=False)


@mistake("gru_sequence", "dh_last, the gradient of the final state, is never used: start the loop "
         "with dh = dh_last rather than zeros; it reaches each row's last real step through its "
         "padding (eq. 5.9)", ("dh_last", "start"))
def gru_bptt_final_state_ignored(dout, cache):
    return _gru_bptt(dout, cache, start=())


# --------------------------------------------------------------------------- additive attention


def _attention(dout, cache, *, dweights=True, softmax_mean=True, tanh_prime=True,
               sum_over_s=True, transpose_dWq=False):
    dcontext, dw_up = dout
    q, values, Wq, v, t, w = cache.q, cache.values, cache.Wq, cache.v, cache.t, cache.weights
    dw = (values @ dcontext[:, :, None])[..., 0]
    if dweights:
        dw = dw + dw_up
    de = w * (dw - (w * dw).sum(axis=1, keepdims=True)) if softmax_mean else w * dw
    du = de[:, :, None] * v * ((1 - t * t) if tanh_prime else 1.0)
    dq_proj = du.sum(axis=1) if sum_over_s else du[:, -1] * 1.0
    dWq = q.T @ dq_proj if transpose_dWq else dq_proj.T @ q
    dv = (de[:, :, None] * t).sum(axis=(0, 1))
    return dq_proj @ Wq, du, w[:, :, None] * dcontext[:, None, :], dWq, dv


@mistake("additive_attention", "the softmax backward misses its second term: de_s = alpha_s (dalpha_s - "
         "sum_j alpha_j dalpha_j) (eq. 8.7) -- the weights sum to 1, so one cannot move alone",
         ("eq. 8.7", "sum_j"))
def attention_softmax_without_mean(dout, cache):
    return _attention(dout, cache, softmax_mean=False)


@mistake("additive_attention", "your gradients ignore dweights: the forward returns (context, "
         "weights), so dalpha_s = v_s . dcontext + dweights_s before the softmax backward (eq. 8.6-8.7)",
         ("dweights",))
def attention_ignores_dweights(dout, cache):
    return _attention(dout, cache, dweights=False)


@mistake("additive_attention", "missing tanh': du = de_s v * (1 - t^2) (eq. 8.8)",
         ("tanh'", "eq. 8.8"))
def attention_no_tanh_prime(dout, cache):
    return _attention(dout, cache, tanh_prime=False)


@mistake("additive_attention", "dq and dWq use one source position only: q Wq^T is added at every "
         "position s, so sum du over s first, dq = (sum_s du_s) Wq (eq. 8.8)", ("sum", "position"))
def attention_query_not_summed_over_s(dout, cache):
    return _attention(dout, cache, sum_over_s=False)


@mistake("additive_attention", "dWq is transposed: Wq is stored (out, in) = (A, Hq), so "
         "dWq = (sum_s du_s)^T q (eq. 8.8)", ("transposed", "dwq"))
def attention_dWq_transposed(dout, cache):
    return _attention(dout, cache, transpose_dWq=True)


# --------------------------------------------------------------------------- bridge


def _bridge(ds0, cache, *, slope="1 - s0^2", transpose_dW=False):
    s0 = cache.s0
    da = ds0 * {"1 - s0^2": 1 - s0 * s0, "1 - s0": 1 - s0, "none": 1.0}[slope]
    dW = cache.h.T @ da if transpose_dW else da.T @ cache.h
    return da @ cache.W, dW, da.sum(axis=0)


@mistake("bridge_state", "missing tanh': s0 = tanh(a), so da = ds0 * (1 - s0^2) (eq. 3.3), and "
         "dh, dW and db are all made from da (eq. 9.5)", ("tanh'", "eq. 3.3"))
def bridge_no_tanh_prime(ds0, cache):
    return _bridge(ds0, cache, slope="none")


@mistake("bridge_state", "tanh' is 1 - s0^2, not 1 - s0: da = ds0 * (1 - s0^2) (eq. 3.3)",
         ("1 - s0^2", "eq. 3.3"))
def bridge_tanh_prime_as_1_minus_s0(ds0, cache):
    return _bridge(ds0, cache, slope="1 - s0")


@mistake("bridge_state", "dW is transposed: W is stored (out, in) = (H, Henc), so dW = da^T h, "
         "not h^T da (eq. 2.2, 9.5)", ("transposed", "dw"))
def bridge_dW_transposed(ds0, cache):
    return _bridge(ds0, cache, transpose_dW=True)


# --------------------------------------------------------------------------- attention heads


def _split(x, h):
    Bn, T, D = x.shape
    return x.reshape(Bn, T, h, D // h).transpose(0, 2, 1, 3)


def _merge(x):
    Bn, h, T, d = x.shape
    return x.transpose(0, 2, 1, 3).reshape(Bn, T, h * d)


def _heads(dout, cache, *, scale=True, weights=None, merge=_merge, softmax_sum=True):
    dC, dw_up = dout
    Q, K, V = cache.Q, cache.K, cache.V
    w = cache.weights if weights is None else weights
    dC = _split(dC, Q.shape[1])
    dw = dC @ V.transpose(0, 1, 3, 2) + dw_up
    dl = w * (dw - (w * dw).sum(axis=-1, keepdims=True)) if softmax_sum else w * dw
    if scale:
        dl = dl * cache.scale
    return merge(dl @ K), merge(dl.transpose(0, 1, 3, 2) @ Q), merge(w.transpose(0, 1, 3, 2) @ dC)


@mistake("attention_heads", "dq and dk miss the scale: the scores are l = Q K^T / sqrt(d) (eq. 12.2), "
         "so the backward multiplies by 1/sqrt(d) too, dQ_j = dl K_j / sqrt(d) (eq. 12.6)",
         ("1/sqrt(d)", "eq. 12.6"))
def heads_no_scale(dout, cache):
    return _heads(dout, cache, scale=False)


@mistake("attention_heads", "your weights are not the forward's: masking after the softmax (zeroing "
         "the future and the padding in softmax(Q K^T / sqrt(d))) leaves rows that sum to less than 1; "
         "the mask acts on the scores before the softmax (eq. 12.2-12.3), so use cache.weights",
         ("before the softmax", "cache.weights"))
def heads_mask_after_softmax(dout, cache):
    xp = B.get_array_module(cache.Q)
    scores = (cache.Q @ cache.K.transpose(0, 1, 3, 2)) * cache.scale
    e = xp.exp(scores - scores.max(axis=-1, keepdims=True))
    allowed = cache.weights != 0  # the forward's mask: a real weight is exp(.) / sum > 0
    return _heads(dout, cache, weights=e / e.sum(axis=-1, keepdims=True) * allowed)


@mistake("attention_heads", "dq, dk and dv have their heads merged in the wrong order: a plain "
         "reshape of (B, h, T, d) to (B, T, h d) interleaves positions and heads; move the head axis "
         "back beside d first, transpose(0, 2, 1, 3) then reshape -- the inverse of the split "
         "(eq. 12.1, 12.4)", ("merged in the wrong order", "transpose(0, 2, 1, 3)"))
def heads_merged_wrong_order(dout, cache):
    return _heads(dout, cache, merge=lambda x: x.reshape(x.shape[0], x.shape[2], -1))


@mistake("attention_heads", "the softmax backward misses its subtracted sum: dl = alpha * (dalpha - "
         "sum_s alpha_s dalpha_s) (eq. 8.7 in eq. 12.6) -- the weights of a row sum to 1, so one "
         "cannot move alone", ("subtracted sum", "eq. 8.7"))
def heads_softmax_without_sum(dout, cache):
    return _heads(dout, cache, softmax_sum=False)


# --------------------------------------------------------------------------- layer norm


def _layernorm(dy, cache, *, axis=-1, mean_term=True, variance_term=True, sum_axes=(0, 1)):
    xhat, rstd, gamma = cache
    dxhat = dy * gamma
    dx = dxhat
    if mean_term:
        dx = dx - dxhat.mean(axis=axis, keepdims=True)
    if variance_term:
        dx = dx - xhat * (dxhat * xhat).mean(axis=axis, keepdims=True)
    return dx * rstd, (dy * xhat).sum(axis=sum_axes), dy.sum(axis=sum_axes)


@mistake("layernorm", "the means in dx run over the wrong axis -- over the batch, as batch norm's "
         "would: layer norm's mean and sd are per row, over the D features, so "
         "mean(..., axis=-1, keepdims=True) (eq. 12.8)", ("wrong axis", "axis=-1"))
def layernorm_mean_over_batch(dy, cache):
    return _layernorm(dy, cache, axis=0)


@mistake("layernorm", "dx misses the mean term: the mean depends on every x_k of the row, so "
         "subtract mean(dxhat) (eq. 12.8)", ("mean term", "mean(dxhat)"))
def layernorm_no_mean_term(dy, cache):
    return _layernorm(dy, cache, mean_term=False)


@mistake("layernorm", "dx misses the variance term: sd depends on every x_k of the row, so "
         "subtract xhat * mean(dxhat * xhat) (eq. 12.8)", ("variance term", "xhat * mean(dxhat * xhat)"))
def layernorm_no_variance_term(dy, cache):
    return _layernorm(dy, cache, variance_term=False)


@mistake("layernorm", "dgamma and dbeta are summed over the batch only: gamma and beta are shared by "
         "every position of every sentence, so sum over batch and time, axis=(0, 1) (eq. 12.8)",
         ("batch and time", "axis=(0, 1)"))
def layernorm_gain_not_summed_over_time(dy, cache):
    return _layernorm(dy, cache, sum_axes=0)


# --------------------------------------------------------------------------- sentence embedding


def _sentence(do, cache, *, weights=True, word_in_dL=True, scale=True, mask_empty=True):
    """The library's sentence_position_backward with one mistake switched on; the scatters are
    the library's embedding_backward, as the learner's would be."""
    xp = B.get_array_module(do)
    if mask_empty:
        do = do * cache.real
    dsum = (cache.scale if scale else 1.0) * do[:, :, None, :]
    rows = dsum * (1 + cache.L) if weights else xp.broadcast_to(dsum, cache.tok.shape)
    dL = (dsum * (cache.tok if word_in_dL else 1.0)).sum(axis=(0, 1))
    if not word_in_dL:
        dL = xp.broadcast_to(dL, cache.L.shape) * 1.0
    return embedding_backward(rows, cache.e_cache), dL, embedding_backward(do, cache.p_cache)


@mistake("sentence_embedding", "dE misses the word-position weights: slot j reads E[x_sj] scaled by "
         "(1 + L_j), so its word's gradient is sqrt(D) (1 + L_j) * do_s (eq. 15.6)", ("(1 + l_j)", "de"))
def sentence_dE_without_weights(do, cache):
    return _sentence(do, cache, weights=False)


@mistake("sentence_embedding", "dL misses the word vectors: L_j multiplies E[x_sj], so dL_j = sqrt(D) sum "
         "over stories and sentences of E[x_sj] * do_s, the vector of the word in slot j (eq. 15.6)",
         ("dl", "e[x_sj] * do_s"))
def sentence_dL_without_words(do, cache):
    return _sentence(do, cache, word_in_dL=False)


@mistake("sentence_embedding", "dE and dL miss the sqrt(D) scale: the forward multiplies the word part "
         "by sqrt(D) (cache.scale), and so does its gradient; P's part is not scaled (eq. 15.6)",
         ("sqrt(d)", "cache.scale"))
def sentence_unscaled(do, cache):
    return _sentence(do, cache, scale=False)


@mistake("sentence_embedding", "an empty sentence passes gradient to P: the forward multiplies o by "
         "cache.real, so a sentence of padding only is the zero vector, position included, and its do "
         "reaches nothing -- multiply do by cache.real first (eq. 15.6)", ("empty sentence", "cache.real"))
def sentence_empty_not_masked(do, cache):
    return _sentence(do, cache, mask_empty=False)
