"""Weight averaging (eq. 13.11): the recurrence, its ramp, the swap used to validate the average,
and a run that validates, saves and resumes with it."""

import numpy as np
import pytest

from minis2s import backend as B
from minis2s import checkpoint as ckpt
from minis2s.averaging import WeightAverage
from minis2s.train import TRAINED, TrainConfig, build_run


def test_the_average_is_the_weighted_sum_of_every_step_s_weights(backend):
    rng = np.random.default_rng(0)
    thetas = [rng.standard_normal((3, 4)) for _ in range(40)]
    p = {"W": B.to_device(thetas[0].copy(), "float64")}  # not a view: the loop writes into it
    avg = WeightAverage(p, decay=0.9)
    for t, theta in enumerate(thetas[1:], start=1):
        p["W"][...] = B.to_device(theta, "float64")
        avg.update(p, t)
    # unrolled eq. 13.11: theta_t's weight is (1 - xi_t) times every later xi_s
    xis = [min(0.9, (1 + t) / (10 + t)) for t in range(1, 40)]
    weights = [float(np.prod(xis))] + [(1 - b) * float(np.prod(xis[t:])) for t, b in enumerate(xis, start=1)]
    assert sum(weights) == pytest.approx(1.0)
    expected = sum(w * theta for w, theta in zip(weights, thetas))
    np.testing.assert_allclose(B.to_host(avg.params["W"]), expected, rtol=1e-12, atol=1e-12)


def test_the_decay_ramps_up_to_its_cap():
    avg = WeightAverage({"W": np.zeros(2)}, decay=0.999)
    assert avg.decay_at(1) == pytest.approx(2 / 11) and avg.decay_at(90) == pytest.approx(91 / 100)
    assert avg.decay_at(10**6) == 0.999
    with pytest.raises(ValueError, match="decay xi must be in"):
        WeightAverage({"W": np.zeros(2)}, decay=1.0)


def test_swapped_in_holds_the_average_inside_and_the_weights_after_even_on_error():
    p = {"W": np.ones(3)}
    avg = WeightAverage(p, decay=0.5)
    avg.params["W"][...] = 7.0
    W = p["W"]
    with pytest.raises(RuntimeError), avg.swapped_in(p):
        assert p["W"] is W and (W == 7.0).all()  # in place: the optimizer keeps its references
        raise RuntimeError
    assert (p["W"] == 1.0).all()


DATES = {"kind": "toy", "name": "dates", "seed": 0, "data": {"n_train": 200, "n_test": 20}}
TINY = dict(cell="gru", emb=8, hidden=8, attention="additive")


def test_a_run_validates_and_saves_the_average_and_resumes_from_the_trained_weights(tmp_path):
    tc = TrainConfig(max_steps=12, batch_size=16, lr=1e-2, eval_every=6, ema=0.9, keep_checkpoints=5)
    _, trainer = build_run(DATES, TINY, tc, tmp_path / "whole", quiet=True)
    seen = []
    validate = trainer.evaluate
    trainer.evaluate = lambda model: (seen.append({k: B.to_host(v).copy() for k, v in model.params.items()}),
                                      validate(model))[1]
    trainer.fit()
    for step, params in zip((6, 12), seen):
        c = ckpt.load_checkpoint(tmp_path / "whole" / "checkpoints" / f"step-{step:08d}")
        trained = {k[len(TRAINED):]: v for k, v in c.state_arrays.items()}
        assert trained.keys() == params.keys()
        for k in params:
            np.testing.assert_array_equal(c.params[k], params[k])  # validated = saved = the average
            assert not np.array_equal(trained[k], params[k]) or k.startswith("b"), k
    for k, v in trainer.model.params.items():  # training goes on with its own weights
        np.testing.assert_array_equal(B.to_host(v), trained[k])

    # stopped at 6 and resumed: the same average and trained weights at 12, bit for bit
    part = tmp_path / "part"
    _, first = build_run(DATES, TINY, TrainConfig(**{**tc.__dict__, "max_steps": 6}), part, quiet=True)
    first.fit()
    c = ckpt.load_checkpoint(part)
    _, again = build_run(DATES, TINY, tc, part, quiet=True, resume=True)
    again.restore(c)
    again.fit()
    a, b = ckpt.load_checkpoint(tmp_path / "whole"), ckpt.load_checkpoint(part)
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])
    for k in a.state_arrays:
        np.testing.assert_array_equal(a.state_arrays[k], b.state_arrays[k])


def test_the_update_stays_on_the_device(monkeypatch):
    reads = []
    monkeypatch.setattr(B, "to_host", lambda a, real=B.to_host: reads.append(a) or real(a))
    with B.use("strict"):  # the GPU stand-in: an implicit device -> host read raises
        p = {"W": B.to_device(np.ones(4), "float32")}
        avg = WeightAverage(p, decay=0.5)
        p["W"][...] = B.to_device(np.full(4, 3.0), "float32")
        avg.update(p, 1)  # xi_1 = 2/11
        assert reads == []
        np.testing.assert_allclose(B.to_host(avg.params["W"]), 1 + 2 * 9 / 11, rtol=1e-6)
