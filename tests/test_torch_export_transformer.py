"""The Transformer exported to PyTorch (torch_export.TorchTransformer, built from torch's
encoder and decoder layers): loss and every gradient equal minis2s's in float64, float32
logits within 1e-5, and the export command's file."""

import json

import numpy as np
import pytest

from minis2s import backend as B
from minis2s.models.transformer import Transformer, TransformerConfig
from minis2s.suite.model import random_batch

torch = pytest.importorskip("torch")
te = pytest.importorskip("minis2s.torch_export")

CONFIGS = {
    "post-relu-sinusoidal-tied": dict(),
    "pre-gelu-learned-untied": dict(norm_first=True, activation="gelu", positional="learned", tie_embeddings=False),
    "pre-shared-vocab": dict(src_vocab=13, norm_first=True, share_vocab=True),
    "pre-sentences": dict(norm_first=True, sentence_words=2),  # the source read two words a position
}


def _cfg(**kw):
    return TransformerConfig(**{"src_vocab": 11, "tgt_vocab": 13, "layers": 2, "d_model": 8, "heads": 2,
                                "d_ff": 12, "max_len": 10, "dropout": 0.0, **kw})


def _model(cfg, scale=0.3):
    model = Transformer(cfg, seed=0)
    rng = np.random.default_rng(1)
    for p in model.params.values():  # away from the initialisation: biases and gains matter too
        p += rng.normal(0.0, scale, size=p.shape).astype(p.dtype)
    for name in ("enc.emb", "dec.emb"):
        if name in model.params:
            model.params[name][0] = 0.0
    return model


def _tensors(batch):
    src, sm, ti, to, tm = batch
    return torch.from_numpy(src), torch.from_numpy(sm), torch.from_numpy(ti), torch.from_numpy(to)


@pytest.mark.parametrize("name", CONFIGS)
def test_loss_and_every_gradient_equal_torch_in_float64(name):
    with B.precision("float64"):
        cfg = _cfg(**CONFIGS[name])
        model = _model(cfg)
        batch = random_batch(np.random.default_rng(2), cfg.src_vocab, cfg.tgt_vocab)
        loss = float(model.forward_backward(*batch, label_smoothing=0.1)[0])
    module = te.to_torch(model).train()  # train mode with dropout 0: no fused fast path
    src, sm, ti, to = _tensors(batch)
    theirs = module.loss(src, sm, ti, to, label_smoothing=0.1)
    theirs.backward()
    assert abs(loss - theirs.item()) <= 1e-10 * max(1.0, abs(loss))
    grads = te.transformer_grads(module)
    assert set(grads) == set(model.grads)
    for k, g in grads.items():
        np.testing.assert_allclose(model.grads[k], g.numpy(), rtol=0, atol=1e-10, err_msg=k)


@pytest.mark.parametrize("name", CONFIGS)
def test_float32_logits_equal_torch_within_1e_5(name):
    cfg = _cfg(**CONFIGS[name])
    model = _model(cfg)
    src, sm, ti, to, tm = random_batch(np.random.default_rng(3), cfg.src_vocab, cfg.tgt_vocab)
    ours = model.logits(src, sm.astype(np.float32), ti, tm.astype(np.float32))
    module = te.to_torch(model)
    with torch.no_grad():
        theirs = module(torch.from_numpy(src), torch.from_numpy(sm), torch.from_numpy(ti)).numpy()
    real = tm > 0  # torch leaves padded query positions unmasked; minis2s zeroes them
    np.testing.assert_allclose(ours[real], theirs[real], rtol=0, atol=1e-5)


def test_export_command_writes_a_transformer_that_loads_back(tmp_path, capsys):
    from minis2s.cli import main

    run = tmp_path / "r"
    assert main(["train", "--task", "dates", "--arch", "transformer", "--train-size", "100", "--test-size", "10",
                 "--layers", "1", "--d-model", "8", "--heads", "2", "--d-ff", "12", "--batch-size", "16",
                 "--max-steps", "2", "--quiet", "--threads", "1", "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["export", "--checkpoint", str(run), "--torch", str(tmp_path / "m.pt"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    module = te.load(tmp_path / "m.pt")
    assert isinstance(module, te.TorchTransformer) and summary["config"]["heads"] == 2
    assert torch.load(tmp_path / "m.pt", weights_only=True)["arch"] == "transformer"



@pytest.fixture(scope="module")
def trained():
    """Per configuration, a float64 model after 25 Adam steps on reversing six sources of 1-6
    tokens, and that batch's (src, src_mask): at initialisation a Transformer emits the same
    token whatever the source, so its outputs would all end alike (or never)."""
    from minis2s.data import make_batch
    from minis2s.optim import Adam

    rng = np.random.default_rng(0)
    sources = [rng.integers(4, 11, size=n).tolist() for n in range(1, 7)]
    b = make_batch(sources, [s[::-1] for s in sources])
    mask, tgt_mask = b.src_mask.astype(np.float64), b.tgt_mask.astype(np.float64)
    models = {}
    for name, kw in CONFIGS.items():
        with B.precision("float64"):
            model = Transformer(_cfg(**kw), seed=0)
        opt = Adam(model.params, lr=0.05)
        for _ in range(25):
            model.forward_backward(b.src, mask, b.tgt_in, b.tgt_out, tgt_mask, train=False)
            opt.step(model.grads)
        models[name] = model
    return models, b.src, mask


@pytest.mark.parametrize("name", CONFIGS)
def test_torch_greedy_recomputing_the_prefix_equals_minis2s_greedy_with_the_cache(trained, name):
    from minis2s.decode import greedy

    models, src, mask = trained
    ours = greedy(models[name], src, mask, 1, 2, max_len=9).ids
    theirs = te.to_torch(models[name]).greedy(torch.from_numpy(src), torch.from_numpy(mask), 1, 2, max_len=9)
    assert theirs == ours
    assert len({len(x) for x in ours}) > 1, "the sentences must end at different steps"


@pytest.mark.parametrize("name", CONFIGS)
def test_torch_beam_search_equals_minis2s_beam_search(trained, name):
    from minis2s.decode import beam_search, greedy

    models, src, mask = trained
    ours = beam_search(models[name], src, mask, 1, 2, beam=3, max_len=9).ids
    theirs = te.to_torch(models[name]).beam_search(torch.from_numpy(src), torch.from_numpy(mask), 1, 2, beam=3,
                                                   max_len=9)
    assert theirs == ours
    assert ours != greedy(models[name], src, mask, 1, 2, max_len=9).ids, "the beam must find what greedy misses"
