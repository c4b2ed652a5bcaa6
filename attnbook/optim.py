"""Optimisers for a flat dict of parameters: Adam (Kingma & Ba 2015), AdamW (Loshchilov & Hutter 2019),
gradient clipping and the linear warm-up + cosine learning-rate schedule."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np

from ._checks import as_float_array, check_int, check_real

__all__ = ["Adam", "AdamW", "clip_grad_norm", "global_norm", "lr_schedule"]


def _check_params(name: str, params) -> dict[str, np.ndarray]:
    if not isinstance(params, Mapping) or not params:
        raise TypeError(f"{name} must be a non-empty dict of name -> float array")
    for k, p in params.items():
        if not isinstance(k, str):
            raise TypeError(f"{name} keys must be str, got {type(k).__name__}")
        as_float_array(f"{name}[{k!r}]", p, finite=False)
    return params


def _default_decay(name: str, p: np.ndarray) -> bool:
    # nanoGPT's rule: decay matrices (linear weights, embeddings), not biases or norm gains.
    return p.ndim >= 2


class Adam:
    """Adam with optional L2 penalty, updating the parameter arrays in place.

    The moment estimates live in preallocated buffers (``m[name]``, ``v[name]`` are views of them), and
    a step works in preallocated scratch space. The update is PyTorch's ``torch.optim.Adam`` (same bias
    correction and epsilon placement).

    Parameters
    ----------
    params : dict[str, ndarray]
        The parameters to update (float32 or float64); the optimiser keeps references to these arrays.
    lr : float
        Default learning rate (``step`` may override it, e.g. from :func:`lr_schedule`).
    betas : tuple of float
        Decay rates of the first and second moment estimates.
    eps : float
        Added to the denominator, after the square root.
    weight_decay : float
        L2 penalty added to the gradient (``g + weight_decay * p``), as in ``torch.optim.Adam``.
    """

    _decoupled = False

    def __init__(
        self,
        params: Mapping[str, np.ndarray],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        decay_filter: Callable[[str, np.ndarray], bool] | None = None,
    ):
        self.params = _check_params("params", params)
        self.lr = check_real("lr", lr, low=0.0)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"betas must be a pair of floats, got {betas!r}")
        self.beta1 = check_real("betas[0]", betas[0], low=0.0, high=1.0)
        self.beta2 = check_real("betas[1]", betas[1], low=0.0, high=1.0)
        if self.beta1 >= 1.0 or self.beta2 >= 1.0:
            raise ValueError(f"betas must be < 1, got {tuple(betas)}")
        self.eps = check_real("eps", eps, low=0.0)
        self.weight_decay = check_real("weight_decay", weight_decay, low=0.0)
        rule = _default_decay if decay_filter is None else decay_filter
        if not callable(rule):
            raise TypeError("decay_filter must be a callable (name, array) -> bool")
        self.decays = {k: bool(rule(k, p)) for k, p in self.params.items()}
        self.t = 0
        # The moments and the scratch space are flat buffers, one per dtype, so the arithmetic of a step
        # is a dozen ufunc calls over all parameters at once rather than a dozen per parameter (which
        # dominates for small models). self.m / self.v expose per-parameter views of them.
        self._groups = []
        for dt in dict.fromkeys(p.dtype for p in self.params.values()):
            keys = [k for k, p in self.params.items() if p.dtype == dt]
            sizes = [self.params[k].size for k in keys]
            offsets = np.concatenate([[0], np.cumsum(sizes)]).tolist()
            n = offsets[-1]
            bufs = {name: np.zeros(n, dtype=dt) for name in ("m", "v", "g", "buf")}
            slices = {k: slice(offsets[i], offsets[i + 1]) for i, k in enumerate(keys)}
            self._groups.append((keys, slices, bufs))
        self.m, self.v = {}, {}
        for keys, slices, bufs in self._groups:
            for k in keys:
                self.m[k] = bufs["m"][slices[k]].reshape(self.params[k].shape)
                self.v[k] = bufs["v"][slices[k]].reshape(self.params[k].shape)

    def _check_grads(self, grads) -> None:
        if not isinstance(grads, Mapping):
            raise TypeError(f"grads must be a dict, got {type(grads).__name__}")
        if set(grads) != set(self.params):
            missing = sorted(set(self.params) - set(grads))
            extra = sorted(set(grads) - set(self.params))
            raise ValueError(f"grads keys differ from params: missing {missing}, unexpected {extra}")
        for k, g in grads.items():
            if not isinstance(g, np.ndarray) or g.shape != self.params[k].shape:
                shape = getattr(g, "shape", None)
                raise ValueError(f"grads[{k!r}] must have shape {self.params[k].shape}, got {shape}")

    def step(self, grads: Mapping[str, np.ndarray], lr: float | None = None) -> None:
        """Apply one update in place to the parameters given at construction.

        Parameters
        ----------
        grads : dict[str, ndarray]
            Gradients with the same keys and shapes as the parameters (left unchanged).
        lr : float, optional
            Learning rate for this step; defaults to the constructor's ``lr``.
        """
        self._check_grads(grads)
        lr = self.lr if lr is None else check_real("lr", lr, low=0.0)
        self.t += 1
        b1, b2, eps, wd = self.beta1, self.beta2, self.eps, self.weight_decay
        # Python floats keep float32 arrays float32 (NumPy 2 treats them as weak scalars).
        step_size = lr / (1.0 - b1**self.t)
        inv_sqrt_bc2 = 1.0 / math.sqrt(1.0 - b2**self.t)
        for keys, slices, bufs in self._groups:
            m, v, g, buf = bufs["m"], bufs["v"], bufs["g"], bufs["buf"]
            np.concatenate([grads[k].reshape(-1) for k in keys], out=g)  # our own copy of the gradients
            if wd and not self._decoupled:
                for k in keys:  # Adam's L2 penalty: g + wd * p
                    if self.decays[k]:
                        np.multiply(self.params[k].reshape(-1), wd, out=buf[slices[k]])
                        g[slices[k]] += buf[slices[k]]
            m *= b1
            np.multiply(g, 1.0 - b1, out=buf)
            m += buf  # m = b1 m + (1 - b1) g
            v *= b2
            np.multiply(g, g, out=buf)
            buf *= 1.0 - b2
            v += buf  # v = b2 v + (1 - b2) g^2
            np.sqrt(v, out=buf)
            buf *= inv_sqrt_bc2
            buf += eps
            np.divide(m, buf, out=buf)
            buf *= step_size  # the update lr / bc1 * m / (sqrt(v / bc2) + eps), for every parameter
            for k in keys:
                p = self.params[k]
                if wd and self._decoupled and self.decays[k]:
                    p *= 1.0 - lr * wd  # AdamW: shrink the weights, independent of the gradient scale
                p -= buf[slices[k]].reshape(p.shape)

    def state_dict(self) -> dict[str, np.ndarray]:
        """Flat arrays for a checkpoint: ``"t"`` (step count) and ``"m.<name>"``, ``"v.<name>"``."""
        out = {"t": np.array(self.t, dtype=np.int64)}
        for k in self.params:
            out[f"m.{k}"] = self.m[k].copy()
            out[f"v.{k}"] = self.v[k].copy()
        return out

    def load_state_dict(self, state: Mapping[str, np.ndarray]) -> None:
        """Restore :meth:`state_dict` output; every key and shape is checked before anything is copied."""
        if not isinstance(state, Mapping):
            raise TypeError(f"state must be a dict, got {type(state).__name__}")
        expected = {"t"} | {f"{s}.{k}" for k in self.params for s in ("m", "v")}
        if set(state) != expected:
            missing = sorted(expected - set(state))
            extra = sorted(set(state) - expected)
            raise ValueError(
                f"optimizer state does not match the parameters: missing {missing}, unexpected {extra}"
            )
        t = np.asarray(state["t"])
        if t.shape != () or not np.issubdtype(t.dtype, np.integer) or int(t) < 0:
            raise ValueError(f"optimizer state 't' must be a non-negative integer scalar, got {t!r}")
        for k, p in self.params.items():
            for s in ("m", "v"):
                a = state[f"{s}.{k}"]
                if not isinstance(a, np.ndarray) or a.shape != p.shape:
                    raise ValueError(
                        f"optimizer state {s}.{k} must have shape {p.shape}, got {getattr(a, 'shape', None)}"
                    )
        for k in self.params:
            np.copyto(self.m[k], state[f"m.{k}"])
            np.copyto(self.v[k], state[f"v.{k}"])
        self.t = int(t)


class AdamW(Adam):
    """Adam with decoupled weight decay (``p *= 1 - lr * weight_decay`` before the Adam step).

    As in ``torch.optim.AdamW``. By default only parameters with two or more dimensions (weight matrices
    and embeddings) are decayed, nanoGPT's rule; pass ``decay_filter=lambda name, p: True`` to decay all.
    """

    _decoupled = True

    def __init__(
        self,
        params: Mapping[str, np.ndarray],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.01,
        decay_filter: Callable[[str, np.ndarray], bool] | None = None,
    ):
        super().__init__(params, lr, betas, eps, weight_decay, decay_filter)


def global_norm(grads: Mapping[str, np.ndarray]) -> float:
    """The L2 norm of all gradients taken together, as a Python float."""
    total = 0.0
    for g in grads.values():
        flat = g.reshape(-1)
        total += float(np.dot(flat, flat))  # one BLAS call per array
    return math.sqrt(total)


def clip_grad_norm(grads: Mapping[str, np.ndarray], max_norm: float) -> float:
    """Scale all gradients in place so their global L2 norm is at most ``max_norm``.

    Same rule as ``torch.nn.utils.clip_grad_norm_``: multiply by ``max_norm / (norm + 1e-6)`` when that
    is below 1. A non-finite norm leaves the gradients untouched (the caller decides what to do).

    Returns
    -------
    total_norm : float
        The norm before clipping.
    """
    if not isinstance(grads, Mapping):
        raise TypeError(f"grads must be a dict, got {type(grads).__name__}")
    max_norm = check_real("max_norm", max_norm, low=0.0, low_inclusive=False)
    total = global_norm(grads)
    coef = max_norm / (total + 1e-6)
    if math.isfinite(total) and coef < 1.0:
        for g in grads.values():
            g *= coef
    return total


def lr_schedule(step: int, max_lr: float, warmup_steps: int, total_steps: int, min_lr: float = 0.0) -> float:
    """Learning rate at ``step`` (0-based): linear warm-up to ``max_lr``, then cosine decay to ``min_lr``.

    During warm-up the rate is ``max_lr * (step + 1) / warmup_steps``, reaching ``max_lr`` at step
    ``warmup_steps - 1``; from ``warmup_steps`` to ``total_steps`` it follows half a cosine from
    ``max_lr`` down to ``min_lr``, and stays at ``min_lr`` afterwards. ``min_lr == max_lr`` gives a
    constant rate after warm-up.
    """
    step = check_int("step", step, low=0)
    max_lr = check_real("max_lr", max_lr, low=0.0)
    warmup_steps = check_int("warmup_steps", warmup_steps, low=0)
    total_steps = check_int("total_steps", total_steps, low=1)
    min_lr = check_real("min_lr", min_lr, low=0.0, high=max_lr)
    if step < warmup_steps:
        return max_lr * (step + 1) / warmup_steps
    if step >= total_steps:
        return min_lr
    ratio = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    # written from max_lr downwards so the first step after warm-up is exactly max_lr
    return max_lr - 0.5 * (1.0 - math.cos(math.pi * ratio)) * (max_lr - min_lr)
