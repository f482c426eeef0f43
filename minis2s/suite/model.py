"""Whole-model gradient checks: the loss with respect to every parameter of a Seq2Seq or a
Transformer, in float64.

Every op passes its own check (:data:`minis2s.suite.CASES`); these check the composition --
that gradients cross every joint of the graph: readout, decoder steps, input feeding,
attention, the key projection, bridge, encoder layers, both directions, embeddings -- on a
padded batch (lesson 09, section 5); for the Transformer: embeddings and positions, every
encoder and decoder layer, the final layer norms of pre-norm, the tied or untied readout. For each parameter array the model's gradient is compared
with centered differences of the loss (eq. 1.5) at a few random coordinates, by the relative
error of eq. 1.6. A model strings dozens of ops together, each adding its rounding, so the
tolerance is 1e-6 rather than the ops' 1e-7; with the weights :func:`check_model` draws, every
case meets 1e-7 at seed 0 (worst 8.5e-8, recurrent; 1.8e-8 for the Transformer, whose test
holds it to 1e-7).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import backend as B
from ..gradcheck import Result, numerical_gradient, rel_error, sample_coords
from ..models import build_model, config_class
from ..train import real_rows

MODEL_TOLERANCE = 1e-6
#: the sizes of every case: small enough for finite differences, with D != H
SIZES = dict(src_vocab=9, tgt_vocab=8, emb=3, hidden=4)
#: the Transformer's: d = D / h = 2 features per head, a hidden FFN wider than D
TRANSFORMER_SIZES = dict(src_vocab=9, tgt_vocab=8, d_model=4, heads=2, d_ff=6, max_len=8)


#: the spread of a layer norm's gains around 1 in :func:`check_model`
GAIN_SPREAD = 0.2


def is_norm_gain(name: str) -> bool:
    """Whether a parameter is a layer norm's gain (``enc.l0.ln1_g``, ``dec.ln_g``)."""
    return name.rsplit(".", 1)[-1].startswith("ln") and name.endswith("_g")


@dataclass(frozen=True)
class ModelCase:
    """config: the Seq2SeqConfig (or, with arch "transformer", TransformerConfig) fields
    besides :data:`SIZES` (:data:`TRANSFORMER_SIZES`); options: keywords of
    ``forward_backward`` (label_smoothing, teacher_forcing)."""

    name: str
    config: dict
    options: dict = field(default_factory=dict)
    arch: str = "recurrent"


MODEL_CASES = [
    ModelCase("lstm-bi-additive", dict(cell="lstm", bidirectional=True, attention="additive")),
    ModelCase("gru-2layer-general", dict(cell="gru", layers=2, attention="general", dropout=0.3)),
    ModelCase("rnn-dot-noinputfeed", dict(cell="rnn", attention="scaled_dot", input_feeding=False)),
    ModelCase("lstm-noattention-tied", dict(cell="lstm", attention="none", tie_embeddings=True)),
    ModelCase("gru-bi-2layer-dot", dict(cell="gru", bidirectional=True, layers=2, attention="dot", dropout=0.2)),
    ModelCase("lstm-bi-smoothing-sampled", dict(cell="lstm", bidirectional=True),
              dict(label_smoothing=0.1, teacher_forcing=0.5)),
    ModelCase("tfm-post-relu-sinusoidal-tied", dict(layers=2, dropout=0.2), arch="transformer"),
    ModelCase("tfm-pre-gelu-learned-untied", dict(layers=2, norm_first=True, activation="gelu",
                                                  positional="learned", tie_embeddings=False),
              dict(label_smoothing=0.1), arch="transformer"),
    ModelCase("tfm-pre-shared-vocab", dict(src_vocab=8, norm_first=True, share_vocab=True, dropout=0.1),
              arch="transformer"),
    # the source read two words to a position (eq. 15.6). At D = 4 the figure depends on the draw:
    # with ReLU and no dropout rounding reached 1.0e-7 at the step of 3e-6 (the error grows as the
    # step shrinks), with dropout 0.2 a mask that zeroes most of a 4-wide row before a layer norm
    # bent the loss enough for truncation to reach 4.6e-6 (falling with the step squared); this
    # draw's worst is 3.5e-8, and the torch twin agrees with every gradient of a sentence model to
    # 1e-10 (tests/test_torch_export_transformer.py)
    ModelCase("tfm-pre-gelu-sentences", dict(norm_first=True, sentence_words=2, dropout=0.1, activation="gelu"),
              arch="transformer"),
]


def random_batch(rng, src_vocab, tgt_vocab, Bsz=3, S=5, T=4):
    """A padded batch (src, src_mask, tgt_in, tgt_out, tgt_mask) on the device: sources of
    S, 2 and 3 tokens, targets of T, 3 and 1, ids drawn from ``rng`` (a NumPy Generator)
    above the four special tokens, <sos> = 1 first, <pad> = 0 after the end."""
    np = B.host
    src_len = np.array([S, 2, 3][:Bsz])
    tgt_len = np.array([T, 3, 1][:Bsz])
    src = rng.integers(4, src_vocab, size=(Bsz, S))
    tgt = rng.integers(4, tgt_vocab, size=(Bsz, T + 1))
    src_mask = (np.arange(S)[None] < src_len[:, None]).astype("float64")
    tgt_mask = (np.arange(T)[None] < tgt_len[:, None]).astype("float64")
    src = np.where(src_mask > 0, src, 0)
    tgt_in, tgt_out = tgt[:, :-1].copy(), tgt[:, 1:].copy()
    tgt_in[:, 0] = 1
    tgt_out = np.where(tgt_mask > 0, tgt_out, 0)
    tgt_in = np.where(np.roll(tgt_mask, 1, axis=1) + (np.arange(T) == 0) > 0, tgt_in, 0)
    return [B.to_device(a) for a in (src, src_mask, tgt_in, tgt_out, tgt_mask)]


def check_model(cfg, *, batch=None, names=None, seed: int = 0, max_coords: int = 6,
                eps: float = 1e-5, op: str = "seq2seq", scale: float = 0.7, **options) -> list[Result]:
    """Float64 check of the model ``cfg`` configures (a :class:`Seq2Seq` or a
    :class:`~minis2s.models.transformer.Transformer`): one :class:`Result` per parameter.

    The weights are drawn at scale 0.7 (``scale``) from ``seed`` rather than the small
    training initialisation, so that no gradient is so tiny (~1e-7) that finite differences
    only measure their own rounding; the <pad> embedding rows stay zero. A layer norm's gains
    are the exception: drawn around 0 they scale every gradient through the norm towards 0
    (a gain of 0.05 made the Transformer's ``enc.l1.sa_Wq`` gradient ~4e-5, and its relative
    error 4.8e-7), so they are drawn around their training value, 1 + N(0, 0.2^2). Every
    evaluation of the loss gets the same ``DeviceRNG(7)``, so dropout masks and the
    gold-or-predicted choices of teacher forcing (``options``, keywords of
    ``forward_backward``) are the same each time.

    batch: (src, src_mask, tgt_in, tgt_out, tgt_mask) arrays on the device, float64 masks;
    by default :func:`random_batch`. names: the parameters to check (default: all of them);
    ``max_coords`` coordinates of each are sampled. The :class:`Result` rows have ``op`` and
    the parameter's name as ``wrt``, for :func:`minis2s.gradcheck.format_table`.
    """
    np = B.host
    with B.precision("float64"):
        model = build_model(cfg, seed=seed)
        rng = np.random.default_rng(seed)
        for name, p in model.params.items():
            if is_norm_gain(name):  # around its training value 1, never near 0 (see above)
                p[...] = B.to_device(1.0 + rng.normal(0.0, GAIN_SPREAD, size=p.shape))
            else:
                p[...] = B.to_device(rng.normal(0.0, scale, size=p.shape))
        for name in ("enc.emb", "dec.emb"):
            if name in model.params:  # a shared vocabulary has dec.emb alone
                model.params[name][0] = 0.0
        if batch is None:
            batch = random_batch(rng, cfg.src_vocab, cfg.tgt_vocab)
        options.setdefault("real_rows", real_rows(batch[4]))  # as the trainer runs it: None on a device

        def loss():
            return B.to_float(model.forward_backward(*batch, rng=B.DeviceRNG(7), backward=False, **options)[0])

        model.forward_backward(*batch, rng=B.DeviceRNG(7), **options)
        return compare_params(model, loss, rng, names, max_coords, eps, op)


def compare_params(model, loss, rng, names=None, max_coords: int = 6, eps: float = 1e-5, op: str = "model"):
    """The gradients left in ``model.grads`` against centered differences of ``loss()`` (eq. 1.5)
    at ``max_coords`` coordinates of each parameter drawn from ``rng``; one :class:`Result` per
    parameter (those in ``names``, or all)."""
    results = []
    for name, p in model.params.items():
        if names is not None and name not in names:
            continue
        coords = sample_coords(tuple(p.shape), max_coords, rng)
        grad = B.to_host(model.grads[name])
        analytic = [float(grad[c]) for c in coords]
        numeric = numerical_gradient(loss, p, coords, eps=eps)
        abs_error = max((abs(a - n) for a, n in zip(analytic, numeric)), default=0.0)
        results.append(Result(op, name, rel_error(analytic, numeric), abs_error, len(coords), analytic, numeric))
    return results


def check_language_model(cfg, *, batch=None, state=None, names=None, seed: int = 0, max_coords: int = 6,
                         eps: float = 1e-5, op: str = "lm") -> list[Result]:
    """Float64 check of a :class:`~minis2s.models.lm.LanguageModel`, as :func:`check_model`.

    batch: (x, y, mask) on the device, float64 mask, by default :func:`random_lm_batch`;
    state: the initial state per layer, a constant of the window (truncated BPTT), or None
    for zeros. Dropout draws the same masks at every evaluation (``DeviceRNG(7)``).
    """
    from ..models.lm import LanguageModel

    np = B.host
    with B.precision("float64"):
        model = LanguageModel(cfg, seed=seed)
        rng = np.random.default_rng(seed)
        for p in model.params.values():
            p[...] = B.to_device(rng.normal(0.0, 0.7, size=p.shape))
        model.params["emb"][cfg.pad_id] = 0.0
        if batch is None:
            batch = random_lm_batch(rng, cfg.vocab)
        rows = real_rows(batch[2])

        def loss():
            (value, _, _), _ = model.forward_backward(*batch, state, rng=B.DeviceRNG(7), backward=False,
                                                      real_rows=rows)
            return B.to_float(value)

        model.forward_backward(*batch, state, rng=B.DeviceRNG(7), real_rows=rows)
        return compare_params(model, loss, rng, names, max_coords, eps, op)


def random_lm_batch(rng, vocab, lengths=(5, 2, 4)):
    """(x, y, mask) on the device: rows of ``lengths`` real tokens, padded to the longest,
    ids drawn from ``rng`` above the four specials, <pad> = 0 after each row's end."""
    np = B.host
    T = max(lengths)
    mask = (np.arange(T)[None] < np.array(lengths)[:, None]).astype("float64")
    x = np.where(mask > 0, rng.integers(4, vocab, size=mask.shape), 0)
    y = np.where(mask > 0, rng.integers(4, vocab, size=mask.shape), 0)
    return [B.to_device(a) for a in (x, y, mask)]


def run(case: ModelCase, seed: int = 0) -> list[Result]:
    """Check one :data:`MODEL_CASES` entry on the current backend."""
    sizes = TRANSFORMER_SIZES if case.arch == "transformer" else SIZES
    cfg = config_class(case.arch)(**{**sizes, **case.config})
    names, eps = None, 1e-5
    if case.arch == "transformer":  # the key biases' gradient is identically 0 (functional/multihead.py)
        names = [n for n in build_model(cfg).params if not n.endswith("_bk")]
        # a smaller step: a centered difference errs by eps^2 f''' / 6 plus rounding / eps, and
        # through layer norms and softmaxes in series the third derivative is larger than a
        # recurrent model's. Measured worst over the Transformer cases: 4.2e-7 at 1e-5 (falling
        # 100x per 10x smaller step: truncation), 3.8e-8 at 3e-6; the recurrent cases, whose
        # small gradients are limited by rounding instead, are best at 1e-5.
        eps = 3e-6
    return check_model(cfg, seed=seed, op=case.name, names=names, eps=eps, **case.options)
