"""Optimizers written out by hand: SGD with momentum (lesson 06), Nesterov, Adam, AdamW (lesson 07).

A model keeps ``params: dict[str, array]`` and ``grads: dict[str, array]`` with the same keys
and shapes. An optimizer updates ``params`` *in place* -- the model and its layers hold
references to these arrays, so rebinding one would silently detach it from the model.

With parameter ``p``, gradient ``g``, learning rate ``lr`` and step count ``t = 1, 2, ...``::

    g <- g + wd * p                                      (eq. 7.1, L2 penalty wd/2 |p|^2)
    SGD         p <- p - lr * g                          (eq. 6.8)
    momentum    m <- mu * m + g,   p <- p - lr * m       (eq. 6.9; m is ``u`` here)
    Nesterov    m <- mu * m + g,   p <- p - lr * (g + mu * m)    (eq. 7.2)
    Adam        m <- b1 * m + (1 - b1) * g               (eq. 7.3, mean of g)
                nu <- b2 * nu + (1 - b2) * g^2           (eq. 7.4, mean of g^2; nu is ``v`` here)
                p <- p - lr / (1 - b1^t) * m / (sqrt(nu / (1 - b2^t)) + eps)
                                                         (eq. 7.5, bias-corrected step)
    AdamW       p <- (1 - lr * wd) * p, then Adam without eq. 7.1    (eq. 7.6, decoupled)

Adam's eq. 7.1 adds the decay to the gradient, so it is rescaled by ``1/sqrt(nu)`` like any
gradient and heavily-updated weights decay less; AdamW shrinks every weight by the same
factor instead (Loshchilov & Hutter). Both match ``torch.optim`` step for step, including
where the bias corrections and ``eps`` enter.

Speed: every update is a handful of element-wise passes with ``out=`` into preallocated
buffers -- no full-size temporaries per parameter, and no device->host synchronisation (the
bias corrections are Python floats computed from the integer step count).
"""

from __future__ import annotations

import math

from . import backend as B
from .errors import CheckpointError
from .shapes import ShapeError, expect

__all__ = ["Optimizer", "SGD", "Adam", "AdamW"]


class Optimizer:
    """Shared bookkeeping: the parameter dict, ``lr``, the step count ``t`` and scratch space.

    ``lr`` is a plain float that schedules overwrite between steps. Subclasses name their
    per-parameter buffers in :meth:`_buffers` (e.g. ``{"m": {...}, "v": {...}}``); the
    state dict is then ``{"step", "lr", "<buffer>/<param name>", ...}`` as host arrays, flat
    and ready for ``numpy.savez``.
    """

    _scratch_count = 1

    def __init__(self, params: dict, lr: float):
        if not isinstance(params, dict) or not params:
            raise ValueError("params must be a non-empty dict of name -> array (model.params)")
        for name, p in params.items():
            expect(f"params[{name!r}]", p, p.shape)  # a float array; shape is whatever it is
        _check_nonnegative(lr=lr)
        self.params = params
        self.lr = float(lr)
        self.t = 0  # optimizer steps taken so far
        # Scratch: one flat buffer per dtype as large as the largest parameter; each update
        # works in a view of it shaped like the parameter at hand.
        self._flat = {}
        for p in params.values():
            xp = B.get_array_module(p)
            bufs = self._flat.get(p.dtype)
            if bufs is None or bufs[0].size < p.size:
                self._flat[p.dtype] = [xp.empty(p.size, dtype=p.dtype) for _ in range(self._scratch_count)]

    # ----------------------------------------------------------------- subclass interface

    def _buffers(self) -> dict:
        return {}

    def _update(self, grads: dict) -> None:
        raise NotImplementedError

    # ----------------------------------------------------------------- public API

    def step(self, grads: dict) -> None:
        """Apply one update to every parameter from ``grads`` (same keys and shapes)."""
        if grads.keys() != self.params.keys():
            missing = sorted(self.params.keys() - grads.keys())
            extra = sorted(grads.keys() - self.params.keys())
            raise KeyError(
                f"grads must have exactly the parameter names; missing {missing[:5]}, unknown {extra[:5]}"
            )
        for name, p in self.params.items():
            g = grads[name]
            if g.shape != p.shape:
                raise ShapeError(f"grads[{name!r}]: expected shape {p.shape}, got {g.shape}")
        self.t += 1
        self._update(grads)

    def state_dict(self) -> dict:
        """Host copies of everything a resumed run needs: ``{"step", "lr", "m/<name>", ...}``."""
        state = {"step": B.host.asarray(self.t, dtype=B.host.int64),
                 "lr": B.host.asarray(self.lr, dtype=B.host.float64)}
        for kind, bufs in self._buffers().items():
            for name, buf in bufs.items():
                state[f"{kind}/{name}"] = B.to_host(buf).copy()
        return state

    def load_state_dict(self, state: dict) -> None:
        """Restore from :meth:`state_dict` output, copying into the existing device buffers."""
        expected = {"step", "lr"} | {
            f"{kind}/{name}" for kind, bufs in self._buffers().items() for name in bufs
        }
        missing, extra = sorted(expected - state.keys()), sorted(state.keys() - expected)
        if missing or extra:
            raise CheckpointError(
                f"optimizer state does not fit this {type(self).__name__} and model "
                f"(missing {missing[:3]}, unexpected {extra[:3]}); resume with the optimizer and "
                "model configuration it was saved with"
            )
        for kind, bufs in self._buffers().items():
            for name, buf in bufs.items():
                saved = state[f"{kind}/{name}"]
                if tuple(saved.shape) != buf.shape:
                    raise CheckpointError(
                        f"optimizer state {kind}/{name} has shape {tuple(saved.shape)}, the parameter "
                        f"has {buf.shape}; resume with the model configuration it was saved with"
                    )
                buf[...] = B.to_device_like(B.to_host(saved), buf)
        self.t = int(B.to_host(state["step"]))
        self.lr = float(B.to_host(state["lr"]))

    # ----------------------------------------------------------------- helpers

    def _zeros_like_params(self) -> dict:
        return {n: B.get_array_module(p).zeros_like(p) for n, p in self.params.items()}

    def _scratch(self, p, k: int = 0):
        """The k-th scratch buffer viewed with ``p``'s shape (no allocation)."""
        return self._flat[p.dtype][k][: p.size].reshape(p.shape)


def _check_nonnegative(**values) -> None:
    for name, v in values.items():
        if not (isinstance(v, (int, float)) and v >= 0):
            raise ValueError(f"{name} must be a number >= 0, got {v!r}")


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum and L2 weight decay.

    Matches ``torch.optim.SGD`` with ``dampening=0``: eq. 6.8-6.9 and 7.1-7.2 of the module docstring.
    """

    _scratch_count = 2

    def __init__(self, params: dict, lr: float, momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0):
        _check_nonnegative(momentum=momentum, weight_decay=weight_decay)
        if nesterov and momentum == 0:
            raise ValueError("nesterov=True needs momentum > 0")
        super().__init__(params, lr)
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)
        self.weight_decay = float(weight_decay)
        # u starts at zero; with dampening 0 the first step gives u = g, as torch's clone does.
        self.u = self._zeros_like_params() if self.momentum else {}

    def _buffers(self) -> dict:
        return {"momentum": self.u} if self.momentum else {}

    def _update(self, grads: dict) -> None:
        lr, mu, wd = self.lr, self.momentum, self.weight_decay
        xp = B.get_array_module(next(iter(self.params.values())))
        for name, p in self.params.items():
            d = grads[name]
            s0, s1 = self._scratch(p, 0), self._scratch(p, 1)
            if wd:
                xp.multiply(p, wd, out=s0)
                s0 += d  # eq. 7.1
                d = s0
            if mu:
                u = self.u[name]
                u *= mu
                u += d  # eq. 6.9
                if self.nesterov:
                    xp.multiply(u, mu, out=s1)
                    s1 += d  # eq. 7.2: look ahead along the velocity
                    d = s1
                else:
                    d = u
            xp.multiply(d, lr, out=s1)
            p -= s1  # eq. 6.8


class Adam(Optimizer):
    """Adam (Kingma & Ba) with L2 weight decay added to the gradient, as ``torch.optim.Adam``.

    eq. 7.1 (if weight_decay), 7.3-7.5. ``m`` and ``v`` are allocated once, next to the params.
    """

    _decoupled = False
    _scratch_count = 2

    def __init__(self, params: dict, lr: float = 1e-3, betas: tuple = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0):
        b1, b2 = betas
        if not (0 <= b1 < 1 and 0 <= b2 < 1):
            raise ValueError(f"betas must lie in [0, 1), got {tuple(betas)}")
        _check_nonnegative(eps=eps, weight_decay=weight_decay)
        super().__init__(params, lr)
        self.betas = (float(b1), float(b2))
        self.eps = float(eps)
        self.weight_decay = float(weight_decay)
        self.m = self._zeros_like_params()
        self.v = self._zeros_like_params()

    def _buffers(self) -> dict:
        return {"m": self.m, "v": self.v}

    def _update(self, grads: dict) -> None:
        lr, eps, wd = self.lr, self.eps, self.weight_decay
        b1, b2 = self.betas
        w = 1.0 - b1  # the weight of g in eq. 7.3
        step_size = lr / (1.0 - b1**self.t)  # eq. 7.5: m / (1 - b1^t) folded into the step
        bc2_sqrt = math.sqrt(1.0 - b2**self.t)
        xp = B.get_array_module(next(iter(self.params.values())))
        for name, p in self.params.items():
            g, m, v = grads[name], self.m[name], self.v[name]
            s = self._scratch(p, 0)
            if wd and self._decoupled:
                p *= 1.0 - lr * wd  # eq. 7.6: decay the weight, not the gradient
            elif wd:
                gd = self._scratch(p, 1)
                xp.multiply(p, wd, out=gd)
                gd += g  # eq. 7.1
                g = gd
            # eq. 7.3 as torch.lerp(m, g, w), w = 1 - b1: m + w (g - m) for w < 0.5, else
            # g - (1 - w)(g - m), which is exactly g at b1 = 0 (m + (g - m) loses g's low digits
            # when |m| >> |g|)
            xp.subtract(g, m, out=s)
            if w < 0.5:
                s *= w
                m += s
            else:
                s *= 1.0 - w
                xp.subtract(g, s, out=m)
            xp.multiply(g, g, out=s)  # eq. 7.4
            s *= 1.0 - b2
            v *= b2
            v += s
            xp.sqrt(v, out=s)  # eq. 7.5: denominator sqrt(v / (1 - b2^t)) + eps
            s /= bc2_sqrt
            s += eps
            xp.divide(m, s, out=s)
            s *= step_size
            p -= s


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), as ``torch.optim.AdamW``.

    eq. 7.6, then 7.3-7.5 on the raw gradient.
    """

    _decoupled = True
    _scratch_count = 1

    def __init__(self, params: dict, lr: float = 1e-3, betas: tuple = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
