"""SGD, Adam and AdamW follow torch.optim step for step, in place, and resume exactly."""

import io

import numpy as np
import pytest

from minis2s import backend as B
from minis2s.errors import CheckpointError
from minis2s.optim import SGD, Adam, AdamW
from minis2s.shapes import ShapeError

SHAPES = {"W": (4, 3), "b": (4,), "E": (2, 3, 5), "s": (1,)}
STEPS = 20

CONFIGS = [
    pytest.param(SGD, "SGD", dict(lr=0.1), id="sgd"),
    pytest.param(SGD, "SGD", dict(lr=0.1, momentum=0.9), id="sgd-momentum"),
    pytest.param(SGD, "SGD", dict(lr=0.05, momentum=0.8, nesterov=True), id="sgd-nesterov"),
    pytest.param(SGD, "SGD", dict(lr=0.1, momentum=0.9, weight_decay=0.01), id="sgd-momentum-wd"),
    pytest.param(SGD, "SGD", dict(lr=0.1, weight_decay=0.05), id="sgd-wd"),
    pytest.param(Adam, "Adam", dict(lr=0.01), id="adam"),
    pytest.param(Adam, "Adam", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1), id="adam-wd"),
    pytest.param(AdamW, "AdamW", dict(lr=0.01), id="adamw"),
    pytest.param(AdamW, "AdamW", dict(lr=0.02, betas=(0.85, 0.95), weight_decay=0.3), id="adamw-wd"),
]


def host_problem(seed=0):
    """Float64 host parameters and a sequence of gradients, the same for us and torch."""
    rng = np.random.default_rng(seed)
    params = {k: rng.standard_normal(s) for k, s in SHAPES.items()}
    grads = [{k: rng.standard_normal(s) * 0.5 for k, s in SHAPES.items()} for _ in range(STEPS)]
    return params, grads


def to_device(arrays):
    """Device copies (on numpy, to_device would share memory with the host originals)."""
    return {k: B.to_device(v.copy(), np.float64) for k, v in arrays.items()}


@pytest.mark.parametrize("cls, torch_name, kwargs", CONFIGS)
def test_matches_torch_optim_for_20_steps(backend, cls, torch_name, kwargs):
    torch = pytest.importorskip("torch")
    host_params, grad_seq = host_problem()
    params = to_device(host_params)
    originals = dict(params)
    opt = cls(params, **kwargs)
    tparams = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in host_params.items()}
    topt = getattr(torch.optim, torch_name)(list(tparams.values()), **kwargs)
    for i, grads in enumerate(grad_seq):
        if i == 10:  # a schedule changes lr between steps; both must use the new value
            opt.lr = kwargs["lr"] * 0.5
            for group in topt.param_groups:
                group["lr"] = kwargs["lr"] * 0.5
        device_grads = to_device(grads)
        opt.step(device_grads)
        for k, g in grads.items():
            assert np.array_equal(B.to_host(device_grads[k]), g), "step must not modify grads"
            tparams[k].grad = torch.tensor(g, dtype=torch.float64)
        topt.step()
    for k in SHAPES:
        assert params[k] is originals[k], "parameters must be updated in place, never rebound"
        ours = B.to_host(params[k])
        np.testing.assert_allclose(ours, tparams[k].detach().numpy(), rtol=1e-10, atol=1e-12)
        assert not np.allclose(ours, host_params[k]), "the parameters did not move"



@pytest.mark.parametrize("cls, torch_name, b1", [
    pytest.param(Adam, "Adam", 0.0, id="adam-b1=0"),
    pytest.param(AdamW, "AdamW", 0.0, id="adamw-b1=0"),
    pytest.param(Adam, "Adam", 0.3, id="adam-b1=0.3"),  # w = 0.7: the lerp's second form
])
def test_first_moment_matches_torch_lerp_when_the_gradient_drops_by_1e6(backend, cls, torch_name, b1):
    """eq. 7.3 with w = 1 - b1 >= 0.5 is torch.lerp's g - (1 - w)(g - m): at b1 = 0 it is g
    exactly, where m + (g - m) would keep ~1e-16 |m_old| of error, 1e-10 of a 1e6 times smaller g."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    host_params = {k: rng.standard_normal(s) for k, s in SHAPES.items()}
    g = {k: rng.standard_normal(s) for k, s in SHAPES.items()}
    grad_seq = [g, {k: 1e-6 * v for k, v in g.items()},
                {k: 1e-12 * rng.standard_normal(s) for k, s in SHAPES.items()}]
    kwargs = dict(lr=0.01, betas=(b1, 0.999))
    params = to_device(host_params)
    opt = cls(params, **kwargs)
    tparams = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in host_params.items()}
    topt = getattr(torch.optim, torch_name)(list(tparams.values()), **kwargs)
    for grads in grad_seq:
        opt.step(to_device(grads))
        for k, v in grads.items():
            tparams[k].grad = torch.tensor(v, dtype=torch.float64)
        topt.step()
        for k in SHAPES:
            m_torch, p_torch = topt.state[tparams[k]]["exp_avg"].numpy(), tparams[k].detach().numpy()
            np.testing.assert_allclose(B.to_host(opt.m[k]), m_torch, rtol=1e-12, atol=0, err_msg=f"m {k}")
            np.testing.assert_allclose(B.to_host(params[k]), p_torch, rtol=1e-12, atol=0, err_msg=k)
    if b1 == 0.0:
        for k in SHAPES:
            np.testing.assert_array_equal(B.to_host(opt.m[k]), grad_seq[-1][k])

@pytest.mark.parametrize("cls, torch_name, kwargs", CONFIGS)
def test_state_dict_round_trip_resumes_exactly(backend, cls, torch_name, kwargs):
    host_params, grad_seq = host_problem(seed=1)
    straight = to_device(host_params)
    opt = cls(straight, **kwargs)
    for grads in grad_seq[:8]:
        opt.step(to_device(grads))
    state = opt.state_dict()
    assert all(type(v) is np.ndarray for v in state.values()), "state must be host numpy arrays"
    assert int(state["step"]) == 8

    buf = io.BytesIO()  # the state must survive an npz file, as in a checkpoint
    np.savez(buf, **state)
    buf.seek(0)
    with np.load(buf, allow_pickle=False) as z:
        reloaded = {k: z[k] for k in z.files}

    resumed_params = {k: B.to_device(B.to_host(v)) for k, v in straight.items()}
    resumed = cls(resumed_params, **{**kwargs, "lr": 123.0})  # lr comes back from the state
    resumed.load_state_dict(reloaded)
    assert resumed.lr == opt.lr and resumed.t == 8
    for grads in grad_seq[8:]:
        opt.step(to_device(grads))
        resumed.step(to_device(grads))
    for k in SHAPES:
        np.testing.assert_array_equal(B.to_host(resumed_params[k]), B.to_host(straight[k]))


def test_state_dict_names_buffers_per_parameter():
    params = to_device(host_problem()[0])
    assert set(Adam(params).state_dict()) == {"step", "lr"} | {f"{b}/{k}" for b in "mv" for k in SHAPES}
    assert set(SGD(params, lr=0.1, momentum=0.9).state_dict()) == {"step", "lr"} | {
        f"momentum/{k}" for k in SHAPES}
    assert set(SGD(params, lr=0.1).state_dict()) == {"step", "lr"}


def test_float32_parameters_and_state_stay_float32(backend):
    rng = np.random.default_rng(2)
    params = {"W": B.to_device(rng.standard_normal((5, 4)), np.float32)}
    opt = Adam(params, lr=0.01, weight_decay=0.01)
    for _ in range(3):
        opt.step({"W": B.to_device(rng.standard_normal((5, 4)), np.float32)})
    assert params["W"].dtype == np.float32
    assert opt.m["W"].dtype == np.float32 and opt.v["W"].dtype == np.float32


def test_load_state_dict_refuses_state_of_another_optimizer_or_model():
    params = to_device(host_problem()[0])
    sgd_state = SGD(params, lr=0.1, momentum=0.9).state_dict()
    with pytest.raises(CheckpointError, match="does not fit this Adam"):
        Adam(params).load_state_dict(sgd_state)
    adam_state = Adam(params).state_dict()
    adam_state["m/W"] = np.zeros((3, 3))
    with pytest.raises(CheckpointError, match=r"m/W has shape \(3, 3\)"):
        Adam(params).load_state_dict(adam_state)


def test_step_refuses_missing_or_misshapen_gradients():
    host_params, grad_seq = host_problem()
    opt = SGD(to_device(host_params), lr=0.1)
    grads = to_device(grad_seq[0])
    del grads["b"]
    with pytest.raises(KeyError, match="missing \\['b'\\]"):
        opt.step(grads)
    grads = to_device(grad_seq[0])
    grads["W"] = grads["W"].T
    with pytest.raises(ShapeError, match=r"grads\['W'\]: expected shape \(4, 3\), got \(3, 4\)"):
        opt.step(grads)
    assert opt.t == 0, "a refused step must not count"


@pytest.mark.parametrize("make", [
    lambda p: SGD(p, lr=0.1, nesterov=True),
    lambda p: SGD(p, lr=-1.0),
    lambda p: Adam(p, betas=(1.0, 0.999)),
    lambda p: AdamW(p, weight_decay=-0.1),
    lambda p: Adam({}),
])
def test_bad_hyperparameters_are_refused(make):
    with pytest.raises(ValueError):
        make(to_device(host_problem()[0]))
