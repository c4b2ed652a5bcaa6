"""LayerNorm (Ba et al. 2016) and RMSNorm (Zhang & Sennrich 2019) over the last axis, with backward passes."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from attnbook._checks import as_float_array, check_real
from attnbook.layers._common import check_dout, colsum, filled, optional_vector

__all__ = [
    "NormCache",
    "layernorm_backward",
    "layernorm_forward",
    "rmsnorm_backward",
    "rmsnorm_forward",
]


class NormCache(NamedTuple):
    """Saved by either norm: the normalised input and the reciprocal of its scale."""

    xhat: np.ndarray  # (N, C), normalised input (before the gain)
    rstd: np.ndarray  # (N, 1), 1 / sqrt(var + eps) (LayerNorm) or 1 / sqrt(mean(x²) + eps) (RMSNorm)
    w: np.ndarray  # (C,), gain
    has_bias: bool
    shape: tuple[int, ...]  # the input's original shape


def _layernorm_forward(x2: np.ndarray, w: np.ndarray, b: np.ndarray | None, eps: float):
    inv_c = filled(x2.shape[1], 1.0 / x2.shape[1], x2.dtype)  # (C,); row means as BLAS mat-vec products
    xhat = x2 - (x2 @ inv_c)[:, None]  # (N, C), centred
    var = np.square(xhat) @ inv_c  # (N,), biased variance as in the paper
    var += eps  # eps is a Python float: NumPy keeps the array's dtype
    rstd = np.sqrt(var, out=var)
    np.reciprocal(rstd, out=rstd)
    rstd = rstd[:, None]  # (N, 1)
    xhat *= rstd
    out = xhat * w
    if b is not None:
        out += b
    return out, xhat, rstd


def _layernorm_backward(dout2: np.ndarray, xhat: np.ndarray, rstd: np.ndarray, w: np.ndarray, has_bias: bool):
    tmp = dout2 * xhat  # (N, C)
    dw = colsum(tmp)  # (C,)
    db = colsum(dout2) if has_bias else None  # (C,)
    # dx = rstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat)) with dxhat = dout w: the two means come
    # from differentiating through the row mean and the row variance. Folding w into the mat-vec
    # vector gives both means without forming dxhat first.
    w_c = w * (1.0 / w.shape[0])  # (C,)
    mean_d = dout2 @ w_c  # (N,)
    mean_dx = tmp @ w_c  # (N,)
    dx = dout2 * w
    dx -= mean_d[:, None]
    np.multiply(xhat, mean_dx[:, None], out=tmp)
    dx -= tmp
    dx *= rstd
    return dx, dw, db


def _rmsnorm_forward(x2: np.ndarray, w: np.ndarray, eps: float):
    inv_c = filled(x2.shape[1], 1.0 / x2.shape[1], x2.dtype)
    ms = np.square(x2) @ inv_c  # (N,), mean square
    ms += eps
    rstd = np.sqrt(ms, out=ms)
    np.reciprocal(rstd, out=rstd)
    rstd = rstd[:, None]  # (N, 1)
    xhat = x2 * rstd  # (N, C)
    return xhat * w, xhat, rstd


def _rmsnorm_backward(dout2: np.ndarray, xhat: np.ndarray, rstd: np.ndarray, w: np.ndarray):
    tmp = dout2 * xhat  # (N, C)
    dw = colsum(tmp)  # (C,)
    # No centring, so only the scale's derivative remains: dx = rstd (dxhat - xhat mean(dxhat xhat)).
    mean_dx = tmp @ (w * (1.0 / w.shape[0]))  # (N,)
    dx = dout2 * w
    np.multiply(xhat, mean_dx[:, None], out=tmp)
    dx -= tmp
    dx *= rstd
    return dx, dw


def _check_inputs(x, w, eps):
    x = as_float_array("x", x, min_ndim=1)
    w = optional_vector("w", w, x.shape[-1], x.dtype)
    if w is None:
        raise TypeError("w must be a NumPy float array, got NoneType")
    eps = check_real("eps", eps, low=0.0, low_inclusive=False)
    return x, w, eps


def layernorm_forward(x, w, b=None, eps: float = 1e-5) -> tuple[np.ndarray, NormCache]:
    """Layer normalisation of the last axis: ``(x - mean) / sqrt(var + eps) * w + b``.

    Parameters
    ----------
    x : ndarray, shape (..., C)
    w : ndarray, shape (C,)
        Gain.
    b : ndarray, shape (C,), optional
        Shift (omitted in models built with ``bias=False``).
    eps : float, optional
        Added to the variance, > 0.

    Returns
    -------
    out : ndarray, shape (..., C)
    cache : NormCache
    """
    x, w, eps = _check_inputs(x, w, eps)
    b = optional_vector("b", b, x.shape[-1], x.dtype)
    out, xhat, rstd = _layernorm_forward(x.reshape(-1, x.shape[-1]), w, b, eps)
    return out.reshape(x.shape), NormCache(xhat, rstd, w, b is not None, x.shape)


def layernorm_backward(dout, cache: NormCache) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Gradients of :func:`layernorm_forward`.

    Parameters
    ----------
    dout : ndarray, shape (..., C)
    cache : NormCache

    Returns
    -------
    dx : ndarray, shape (..., C)
    dw : ndarray, shape (C,)
    db : ndarray, shape (C,), or None without bias
    """
    dout = check_dout(dout, cache.shape, cache.w.dtype)
    dx, dw, db = _layernorm_backward(
        dout.reshape(cache.xhat.shape), cache.xhat, cache.rstd, cache.w, cache.has_bias
    )
    return dx.reshape(cache.shape), dw, db


def rmsnorm_forward(x, w, eps: float = 1e-5) -> tuple[np.ndarray, NormCache]:
    """Root-mean-square normalisation of the last axis: ``x / sqrt(mean(x²) + eps) * w``.

    Parameters
    ----------
    x : ndarray, shape (..., C)
    w : ndarray, shape (C,)
        Gain.
    eps : float, optional
        Added to the mean square, > 0.

    Returns
    -------
    out : ndarray, shape (..., C)
    cache : NormCache
    """
    x, w, eps = _check_inputs(x, w, eps)
    out, xhat, rstd = _rmsnorm_forward(x.reshape(-1, x.shape[-1]), w, eps)
    return out.reshape(x.shape), NormCache(xhat, rstd, w, False, x.shape)


def rmsnorm_backward(dout, cache: NormCache) -> tuple[np.ndarray, np.ndarray]:
    """Gradients of :func:`rmsnorm_forward`.

    Parameters
    ----------
    dout : ndarray, shape (..., C)
    cache : NormCache

    Returns
    -------
    dx : ndarray, shape (..., C)
    dw : ndarray, shape (C,)
    """
    dout = check_dout(dout, cache.shape, cache.w.dtype)
    dx, dw = _rmsnorm_backward(dout.reshape(cache.xhat.shape), cache.xhat, cache.rstd, cache.w)
    return dx.reshape(cache.shape), dw
