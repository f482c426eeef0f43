"""Learning-rate schedules follow torch.optim.lr_scheduler and resume from JSON state."""

import json
import math

import numpy as np
import pytest

from minis2s import backend as B
from minis2s.errors import CheckpointError
from minis2s.optim import SGD
from minis2s.schedules import CosineLR, InverseSqrtWarmup, LinearWarmup, ReduceOnPlateau, StepLR

LR = 0.1


def make_opt(lr=LR):
    return SGD({"w": B.to_device(np.zeros(3), np.float64)}, lr=lr)


def torch_opt(torch, lr=LR):
    return torch.optim.SGD([torch.zeros(3, dtype=torch.float64, requires_grad=True)], lr=lr)


def lrs_of(opt, schedule, steps):
    """The lr each of ``steps`` updates would use (step() after each update, as in training)."""
    out = []
    for _ in range(steps):
        out.append(opt.lr)
        schedule.step()
    return out


def torch_lrs(topt, tsched, steps):
    out = []
    for _ in range(steps):
        out.append(topt.param_groups[0]["lr"])
        topt.step()
        tsched.step()
    return out


def test_step_lr_matches_torch():
    torch = pytest.importorskip("torch")
    opt = make_opt()
    topt = torch_opt(torch)
    ours = lrs_of(opt, StepLR(opt, step_size=4, gamma=0.3), 30)
    theirs = torch_lrs(topt, torch.optim.lr_scheduler.StepLR(topt, step_size=4, gamma=0.3), 30)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    assert ours[0] == LR and ours[4] == pytest.approx(LR * 0.3)


def test_cosine_matches_torch_cosine_annealing_then_stays_at_min_lr():
    torch = pytest.importorskip("torch")
    total, min_lr = 25, 0.003
    opt = make_opt()
    topt = torch_opt(torch)
    ours = lrs_of(opt, CosineLR(opt, total_steps=total, min_lr=min_lr), total + 1)
    theirs = torch_lrs(topt, torch.optim.lr_scheduler.CosineAnnealingLR(topt, T_max=total, eta_min=min_lr),
                       total + 1)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10)
    assert ours[-1] == pytest.approx(min_lr)
    sched = CosineLR(make_opt(), total_steps=total, min_lr=min_lr)
    assert sched.lr_at(total + 7) == min_lr  # torch's would climb back up; ours stays


def test_linear_warmup_matches_torch_linear_lr():
    torch = pytest.importorskip("torch")
    warmup = 5
    opt = make_opt()
    topt = torch_opt(torch)
    ours = lrs_of(opt, LinearWarmup(opt, warmup_steps=warmup), 12)
    tsched = torch.optim.lr_scheduler.LinearLR(topt, start_factor=1 / warmup, end_factor=1.0,
                                               total_iters=warmup - 1)
    np.testing.assert_allclose(ours, torch_lrs(topt, tsched, 12), rtol=1e-12)
    assert ours[0] == pytest.approx(LR / warmup) and ours[warmup - 1] == pytest.approx(LR)
    assert ours[warmup:] == [LR] * (12 - warmup)


def test_warmup_then_cosine_matches_torch_sequential_lr():
    torch = pytest.importorskip("torch")
    warmup, total, min_lr = 4, 10, 0.01
    opt = make_opt()
    sched = LinearWarmup(opt, warmup, after=CosineLR(opt, total_steps=total, min_lr=min_lr))
    ours = lrs_of(opt, sched, warmup + total + 3)
    topt = torch_opt(torch)
    lr_sched = torch.optim.lr_scheduler
    tsched = lr_sched.SequentialLR(topt, [
        lr_sched.LinearLR(topt, start_factor=1 / warmup, total_iters=warmup - 1),
        lr_sched.CosineAnnealingLR(topt, T_max=total, eta_min=min_lr),
    ], milestones=[warmup])
    theirs = torch_lrs(topt, tsched, warmup + total + 1)
    np.testing.assert_allclose(ours[: warmup + total + 1], theirs, rtol=1e-10)
    assert ours[warmup] == pytest.approx(LR) and ours[-1] == pytest.approx(min_lr)


METRICS = [5.0, 4.0, 4.0, 3.9999, 4.1, 4.2, 3.0, 3.0, 3.0, 3.0, 2.0, float("nan"), 2.0, 2.0, 2.0,
           2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0]


@pytest.mark.parametrize("mode, flip", [("min", lambda m: m), ("max", lambda m: 10.0 - m)],
                         ids=["min", "max"])
@pytest.mark.parametrize("patience", [0, 2])
def test_reduce_on_plateau_matches_torch(mode, flip, patience):
    torch = pytest.importorskip("torch")
    kwargs = dict(factor=0.5, patience=patience, mode=mode, threshold=1e-4, min_lr=0.01)
    opt = make_opt()
    sched = ReduceOnPlateau(opt, **kwargs)
    topt = torch_opt(torch)
    tsched = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kwargs)
    ours, theirs = [], []
    for m in METRICS:
        sched.step(flip(m))
        tsched.step(flip(m))
        ours.append(opt.lr)
        theirs.append(topt.param_groups[0]["lr"])
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    assert min(ours) == 0.01 and ours[0] == LR, "the sequence must reach min_lr"


def test_reduce_on_plateau_reads_a_device_scalar(backend):
    opt = make_opt()
    sched = ReduceOnPlateau(opt, patience=0)
    sched.step(B.to_device(np.array(2.0)))
    sched.step(B.to_device(np.array(3.0)))
    assert sched.best == 2.0 and opt.lr == LR / 2


def test_plateau_after_warmup_does_not_cut_the_ramp_short():
    opt = make_opt()
    plateau = ReduceOnPlateau(opt, patience=0)
    sched = LinearWarmup(opt, warmup_steps=4, after=plateau)
    sched.step()
    plateau.step(1.0)
    assert opt.lr == pytest.approx(LR * 2 / 4), "a validation during warm-up keeps the ramp"
    plateau.step(2.0)  # worse: the plateau's own lr halves, the ramp still rules
    assert opt.lr == pytest.approx(LR * 2 / 4) and plateau.lr == LR / 2
    for _ in range(3):
        sched.step()
    assert opt.lr == LR / 2, "after warm-up the plateau's lr takes over"
    plateau.step(3.0)
    assert opt.lr == LR / 4


def make_schedules(opt):
    return {
        "step": lambda: StepLR(opt, step_size=3, gamma=0.5),
        "cosine": lambda: CosineLR(opt, total_steps=12, min_lr=0.001),
        "warmup": lambda: LinearWarmup(opt, 4),
        "warmup-cosine": lambda: LinearWarmup(opt, 4, after=CosineLR(opt, total_steps=8)),
        "warmup-step": lambda: LinearWarmup(opt, 3, after=StepLR(opt, step_size=2, gamma=0.1)),
    }


@pytest.mark.parametrize("kind", list(make_schedules(None)))
def test_state_round_trip_through_json_resumes_exactly(kind):
    opt = make_opt()
    sched = make_schedules(opt)[kind]()
    lrs_of(opt, sched, 6)
    state = json.loads(json.dumps(sched.state_dict()))
    fresh_opt = make_opt()
    fresh = make_schedules(fresh_opt)[kind]()
    fresh.load_state_dict(state)
    assert fresh_opt.lr == opt.lr
    assert lrs_of(fresh_opt, fresh, 10) == lrs_of(opt, sched, 10)


def test_plateau_state_round_trip_through_json():
    opt = make_opt()
    sched = ReduceOnPlateau(opt, patience=1)
    for m in (3.0, 3.5, 3.6, 2.0, 2.5):
        sched.step(m)
    state = json.loads(json.dumps(sched.state_dict(), allow_nan=False))
    fresh_opt = make_opt()
    fresh = ReduceOnPlateau(fresh_opt, patience=1)
    fresh.load_state_dict(state)
    assert (fresh.best, fresh.bad_steps, fresh_opt.lr) == (2.0, 1, LR / 2)
    for m in (2.6, 1.0, 1.5, 1.6):
        sched.step(m)
        fresh.step(m)
        assert fresh_opt.lr == opt.lr
    assert math.isclose(opt.lr, LR / 8)


def test_fresh_plateau_state_is_strict_json():
    state = ReduceOnPlateau(make_opt()).state_dict()
    assert json.loads(json.dumps(state, allow_nan=False))["best"] is None


def test_state_of_another_schedule_is_refused():
    opt = make_opt()
    with pytest.raises(CheckpointError, match="schedule state is for 'StepLR', not CosineLR"):
        CosineLR(opt, total_steps=5).load_state_dict(StepLR(opt, 2, 0.5).state_dict())
    with pytest.raises(CheckpointError, match="disagree on whether a schedule follows"):
        LinearWarmup(opt, 2).load_state_dict(LinearWarmup(opt, 2, after=StepLR(opt, 2, 0.5)).state_dict())


@pytest.mark.parametrize("make", [
    lambda o: StepLR(o, step_size=0, gamma=0.5),
    lambda o: CosineLR(o, total_steps=0),
    lambda o: LinearWarmup(o, warmup_steps=-1),
    lambda o: ReduceOnPlateau(o, factor=1.0),
    lambda o: ReduceOnPlateau(o, mode="lowest"),
])
def test_bad_settings_are_refused(make):
    with pytest.raises(ValueError):
        make(make_opt())


def test_inverse_sqrt_warmup_is_the_papers_closed_form():
    """eq. 13.7 with lr0 = (d warmup)^-1/2 is Vaswani et al.'s d^-1/2 min(s^-1/2, s warmup^-3/2)."""
    d, warmup = 512, 40
    opt = make_opt(lr=(d * warmup) ** -0.5)
    ours = lrs_of(opt, InverseSqrtWarmup(opt, warmup), 200)
    paper = [d ** -0.5 * min(s ** -0.5, s * warmup ** -1.5) for s in range(1, 201)]
    np.testing.assert_allclose(ours, paper, rtol=1e-12)
    assert int(np.argmax(ours)) == warmup - 1  # the peak is the warmup-th update


def test_inverse_sqrt_warmup_matches_a_torch_lambda_lr():
    torch = pytest.importorskip("torch")
    warmup = 7
    opt = make_opt()
    ours = lrs_of(opt, InverseSqrtWarmup(opt, warmup), 40)
    topt = torch_opt(torch)
    tsched = torch.optim.lr_scheduler.LambdaLR(topt, lambda e: min((e + 1) / warmup, math.sqrt(warmup / (e + 1))))
    np.testing.assert_allclose(ours, torch_lrs(topt, tsched, 40), rtol=1e-12)


def test_inverse_sqrt_warmup_resumes_from_its_state():
    opt = make_opt()
    sched = InverseSqrtWarmup(opt, 5)
    for _ in range(9):
        sched.step()
    opt2 = make_opt()
    again = InverseSqrtWarmup(opt2, 5)
    again.load_state_dict(json.loads(json.dumps(sched.state_dict())))
    assert opt2.lr == opt.lr and lrs_of(opt2, again, 3) == lrs_of(opt, sched, 3)
    with pytest.raises(ValueError, match="warmup_steps"):
        InverseSqrtWarmup(make_opt(), 0)
