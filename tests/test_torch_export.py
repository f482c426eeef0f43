"""Export to PyTorch: the module's logits equal minis2s's for every kind of configuration, the
state dict survives a .pt round trip, and the export command writes a weights_only file."""

import argparse

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from minis2s import backend as B  # noqa: E402
from minis2s.commands import export as export_command  # noqa: E402
from minis2s.errors import UserError  # noqa: E402
from minis2s.functional import linear as Fl  # noqa: E402
from minis2s.models.seq2seq import Seq2Seq, Seq2SeqConfig  # noqa: E402
from minis2s.nn import decoder, encoder  # noqa: E402
from minis2s.torch_export import (  # noqa: E402
    TorchSeq2Seq, export, load, state_dict_names, to_torch)
from minis2s.train import TrainConfig, build_run  # noqa: E402

V_SRC, V_TGT = 23, 19

CONFIGS = [
    dict(cell="lstm", bidirectional=True, attention="additive"),  # the reference shape
    dict(cell="lstm", attention="dot"),
    dict(cell="lstm", layers=2, bidirectional=True, attention="scaled_dot", input_feeding=False),
    dict(cell="gru", attention="general"),
    dict(cell="gru", layers=2, bidirectional=True, attention="dot"),  # dot with keys projected
    dict(cell="gru", attention="none"),
    dict(cell="rnn", attention="additive", attention_size=5),
    dict(cell="rnn", layers=3, bidirectional=True, attention="general", tie_embeddings=True),
    dict(cell="lstm", layers=2, attention="none", tie_embeddings=True),
    dict(cell="gru", bidirectional=True, attention="additive", tie_embeddings=True, input_feeding=False),
]


def _ids(cfg):
    return "-".join(f"{k}={v}" for k, v in cfg.items())


def _batch(seed=0, empty_row=False):
    """Sources of lengths 6, 3, 1 and 4 (0 with empty_row); targets with padding."""
    rng = np.random.default_rng(seed)
    lengths = [6, 3, 1, 0 if empty_row else 4]
    src = rng.integers(4, V_SRC, (4, 6))
    src_mask = np.zeros((4, 6), np.float32)
    for b, n in enumerate(lengths):
        src[b, n:] = 0
        src_mask[b, :n] = 1
    tgt_in = rng.integers(3, V_TGT, (4, 5))
    tgt_in[:, 0] = 1
    tgt_in[1, 3:] = 0
    tgt_out = np.roll(tgt_in, -1, axis=1)
    tgt_out[:, -1] = 2
    tgt_out[1, 2:] = 0
    return src, src_mask, tgt_in, tgt_out, (tgt_out != 0).astype(np.float32)


def _model(dtype="float32", seed=1, **over):
    cfg = Seq2SeqConfig(V_SRC, V_TGT, emb=6, hidden=7, dropout=0.3, **over)
    model = Seq2Seq(cfg, seed=seed, dtype=dtype)
    if cfg.tie_embeddings:
        model.params["dec.emb"][0] = 0.5  # the readout trains the <pad> row; inputs must still embed it to 0
    return model


def minis2s_logits(model, src, src_mask, tgt_in):
    """Teacher-forced logits (B, T, V) from minis2s's public layer functions, eval mode."""
    p, cfg = model.params, model.cfg
    src, src_mask, tgt_in = B.to_device(src), B.to_device(src_mask, model.dtype), B.to_device(tgt_in)
    (enc_out, finals), _ = encoder.encoder_forward(p, cfg, src, src_mask)
    states, _ = decoder.bridge_forward(p, cfg, finals)
    memory = decoder.make_memory(p, cfg, enc_out, src_mask)
    logits = []
    for t in range(tgt_in.shape[1]):
        e, _ = Fl.embedding_forward(tgt_in[:, t], p["dec.emb"], padding_idx=cfg.pad_id)
        (z, states, _), _ = decoder.step_forward(p, cfg, memory, states, e)
        logits.append(decoder.readout_forward(p, z)[0])
    return np.stack([B.to_host(x) for x in logits], axis=1)


def torch_logits(module, src, src_mask, tgt_in):
    with torch.no_grad():
        return module(torch.from_numpy(src), torch.from_numpy(src_mask), torch.from_numpy(tgt_in)).numpy()


@pytest.mark.parametrize("over", CONFIGS, ids=_ids)
def test_logits_equal_minis2s_float32(over):
    model = _model(**over)
    src, src_mask, tgt_in, _, _ = _batch()
    module = to_torch(model)
    got = torch_logits(module, src, src_mask.astype(np.float32), tgt_in)
    assert got.dtype == np.float32
    assert np.abs(got - minis2s_logits(model, src, src_mask, tgt_in)).max() <= 1e-5


@pytest.mark.parametrize("over", CONFIGS, ids=_ids)
def test_logits_equal_minis2s_float64_with_an_empty_source(over):
    model = _model("float64", **over)
    src, src_mask, tgt_in, _, _ = _batch(seed=3, empty_row=True)
    module = to_torch(model)
    assert next(module.parameters()).dtype == torch.float64
    got = torch_logits(module, src, src_mask.astype(np.float64), tgt_in)
    np.testing.assert_allclose(got, minis2s_logits(model, src, src_mask, tgt_in), rtol=0, atol=1e-12)


@pytest.mark.parametrize("over", [CONFIGS[0], CONFIGS[4], CONFIGS[7]], ids=_ids)
def test_torch_gradients_equal_minis2s_gradients(over):
    """The exported module is trainable: autograd through it gives minis2s's hand-written
    gradients, so fine-tuning in PyTorch starts from the same place."""
    model = _model("float64", **over)
    src, src_mask, tgt_in, tgt_out, tgt_mask = _batch(seed=5)
    src_mask = src_mask.astype(np.float64)
    loss, _, _ = model.forward_backward(src, src_mask, tgt_in, tgt_out, tgt_mask.astype(np.float64),
                                        train=False, label_smoothing=0.1)
    module = to_torch(model)
    t_loss = module.loss(*(torch.from_numpy(a) for a in (src, src_mask, tgt_in, tgt_out)), label_smoothing=0.1)
    t_loss.backward()
    assert abs(t_loss.item() - float(B.to_host(loss))) < 1e-12
    named = dict(module.named_parameters())
    for ours, theirs in state_dict_names(model.cfg).items():
        np.testing.assert_allclose(named[theirs].grad.numpy(), model.grads[ours], rtol=1e-9, atol=1e-12, err_msg=ours)


def test_state_dict_names_cover_every_parameter_once():
    for over in CONFIGS:
        model = _model(**over)
        names = state_dict_names(model.cfg)
        module = TorchSeq2Seq(model.cfg)
        assert set(names) == set(model.params)
        assert sorted(names.values()) == sorted(module.state_dict())


def test_state_dict_round_trip_through_a_pt_file(tmp_path):
    model = _model(**CONFIGS[7])
    module = to_torch(model)
    torch.save(module.state_dict(), tmp_path / "m.pt")
    fresh = TorchSeq2Seq(model.cfg)
    fresh.load_state_dict(torch.load(tmp_path / "m.pt", weights_only=True))
    fresh.eval()
    src, src_mask, tgt_in, _, _ = _batch()
    np.testing.assert_array_equal(torch_logits(fresh, src, src_mask, tgt_in),
                                  torch_logits(module, src, src_mask, tgt_in))


def test_to_torch_reads_every_backend(backend):
    with B.precision("float64"):
        model = Seq2Seq(Seq2SeqConfig(V_SRC, V_TGT, emb=6, hidden=7, bidirectional=True), seed=2)
    module = to_torch(model)
    for ours, theirs in state_dict_names(model.cfg).items():
        np.testing.assert_array_equal(module.state_dict()[theirs].numpy(), B.to_host(model.params[ours]))


def test_greedy_matches_minis2s_greedy():
    from minis2s.decode import greedy

    model = _model(**CONFIGS[0])
    model.params["out.b"][2] = 4.0  # make <eos> likely so that sentences end at different steps
    src, src_mask, _, _, _ = _batch()
    ours = greedy(model, src, src_mask, 1, 2, max_len=12).ids
    theirs = to_torch(model).greedy(torch.from_numpy(src), torch.from_numpy(src_mask), 1, 2, max_len=12)
    assert theirs == ours


# a configuration and the boost of <eos>'s bias that makes its sentences finish at different steps
@pytest.mark.parametrize("over, eos_boost", [(CONFIGS[0], 1.5), (CONFIGS[2], 3.0), (CONFIGS[5], 3.5)],
                         ids=lambda x: _ids(x) if isinstance(x, dict) else str(x))
def test_beam_search_matches_minis2s_beam_search(over, eos_boost):
    from minis2s.decode import beam_search

    model = _model("float64", **over)
    rng = np.random.default_rng(7)
    for p in model.params.values():  # large weights: the beams disagree with greedy
        p[...] = rng.normal(0.0, 0.8, size=p.shape)
    model.params["out.b"][2] += eos_boost
    src, src_mask, _, _, _ = _batch()
    src_mask = src_mask.astype(np.float64)
    ours = beam_search(model, src, src_mask, 1, 2, beam=3, max_len=12).ids
    theirs = to_torch(model).beam_search(torch.from_numpy(src), torch.from_numpy(src_mask), 1, 2, beam=3,
                                         max_len=12)
    assert theirs == ours
    assert len({len(x) for x in ours}) > 1, "the sentences must end at different steps"


def test_export_command_writes_a_weights_only_file_of_a_trained_run(tmp_path):
    task, trainer = build_run(
        {"kind": "toy", "name": "dates", "seed": 0, "data": {"n_train": 500, "n_test": 20}},
        {"cell": "gru", "emb": 16, "hidden": 32, "attention": "additive", "bidirectional": True},
        TrainConfig(max_steps=30, eval_every=0, batch_size=16), tmp_path / "run", quiet=True)
    trainer.fit()
    out = tmp_path / "dates.pt"
    assert export_command(argparse.Namespace(checkpoint=str(tmp_path / "run"), torch=str(out), json=False)) == 0
    blob = torch.load(out, weights_only=True)
    assert blob["format"] == "minis2s-torch" and blob["config"]["cell"] == "gru"
    assert blob["vocab"]["src"]["tokens"] == task.src_vocab.tokens
    module = load(out)
    assert not module.training
    # the trained (not the initial) weights went out: compare with the checkpoint
    from minis2s.checkpoint import load_checkpoint

    c = load_checkpoint(tmp_path / "run", prefer="best")
    model = Seq2Seq(Seq2SeqConfig.from_json(c.config["model"]))
    model.load_params(c.params)
    assert not np.array_equal(c.params["out.W"], Seq2Seq(model.cfg, seed=0).params["out.W"])
    pairs = task.train[:5]
    from minis2s.data import make_batch

    batch = make_batch([s for s, _ in pairs], [t for _, t in pairs])
    got = torch_logits(module, batch.src, batch.src_mask, batch.tgt_in)
    assert np.abs(got - minis2s_logits(model, batch.src, batch.src_mask, batch.tgt_in)).max() <= 1e-5


def test_export_refuses_what_is_not_a_checkpoint_and_load_what_is_not_an_export(tmp_path):
    with pytest.raises(UserError):
        export(tmp_path, tmp_path / "x.pt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(UserError, match="not a minis2s PyTorch export"):
        load(tmp_path / "other.pt")
