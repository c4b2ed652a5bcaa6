"""LayerNorm (Ba et al. 2016) and RMSNorm (Zhang & Sennrich 2019) over the last axis, with backward passes."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from attnbook._checks import as_float_array, check_real
from attnbook.layers._common import check_dout, colsum, filled, optional_vector, row_chunks

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
    N, C = x2.shape
    inv_c = filled(C, 1.0 / C, x2.dtype)  # (C,); row means as BLAS mat-vec products
    xhat, out = np.empty_like(x2), np.empty_like(x2)  # (N, C)
    rstd = np.empty((N, 1), dtype=x2.dtype)
    starts, step = row_chunks(N, C)
    for i in starts:  # a block of rows at a time, so the five passes below run in cache
        x, xh, o, r = x2[i : i + step], xhat[i : i + step], out[i : i + step], rstd[i : i + step, 0]
        np.subtract(x, (x @ inv_c)[:, None], out=xh)  # centred
        np.square(xh, out=o)
        np.matmul(o, inv_c, out=r)  # biased variance, as in the paper
        r += eps  # eps is a Python float: NumPy keeps the array's dtype
        np.sqrt(r, out=r)
        np.reciprocal(r, out=r)
        xh *= r[:, None]
        np.multiply(xh, w, out=o)
        if b is not None:
            o += b
    return out, xhat, rstd


def _layernorm_backward(dout2: np.ndarray, xhat: np.ndarray, rstd: np.ndarray, w: np.ndarray, has_bias: bool):
    # dx = rstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat)) with dxhat = dout w: the two means come
    # from differentiating through the row mean and the row variance. Folding w into the mat-vec
    # vector gives both means without forming dxhat first.
    N, C = dout2.shape
    w_c = w * (1.0 / C)  # (C,)
    dx = np.empty_like(dout2)  # (N, C)
    dw = np.zeros(C, dtype=dout2.dtype)
    starts, step = row_chunks(N, C)
    buf = np.empty((min(step, N), C), dtype=dout2.dtype)
    for i in starts:
        d, xh, g, r = dout2[i : i + step], xhat[i : i + step], dx[i : i + step], rstd[i : i + step]
        t = buf[: d.shape[0]]
        np.multiply(d, xh, out=t)  # dout * xhat
        dw += colsum(t)
        mean_dx = t @ w_c  # (rows,), mean(dxhat * xhat)
        np.multiply(d, w, out=g)  # dxhat
        g -= (d @ w_c)[:, None]  # minus mean(dxhat)
        np.multiply(xh, mean_dx[:, None], out=t)
        g -= t
        g *= r
    db = colsum(dout2) if has_bias else None  # (C,)
    return dx, dw, db


def _rmsnorm_forward(x2: np.ndarray, w: np.ndarray, eps: float):
    N, C = x2.shape
    inv_c = filled(C, 1.0 / C, x2.dtype)
    xhat, out = np.empty_like(x2), np.empty_like(x2)  # (N, C)
    rstd = np.empty((N, 1), dtype=x2.dtype)
    starts, step = row_chunks(N, C)
    for i in starts:
        x, xh, o, r = x2[i : i + step], xhat[i : i + step], out[i : i + step], rstd[i : i + step, 0]
        np.square(x, out=o)
        np.matmul(o, inv_c, out=r)  # mean square
        r += eps
        np.sqrt(r, out=r)
        np.reciprocal(r, out=r)
        np.multiply(x, r[:, None], out=xh)
        np.multiply(xh, w, out=o)
    return out, xhat, rstd


def _rmsnorm_backward(dout2: np.ndarray, xhat: np.ndarray, rstd: np.ndarray, w: np.ndarray):
    # No centring, so only the scale's derivative remains: dx = rstd (dxhat - xhat mean(dxhat xhat)).
    N, C = dout2.shape
    w_c = w * (1.0 / C)
    dx = np.empty_like(dout2)
    dw = np.zeros(C, dtype=dout2.dtype)
    starts, step = row_chunks(N, C)
    buf = np.empty((min(step, N), C), dtype=dout2.dtype)
    for i in starts:
        d, xh, g, r = dout2[i : i + step], xhat[i : i + step], dx[i : i + step], rstd[i : i + step]
        t = buf[: d.shape[0]]
        np.multiply(d, xh, out=t)
        dw += colsum(t)
        mean_dx = t @ w_c  # (rows,)
        np.multiply(d, w, out=g)
        np.multiply(xh, mean_dx[:, None], out=t)
        g -= t
        g *= r
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
