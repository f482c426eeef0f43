"""The functions a learner starts from: copy one into a notebook cell, fill it in, then check it.

    from minis2s.exercises import check, stubs
    from minis2s.functional.lstm import lstm_step_forward     # the forward the grader runs

    def lstm_step_backward(dout, cache):
        ...                                                    # your code

    check(lstm_step_backward)

Each stub has the signature of the library's backward and documents the cache the library's
forward hands it: a ``NamedTuple`` of ``minis2s.functional`` whose fields carry the lesson's
symbols. Gradients come back in the order of the forward's arguments, each with the shape of
its argument. The grader always passes arrays (never None).
"""


def affine_backward(dy, cache):
    """Backward of y = x W^T + b (lesson 02, eq. 2.1-2.2).

    dy: (B, H), the gradient of the loss with respect to y.
    cache (minis2s.functional.linear.AffineCache, from affine_forward):
        cache.x  (B, D)  the input
        cache.W  (H, D)  the weight, PyTorch's (out, in) layout
    Returns dx (B, D), dW (H, D), db (H,).
    """
    raise NotImplementedError("write eq. 2.2 first: dx = dy W, dW = dy^T x, db = the sum of dy over the rows")


def embedding_backward(dout, cache):
    """Backward of the row lookup out[b, t] = E[ids[b, t]] (lesson 02, eq. 2.3-2.4).

    dout: (B, T, D), the gradient of the loss with respect to out.
    cache (minis2s.functional.linear.EmbeddingCache, from embedding_forward):
        cache.ids          (B, T)  the token ids read; an id may repeat, and padded positions
                                   hold padding_idx
        cache.E_shape      (V, D)  the table's shape (the backward needs no values of E)
        cache.E_dtype              the table's dtype
        cache.padding_idx  int     the padding id, whose row is a constant zero vector (or None)
    Returns dE (V, D): row v is the sum of dout over every position reading v; the padding row
    is 0 (eq. 2.4).
    """
    raise NotImplementedError(
        "write eq. 2.4 first: dE = zeros (V, D), add every position's dout into the row of its id "
        "(B.scatter_add or np.add.at), then set the padding row to 0"
    )


def softmax_cross_entropy_backward(dloss, cache):
    """Backward of the masked mean cross-entropy (lesson 02, eq. 2.5, 2.9-2.11).

    dloss: a 0-d array, the gradient of the final loss with respect to this loss (often 1).
    cache (minis2s.functional.losses.CrossEntropyCache, from softmax_cross_entropy_forward):
        cache.logits    (B, T, V)  the raw scores z; p = softmax(z) subtracts each row's max
                                   before exp (eq. 2.5) ...
        cache.logp      (B, T, V)  ... or read it off log p = log_softmax(z) (eq. 2.7)
        cache.targets   (B, T)     the target class ids y (0 at padding)
        cache.mask      (B, T)     M: 1.0 on real tokens, 0.0 on padding
        cache.n         0-d        N, the number of real tokens (at least 1; eq. 2.10)
        cache.eps       float      label smoothing, 0 here: q = onehot(y)
        cache.nll_sum, cache.n_tokens  0-d  for perplexity; not needed here
    Returns dlogits (B, T, V): dloss * (p - onehot(y)) * M / N per token (eq. 2.11).
    """
    raise NotImplementedError(
        "write eq. 2.5 (p = softmax(logits), max-shifted) and eq. 2.11: dlogits = (p - onehot(y)) M / N"
    )


def label_smoothed_cross_entropy_backward(dloss, cache):
    """Backward of the masked mean cross-entropy with label smoothing eps > 0 (lesson 02,
    eq. 2.9-2.11).

    dloss: a 0-d array, the gradient of the final loss with respect to this loss (often 1).
    cache (minis2s.functional.losses.CrossEntropyCache, from softmax_cross_entropy_forward):
        cache.logits    (B, T, V)  the raw scores z
        cache.logp      (B, T, V)  log p = log_softmax(z) (eq. 2.7): p = exp(logp)
        cache.targets   (B, T)     the target class ids y (0 at padding)
        cache.mask      (B, T)     M: 1.0 on real tokens, 0.0 on padding
        cache.n         0-d        N, the number of real tokens (at least 1; eq. 2.10)
        cache.eps       float      label smoothing, > 0 here: eps / V of the mass goes to every
                                   class, the target included (eq. 2.9)
        cache.nll_sum, cache.n_tokens  0-d  for perplexity; not needed here
    Returns dlogits (B, T, V): dloss * (p - q) * M / N per token, with
    q = (1 - eps) onehot(y) + eps / V (eq. 2.9, 2.11).
    """
    raise NotImplementedError(
        "write eq. 2.9 first: q = (1 - eps) onehot(y) + eps / V, then eq. 2.11: dlogits = (p - q) M / N"
    )


def rnn_step_backward(dh, cache):
    """Backward of h = tanh(x Wx^T + bx + h_prev Wh^T + bh) (lesson 03, eq. 3.1-3.6).

    dh: (B, H), the gradient of the loss with respect to h.
    cache (minis2s.functional.rnn.RNNStepCache, from rnn_step_forward):
        cache.x       (B, D)
        cache.h_prev  (B, H)
        cache.Wx      (H, D)
        cache.Wh      (H, H)
        cache.h       (B, H)  the new state, tanh(a) (eq. 3.2)
    Returns dx (B, D), dh_prev (B, H), dWx (H, D), dWh (H, H), dbx (H,), dbh (H,).
    """
    raise NotImplementedError("write eq. 3.4 first: da = dh * (1 - h^2)")


def rnn_backward(dout, cache):
    """Backpropagation through time over a padded batch (lesson 03, eq. 3.7-3.9).

    dout = (dhs, dh_last): dhs (B, T, H), the gradient of every output h_t; dh_last (B, H),
    the gradient of the final state.
    cache (minis2s.functional.rnn.RNNCache, from rnn_forward):
        cache.step(t)  step t's own RNNStepCache: pass it to a step backward (yours from the
                       previous exercise, or minis2s.exercises.solutions.rnn_step_backward)
        cache.mask     (B, T, 1) bool  M_t: True on real tokens (each row real, then padded)
        cache.x        (B, T, D)
        cache.h0       (B, H)
        cache.Wx       (H, D)
        cache.Wh       (H, H)
        cache.h        (B, T, H)  the state after every step, carried over padding (eq. 3.8)
    Returns dx (B, T, D), dh0 (B, H), dWx (H, D), dWh (H, H), dbx (H,), dbh (H,).
    """
    raise NotImplementedError(
        "write eq. 3.7 first: loop t from T-1 down to 0, dh = dh + M_t dhs_t, and send M_t dh through a step backward"
    )

def lstm_step_backward(dout, cache):
    """Backward of one LSTM step, gates i, f, g, o in PyTorch's order (lesson 04, eq. 4.1-4.10).

    dout = (dh, dc), each (B, H): the gradients of the loss with respect to h and c.
    cache (minis2s.functional.lstm.LSTMStepCache, from lstm_step_forward):
        cache.x               (B, D)
        cache.h_prev          (B, H)
        cache.c_prev          (B, H)
        cache.Wx              (4H, D)  row blocks i, f, g, o
        cache.Wh              (4H, H)
        cache.i, .f, .o       (B, H)   sigmoid gates (eq. 4.2)
        cache.g               (B, H)   tanh candidate (eq. 4.4)
        cache.tanh_c          (B, H)   tanh(c) of the new cell c = f * c_prev + i * g, so
                                       h = o * tanh_c (eq. 4.5-4.6)
    Returns dx (B, D), dh_prev (B, H), dc_prev (B, H), dWx (4H, D), dWh (4H, H), dbx (4H,),
    dbh (4H,). Stack the gate gradients as da = [da_i, da_f, da_g, da_o], (B, 4H).
    """
    raise NotImplementedError("write eq. 4.7 first: dc_total = dc + dh * o * (1 - tanh(c)^2)")


def lstm_backward(dout, cache):
    """Backpropagation through time of the LSTM over a padded batch (lesson 04, eq. 4.7-4.11).

    dout = (dhs, dh_last, dc_last): dhs (B, T, H), the gradient of every output h_t; dh_last and
    dc_last (B, H), the gradients of the final state (h, c) -- a row's state after its last
    real token.
    cache (minis2s.functional.lstm.LSTMCache, from lstm_forward):
        cache.step(t)  step t's own LSTMStepCache: pass it to a step backward (yours from the
                       previous exercise, or minis2s.exercises.solutions.lstm_step_backward)
        cache.mask     (B, T, 1) bool  M_t: True on real tokens (each row real, then padded)
        cache.x        (B, T, D)
        cache.h0       (B, H)
        cache.Wx       (4H, D)
        cache.Wh       (4H, H)
        cache.h        (B, T, H)  the state after every step, carried over padding (eq. 4.11)
        cache.gates    a list of T LSTMGatesCache, step t's gates (cache.step(t) holds them)
    Returns dx (B, T, D), dh0 (B, H), dc0 (B, H), dWx (4H, D), dWh (4H, H), dbx (4H,), dbh (4H,).
    """
    raise NotImplementedError(
        "write eq. 4.11 first: loop t from T-1 down to 0, dh = dh + M_t dhs_t, send (M_t dh, M_t dc) "
        "through a step backward, and pass (dh, dc) unchanged where M_t = 0"
    )


def gru_step_backward(dh, cache):
    """Backward of one GRU step, gates r, z, n in PyTorch's order (lesson 05, eq. 5.1-5.8).

    dh: (B, H), the gradient of the loss with respect to h = (1 - z) * n + z * h_prev.
    cache (minis2s.functional.gru.GRUStepCache, from gru_step_forward):
        cache.x       (B, D)
        cache.h_prev  (B, H)
        cache.Wx      (3H, D)  row blocks r, z, n
        cache.Wh      (3H, H)
        cache.r, .z   (B, H)   reset and update gates (eq. 5.2)
        cache.n       (B, H)   candidate tanh(ax_n + r * ah_n) (eq. 5.3)
        cache.ah_n    (B, H)   h_prev Wh_n^T + bh_n, the term r scales (eq. 5.1)
    Returns dx (B, D), dh_prev (B, H), dWx (3H, D), dWh (3H, H), dbx (3H,), dbh (3H,).
    The gradients of x Wx^T + bx (dax) and of h_prev Wh^T + bh (dah) differ in the n block.
    """
    raise NotImplementedError("write eq. 5.5 first: dn = dh * (1 - z), dz = dh * (h_prev - n)")


def gru_backward(dout, cache):
    """Backpropagation through time of the GRU over a padded batch (lesson 05, eq. 5.5-5.9).

    dout = (dhs, dh_last): dhs (B, T, H), the gradient of every output h_t; dh_last (B, H), the
    gradient of the final state -- a row's state after its last real token.
    cache (minis2s.functional.gru.GRUCache, from gru_forward):
        cache.step(t)  step t's own GRUStepCache: pass it to a step backward (yours from the
                       previous exercise, or minis2s.exercises.solutions.gru_step_backward)
        cache.mask     (B, T, 1) bool  M_t: True on real tokens (each row real, then padded)
        cache.x        (B, T, D)
        cache.h0       (B, H)
        cache.Wx       (3H, D)
        cache.Wh       (3H, H)
        cache.h        (B, T, H)  the state after every step, carried over padding (eq. 5.9)
        cache.gates    a list of T GRUGatesCache, step t's gates (cache.step(t) holds them)
    Returns dx (B, T, D), dh0 (B, H), dWx (3H, D), dWh (3H, H), dbx (3H,), dbh (3H,).
    """
    raise NotImplementedError(
        "write eq. 5.9 first: loop t from T-1 down to 0, dh = dh + M_t dhs_t, send M_t dh through a "
        "step backward, and pass dh unchanged where M_t = 0"
    )


def additive_attention_backward(dout, cache):
    """Backward of Bahdanau attention for one query (lesson 08, eq. 8.1, 8.4-8.8).

    dout = (dcontext (B, Hv), dweights (B, S)): the forward returns (context, weights).
    cache (minis2s.functional.attention.AdditiveAttentionCache, from additive_attention_forward):
        cache.q        (B, Hq)     the query
        cache.values   (B, S, Hv)
        cache.Wq       (A, Hq)
        cache.v        (A,)        the score vector w: scores_s = t_s . v (eq. 8.1)
        cache.t        (B, S, A)   tau = tanh(q Wq^T + keys_proj) (eq. 8.1)
        cache.weights  (B, S)      the attention weights alpha_s (eq. 8.4), 0 at padding
    Returns dq (B, Hq), dkeys_proj (B, S, A), dvalues (B, S, Hv), dWq (A, Hq), dv (A,).
    """
    raise NotImplementedError(
        "write eq. 8.6 first: dalpha_s = v_s . dcontext + dweights_s, dvalues_s = alpha_s dcontext"
    )


def bridge_state_backward(ds0, cache):
    """Backward of the bridge s0 = tanh(h W^T + b) (lesson 09, eq. 9.5).

    ds0: (B, H), the gradient of the loss with respect to the decoder's first state s0.
    cache (minis2s.functional.bridge.BridgeStateCache, from bridge_state_forward):
        cache.h   (B, Henc)  the encoder's final state [h_fwd; h_bwd]: Henc = 2H for a
                             bidirectional encoder of H units per direction
        cache.W   (H, Henc)  PyTorch's (out, in) layout
        cache.s0  (B, H)     tanh(a): read tanh's slope off it (eq. 3.3)
    Returns dh (B, Henc), dW (H, Henc), db (H,).
    """
    raise NotImplementedError(
        "write eq. 3.3 first: da = ds0 * (1 - s0^2); then eq. 2.2: dh = da W, dW = da^T h, db = the sum of da over the rows"
    )


def attention_heads_backward(dout, cache):
    """Backward of the heads of multi-head attention, between the projections (lesson 12, eq. 12.2-12.6).

    dout = (dC (B, T, D), dweights (B, h, T, S)): the forward returns (C, weights), C the heads'
    contexts side by side, C[:, t] = [C_1 | ... | C_h] at position t.
    cache (minis2s.functional.multihead.AttentionHeadsCache, from attention_heads_forward):
        cache.Q        (B, h, T, d)  the query heads: q.reshape(B, T, h, d).transpose(0, 2, 1, 3)
        cache.K        (B, h, S, d)  the key heads, split the same way
        cache.V        (B, h, S, d)  the value heads
        cache.weights  (B, h, T, S)  alpha (eq. 12.3), already masked: exactly 0 where key s is
                                     padding, where s > t (causal), and on a padded query's row
        cache.drop     None here     the dropout mask of alpha (no dropout in this exercise)
        cache.scale    float         1 / sqrt(d), the scores' scale (eq. 12.2)
    Returns dq (B, T, D), dk (B, S, D), dv (B, S, D), heads merged back like C.
    """
    raise NotImplementedError(
        "write eq. 12.5 first: split dC into heads like the forward split q, then dalpha = dC V^T and dV = alpha^T dC"
    )


def layernorm_backward(dy, cache):
    """Backward of layer normalisation over the last axis (lesson 12, eq. 12.7-12.8).

    dy: (B, T, D), the gradient of the loss with respect to y = gamma * xhat + beta.
    cache (minis2s.functional.layernorm.LayerNormCache, from layernorm_forward):
        cache.xhat   (B, T, D)  the standardised input (x - mean) / sd, row by row (eq. 12.7)
        cache.rstd   (B, T, 1)  1 / sd of each row
        cache.gamma  (D,)       the gain
    Returns dx (B, T, D), dgamma (D,), dbeta (D,).
    """
    raise NotImplementedError(
        "write eq. 12.8 first: dxhat = dy * gamma, then dx = (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) / sd, means over the D features"
    )


def sentence_position_backward(do, cache):
    """Backward of one vector per sentence, o_s = sqrt(D) sum_j (1 + L_j) * E[x_sj] + P[s]
    (lesson 15, eq. 15.6).

    do: (B, S, D), the gradient of the loss with respect to o.
    cache (minis2s.functional.positional.SentencePositionCache, from sentence_position_forward):
        cache.tok      (B, S, J, D)  the word vectors E[x_sj], zero in padded word slots
        cache.L        (J, D)        the word-slot weights (Lambda)
        cache.e_cache  EmbeddingCache of the word lookup (ids (B, S*J)): for embedding_backward
        cache.p_cache  EmbeddingCache of the position lookup (ids (B, S))
        cache.scale    float         sqrt(D), the word part's scale
        cache.real     (B, S, 1)     False for a sentence of padding only, which the forward
                                     set to the zero vector, position included
    Returns dE (V, D), dL (J, D), dP (S_max, D). embedding_backward(dout, cache) (lesson 02)
    adds each position's row of dout into the row of its id, and zeroes the padding row.
    """
    raise NotImplementedError(
        "write eq. 15.6's backward first: every word slot j of sentence s gets sqrt(D) do_s, "
        "then multiply by (1 + L_j) for dE and by E[x_sj] for dL"
    )


# --------------------------------------------------------------------------- checked by their output
# These are graded by comparing what they return with the library's function on seeded inputs
# (minis2s.exercises.outputs), not by a gradient check.


def stable_softmax(x):
    """Softmax of each row, on any backend (lesson 00; eq. 2.5 of lesson 02).

    x: (B, V) logits -- a NumPy, CuPy or strict array. Take the array module from the array,
    xp = B.get_array_module(x) (B = minis2s.backend), and use xp.exp, never numpy's.
    Returns p (B, V), an array of the same backend: p[b] = exp(x[b] - max_k x[b, k]) divided
    by its sum. Subtracting the row's max changes nothing mathematically and keeps exp from
    overflowing at logits of 1000. Nothing may be read back to the host (no float(), .item()).
    """
    raise NotImplementedError("take the array module first, xp = B.get_array_module(x), then subtract each row's max")


def numerical_gradient(f, x, coords, eps=1e-6):
    """Centered differences of a scalar function at some coordinates of x (lesson 01, eq. 1.5).

    f: a function of no arguments returning a float; it reads x, so changing x[idx] changes f().
    x: a float64 array, perturbed in place one entry at a time; every entry must hold its
       original value again when you return.
    coords: a list of index tuples into x, e.g. [(0, 1), (2, 3)].
    Returns a list of floats, one per coordinate in order: (f(x + eps e_i) - f(x - eps e_i)) / (2 eps).
    """
    raise NotImplementedError("write eq. 1.5 for one coordinate first: (f(x + eps e_i) - f(x - eps e_i)) / (2 eps)")


def greedy_decode(model, src, src_mask, sos_id, eos_id, max_len):
    """Greedy decoding of a batch, exactly max_len steps (lesson 06, eq. 6.10).

    model: a Seq2Seq; memory, states = model.encode(src, src_mask) once, then at every step
        logp, states, _ = model.decode_step(memory, states, prev)
    with prev (B,) the tokens fed at this step (<sos> at the first) and logp (B, V) the
    log-probabilities of the next token.
    src: (B, S) token ids, src_mask: (B, S) 1.0 on real tokens; sos_id, eos_id: ints.
    Returns ids (B, max_len) integers: column t holds the token chosen at step t, the argmax of
    that step's logp (eq. 6.10), and it is fed at step t + 1. Once a row has chosen <eos>, every
    later column of that row is eos_id.
    """
    raise NotImplementedError(
        "write one step first: logp, states, _ = model.decode_step(memory, states, prev); "
        "the next prev is the argmax of logp (eq. 6.10)"
    )


def adam_step(p, g, m, v, t, lr, beta1, beta2, eps):
    """One Adam update with bias correction (lesson 07, eq. 7.3-7.5).

    p, g, m, v: arrays of one shape: the parameter, its gradient, the first and second moments
    (m and nu in the lesson, zeros before the first step). t: the number of this step, 1 on the first call.
    Returns the new p, m, v (new arrays, or the same ones updated in place):
        m = beta1 m + (1 - beta1) g                                     (eq. 7.3)
        v = beta2 v + (1 - beta2) g^2                                   (eq. 7.4)
        p = p - lr (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)    (eq. 7.5)
    """
    raise NotImplementedError(
        "write eq. 7.3 and 7.4 first: m = beta1 m + (1 - beta1) g, v = beta2 v + (1 - beta2) g^2"
    )


def decoder_step_forward(params, cfg, memory, states, e):
    """One step of the attentive decoder, one LSTM layer, input feeding (lesson 08, eq. 8.1-8.5).

    params: the model's parameter dict; cfg: its Seq2SeqConfig (cfg.attention, cfg.cell).
    memory: the encoder's outputs, memory.keys (B, S, A), memory.values (B, S, Henc),
        memory.mask (B, S).
    states: [(s_prev, c_prev)], the layer's state before the step, each (B, H).
    e: (B, D), the embedding of the token fed at this step.
    Use the library's pieces (imported as in lesson 08):
        (context, weights), _ = attn.step_forward(cfg.attention, params, query, memory.keys,
                                                  memory.values, memory.mask)
        (h, c), _ = C.step_forward(cfg.cell, x, state, cells.weights(params, "dec.l0."))
    with attn = minis2s.nn.attention, C = minis2s.functional.cells, cells = minis2s.nn.cells.
    Returns z (B, H + Henc + D) = zeta_t = [s_t; ctx_t; e_t], new_states [(h, c)], weights (B, S).
    """
    raise NotImplementedError(
        "write the context first: attention with the query s_{t-1} = states[0][0] (eq. 8.1-8.5)"
    )


def beam_search_step(scores, logp, finished, t, eos_id, alpha):
    """One step of beam search for one sentence with k slots (lesson 10, eq. 10.3-10.6).

    scores: (k,) log P(y^ | x) of the live hypotheses y^ (eq. 10.2), -inf for an empty slot.
    logp: (k, V) log p(y | y^, x) of the next token y for each slot.
    finished: a list of (score eq. 10.6, log P, length) of the hypotheses set aside so far,
        fewer than k of them; length counts the tokens with <eos>.
    t: the step, 0 for the first: a hypothesis that ends in <eos> now has length t + 1.
    Walk the extensions of all slots together, best first, ties to the lower index j V + y
    (slot j, token y; eq. 10.3-10.4): an <eos> among the k best is appended to finished as
    (log P / ((5 + length) / 6)^alpha, log P, length) (eq. 10.5-10.6, alpha the lesson's omega);
    the first k extensions that are not <eos> become the new live hypotheses.
    Returns parents (k,) ints, tokens (k,) ints, new scores (k,), finished (the list, appended to).
    Unfilled slots: parent 0, token eos_id, score -inf. Once finished holds k hypotheses the
    sentence is done: every new score is -inf.
    """
    raise NotImplementedError(
        "write eq. 10.3 first: cand[j, y] = scores[j] + logp[j, y], then take the best over all k V entries together"
    )


def corpus_bleu(hypotheses, references, max_n=4):
    """Corpus BLEU without smoothing (lesson 10, eq. 10.7-10.10).

    hypotheses, references: lists of N strings, tokens separated by spaces; one reference each.
    Returns (bleu, precisions, bp): bleu in percent (0-100), precisions the list p_1..p_max_n in
    percent -- clipped n-gram matches over hypothesis n-grams, both summed over the corpus
    before dividing (eq. 10.7-10.8) -- and bp the brevity penalty of the total lengths (eq. 10.9).
    """
    raise NotImplementedError(
        "write eq. 10.7 first: count each n-gram of the hypothesis, clipped by its count in the "
        "reference, and sum over the whole corpus"
    )


def token_accuracy(logits, targets, mask):
    """The share of real positions whose most likely token is the target (lesson 11).

    logits: (B, T, V), targets: (B, T) integer ids, mask: (B, T) 1.0 on real tokens -- arrays
    of any backend. Use xp = B.get_array_module(logits) for array functions.
    Returns a 0-d array *on the same backend*: nothing may be read back to the host (no
    float(), .item(), B.to_host), so a GPU training loop never waits for it.
    """
    raise NotImplementedError(
        "write the argmax first: pred = logits.argmax(axis=-1), compared with targets where mask is 1"
    )


def bpe_merge_step(words):
    """One merge of byte-pair encoding (lesson 13, eq. 13.9-13.10).

    words: a dict, each word's current symbols (a tuple of strings, the last one ending in
        "</w>") -> how often that word occurs in the corpus, e.g.
        {("l", "o", "w</w>"): 5, ("l", "o", "w", "e", "r</w>"): 2}.
    Count every adjacent pair of symbols, once per place it occurs in a word, times that word's
    count (eq. 13.9); take the most frequent pair, a tie going to the larger pair in string
    order (as subword-nmt); merge it into one symbol at every place it occurs, left to right,
    in every word (eq. 13.10).
    Returns (pair, count, new_words): the pair as a tuple (a, b), its count, and a new dict:
    each word's symbols after the merge -> the same count as before.
    """
    raise NotImplementedError(
        "write eq. 13.9 first: count[(a, b)] += n for every adjacent (a, b) of every word, n its count"
    )


def top_p_filter(scaled_logp, top_p):
    """Nucleus (top-p) filtering of one step's next-token distribution (lesson 14, eq. 14.8).

    scaled_logp: (B, V) log-probabilities already divided by the temperature (eq. 14.6), so
        each row is a softmax's logits, not yet normalised.
    top_p: the mass the nucleus must reach, 0 < top_p <= 1.
    Per row: the probabilities p = softmax(scaled_logp); sorted from the most likely down,
    p_(1) >= p_(2) >= ..., the nucleus is the smallest n whose mass p_(1) + ... + p_(n)
    reaches top_p (the top token is always kept); keep every token at least as likely as
    p_(n) -- a token tied with p_(n) is kept too -- and set the others to 0.
    Returns (B, V): the kept probabilities renormalised to sum to 1 in every row.
    """
    raise NotImplementedError(
        "write the softmax first, p = exp(scaled_logp - row max) / its sum, then sort each row "
        "from the most likely down and take the cumulative sum"
    )


def masked_perplexity(token_nll, mask):
    """Perplexity of a padded batch from its per-token losses (lesson 14, eq. 14.3).

    token_nll: (B, T) the negative log-likelihood -log p(x_{t+1} | x_<=t) of every position,
        natural log; padded positions hold whatever the model computed there (not 0).
    mask: (B, T) 1.0 on real tokens, 0.0 on padding; rows have different lengths.
    Returns the perplexity, a Python float: exp of the mean loss per real token (eq. 14.2-14.3).
    """
    raise NotImplementedError(
        "write the sum first: the total loss of the real tokens, (token_nll * mask).sum(), and "
        "their number, mask.sum()"
    )


def distinct_n(replies, n):
    """distinct-n of a system's replies (lesson 15, eq. 15.3).

    replies: a list of strings, tokens separated by spaces; a reply may be empty ("").
    n: the n-gram order, 1 or more.
    The n-grams of a reply are its runs of n consecutive tokens; none crosses from one reply
    into the next. Collect them over ALL replies: the number of different n-grams divided by
    the number of n-grams, repeats included -- one ratio for the whole set of replies, not a
    mean of per-reply ratios. A set of replies without a single n-gram scores 0.0.
    Returns a float in [0, 1].
    """
    raise NotImplementedError(
        "write the n-grams of one reply first: tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)"
    )


def rouge_l(hypothesis, reference):
    """ROUGE-L of one reply against one reference (lesson 15; eq. 10.13-10.14 of lesson 10).

    hypothesis, reference: strings, tokens separated by spaces.
    LCS: the length of the longest common SUBSEQUENCE of the two token lists (tokens in the
    same order, not necessarily adjacent), by the dynamic programme over prefixes (eq. 10.13).
    precision = LCS / (hypothesis tokens), recall = LCS / (reference tokens), and F1 their
    harmonic mean 2 P R / (P + R) (eq. 10.14), 0.0 when P + R = 0.
    Returns (precision, recall, f1), floats; all three 0.0 when either side has no token.
    """
    raise NotImplementedError(
        "write eq. 10.13 first: L[i][j] = L[i-1][j-1] + 1 if a[i-1] == b[j-1] else max(L[i-1][j], L[i][j-1])"
    )
