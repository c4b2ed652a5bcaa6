"""Centred finite differences in float64 for checking hand-written backward passes (cs231n's and llm.c's recipe).

``f`` is a function of no arguments returning a scalar that reads the arrays being checked; the helpers
perturb those arrays *in place* and restore them. For a layer, make the scalar ``(out * dout).sum()``
with a random ``dout`` (llm.c's trick): its gradient with respect to ``out`` is ``dout``, so the layer's
backward pass, fed ``dout``, must return the gradient of that scalar.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def dot_loss(out: np.ndarray, dout: np.ndarray) -> float:
    """The scalar ``(out * dout).sum()`` whose gradient with respect to ``out`` is ``dout``."""
    return float(np.sum(out * dout))


def rel_error(a, b) -> float:
    """Relative error ``|a - b| / (|a| + |b|)`` in the 2-norm (0 when both are 0)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if denom == 0.0 else float(np.linalg.norm(a - b) / denom)


def _central(f: Callable[[], float], x: np.ndarray, i: int, step: np.ndarray | float, eps: float) -> float:
    flat = x.reshape(-1)
    old = flat.copy() if isinstance(step, np.ndarray) else flat[i]
    if isinstance(step, np.ndarray):
        flat += eps * step
        fp = f()
        flat[...] = old - eps * step
        fm = f()
        flat[...] = old
    else:
        flat[i] = old + eps
        fp = f()
        flat[i] = old - eps
        fm = f()
        flat[i] = old
    return (fp - fm) / (2.0 * eps)


def numeric_grad(
    f: Callable[[], float], x: np.ndarray, *, eps: float = 1e-6, indices: np.ndarray | None = None
) -> np.ndarray:
    """Centred-difference gradient of ``f`` with respect to the entries ``indices`` of ``x`` (all by default).

    Returns a flat array with one derivative per index.
    """
    if x.dtype != np.float64:
        raise TypeError(f"finite differences need float64, got {x.dtype}")
    if not x.flags.c_contiguous:
        raise ValueError("x must be C-contiguous (it is perturbed through a flat view)")
    idx = np.arange(x.size) if indices is None else np.asarray(indices)
    return np.array([_central(f, x, int(i), 1.0, eps) for i in idx])


def check_grad(
    f: Callable[[], float],
    x: np.ndarray,
    analytic: np.ndarray,
    name: str,
    *,
    eps: float = 1e-6,
    tol: float = 1e-6,
    max_entries: int | None = None,
    n_directions: int = 2,
    seed: int = 0,
) -> float:
    """Assert that ``analytic`` is the gradient of ``f`` with respect to ``x``; return the worst relative error.

    Checks every entry (or ``max_entries`` random ones) by centred differences, plus ``n_directions``
    random directional derivatives ``<grad, u>``, which involve every entry at once.
    """
    analytic = np.asarray(analytic)
    assert analytic.shape == x.shape, f"{name}: gradient shape {analytic.shape} != parameter shape {x.shape}"
    rng = np.random.default_rng(seed)
    if max_entries is None or x.size <= max_entries:
        indices = np.arange(x.size)
    else:
        indices = np.sort(rng.choice(x.size, size=max_entries, replace=False))
    num = numeric_grad(f, x, eps=eps, indices=indices)
    ana = analytic.reshape(-1)[indices].astype(np.float64)
    err = rel_error(num, ana)
    if err > tol:
        rows = "\n".join(
            f"  [{i}] numeric {n: .10e}  analytic {a: .10e}"
            for i, n, a in zip(indices, num, ana, strict=True)
        )
        raise AssertionError(f"{name}: relative error {err:.3e} > {tol:.1e}\n{rows}")
    worst = err
    for _ in range(n_directions):
        u = rng.standard_normal(x.size)
        num_d = _central(f, x, -1, u, eps)
        ana_d = float(np.dot(analytic.reshape(-1).astype(np.float64), u))
        err_d = rel_error(num_d, ana_d)
        if err_d > tol:
            raise AssertionError(
                f"{name}: directional derivative relative error {err_d:.3e} > {tol:.1e} "
                f"(numeric {num_d:.10e}, analytic {ana_d:.10e})"
            )
        worst = max(worst, err_d)
    return worst
